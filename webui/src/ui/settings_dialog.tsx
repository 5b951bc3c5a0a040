// Settings: system prompt, sampling parameters, stop strings, API key and theme. An empty field
// means "server default" (shown as its placeholder, from /props) and is not sent.
import { useState } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import type { ServerInfo } from "../api/client";
import { empty_settings, settings_errors, type Settings } from "../api/request";
import type { Theme } from "../store/settings";
import { Modal } from "./modal";

interface Props {
  ctl: ChatController;
  open: boolean;
  on_close: () => void;
  info: ServerInfo | null;
  theme: Theme;
  set_theme: (t: Theme) => void;
}

const fields: { key: keyof Settings; label: string; hint: string }[] = [
  { key: "temperature", label: "Temperature", hint: "0 = greedy" },
  { key: "top_p", label: "Top-p", hint: "0-1" },
  { key: "top_k", label: "Top-k", hint: "0 = off" },
  { key: "min_p", label: "Min-p", hint: "0-1" },
  { key: "max_tokens", label: "Max tokens", hint: "per answer" },
  { key: "seed", label: "Seed", hint: "whole number" },
  { key: "repetition_penalty", label: "Repetition penalty", hint: "1 = off" },
  { key: "presence_penalty", label: "Presence penalty", hint: "-2 to 2" },
  { key: "frequency_penalty", label: "Frequency penalty", hint: "-2 to 2" },
];

function placeholder(info: ServerInfo | null, key: keyof Settings): string {
  const v = info?.defaults[key];
  if (typeof v === "number") return `server default: ${v}`;
  if (key === "max_tokens" && info?.n_ctx) return `server default (context ${info.n_ctx})`;
  return "server default";
}

export function SettingsDialog({ ctl, open, on_close, info, theme, set_theme }: Props) {
  return (
    <Modal open={open} label="Settings" class_name="settings-dialog" on_close={on_close}>
      <SettingsForm ctl={ctl} on_close={on_close} info={info} theme={theme} set_theme={set_theme} open={open} />
    </Modal>
  );
}

function SettingsForm({ ctl, on_close, info, theme, set_theme }: Props) {
  const [s, set_s] = useState<Settings>(ctl.state.settings);
  const [key, set_key] = useState(ctl.state.api_key);
  const errors = settings_errors(s);
  const bad = Object.keys(errors).length > 0;
  const upd = (k: keyof Settings, v: string) => set_s({ ...s, [k]: v });
  const save = () => {
    if (bad) return;
    ctl.set_settings(s);
    if (key !== ctl.state.api_key) ctl.set_api_key(key);
    on_close();
  };
  return (
    <div class="settings">
      <h2>Settings</h2>
      <p class="muted">Empty fields use the server's defaults and are not sent. Settings stay in this browser.</p>
      <label class="field wide">
        <span>System prompt</span>
        <textarea rows={3} value={s.system_prompt} placeholder="none" onInput={(e) => upd("system_prompt", e.currentTarget.value)} />
      </label>
      <div class="grid">
        {fields.map((f) => (
          <label class="field" key={f.key}>
            <span>
              {f.label} <small>{f.hint}</small>
            </span>
            <input
              name={f.key}
              inputMode="decimal"
              value={s[f.key]}
              placeholder={placeholder(info, f.key)}
              aria-invalid={errors[f.key] ? "true" : undefined}
              aria-describedby={errors[f.key] ? `err-${f.key}` : undefined}
              onInput={(e) => upd(f.key, e.currentTarget.value)}
            />
            {errors[f.key] && (
              <small class="field-error" id={`err-${f.key}`}>
                {errors[f.key]}
              </small>
            )}
          </label>
        ))}
      </div>
      <label class="field wide">
        <span>
          Stop strings <small>one per line, at most 4</small>
        </span>
        <textarea
          name="stop"
          rows={2}
          value={s.stop}
          aria-invalid={errors.stop ? "true" : undefined}
          onInput={(e) => upd("stop", e.currentTarget.value)}
        />
        {errors.stop && <small class="field-error">{errors.stop}</small>}
      </label>
      <div class="grid">
        <label class="field">
          <span>
            API key <small>if the server requires one</small>
          </span>
          <input type="password" name="api_key" autocomplete="off" value={key} onInput={(e) => set_key(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Theme</span>
          <select value={theme} onChange={(e) => set_theme(e.currentTarget.value as Theme)}>
            <option value="system">Follow the system</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </div>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={() => set_s({ ...empty_settings })}>
          Reset to server defaults
        </button>
        <span class="spacer" />
        <button type="button" class="btn" onClick={on_close}>
          Cancel
        </button>
        <button type="button" class="btn primary" disabled={bad} onClick={save}>
          Save
        </button>
      </div>
    </div>
  );
}
