// The page: conversation list, header with the model's name and context, messages, message box,
// dialogs; the theme and the global Escape-stops shortcut live here.
import { useEffect, useState } from "preact/hooks";
import type { ServerInfo } from "../api/client";
import type { AppState, ChatController } from "../chat/controller";
import { apply_theme, load_theme, save_theme, type Theme } from "../store/settings";
import { Composer } from "./composer";
import { IconKey, IconMenu, IconMoon, IconSettings, IconSun } from "./icons";
import { KeyDialog } from "./key_dialog";
import { MessageList } from "./message_list";
import { SettingsDialog } from "./settings_dialog";
import { Sidebar } from "./sidebar";
import { use_store } from "./use_store";

function system_dark(): boolean {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

function server_title(info: ServerInfo | null): string | undefined {
  if (!info) return undefined;
  const parts = [info.version ? `tandem ${info.version}` : "tandem"];
  if (info.parallel) parts.push(`${info.parallel} sequences at once`);
  return parts.join(", ");
}

function status_line(s: AppState): string {
  if (s.info) return `You are talking to ${s.info.model}, running on this tandem server.`;
  if (s.info_error?.kind === "auth") return "This server needs an API key: enter it to start.";
  if (s.info_error) return "The server cannot be reached right now.";
  return "Connecting to the server...";
}

export function App({ ctl }: { ctl: ChatController }) {
  const s = use_store(ctl);
  const [drawer, set_drawer] = useState(false);
  const [settings_open, set_settings_open] = useState(false);
  const [theme, set_theme_state] = useState<Theme>(load_theme());
  const conv = s.conversations.find((c) => c.id === s.current_id) ?? null;
  const streaming = s.streaming !== null;

  const set_theme = (t: Theme) => {
    save_theme(t);
    apply_theme(t);
    set_theme_state(t);
  };

  useEffect(() => {
    const on_key = (e: KeyboardEvent) => {
      if (e.key === "Escape" && ctl.state.streaming && !document.querySelector("dialog[open]")) {
        e.preventDefault();
        ctl.stop();
      }
    };
    window.addEventListener("keydown", on_key);
    return () => window.removeEventListener("keydown", on_key);
  }, [ctl]);

  const dark = theme === "dark" || (theme === "system" && system_dark());
  const info = s.info;
  return (
    <div class="app">
      <Sidebar ctl={ctl} conversations={s.conversations} current_id={s.current_id} open={drawer} on_close={() => set_drawer(false)} />
      {drawer && <div class="backdrop" onClick={() => set_drawer(false)} aria-hidden="true" />}
      <main class="chat">
        <header class="top">
          <button
            type="button"
            class="icon-btn menu"
            aria-label="Open conversation list"
            aria-controls="sidebar"
            aria-expanded={drawer}
            onClick={() => set_drawer(true)}
          >
            <IconMenu />
          </button>
          <div class="top-title">
            <span class="conv-name">{conv?.title ?? "New chat"}</span>
            <span class="model" aria-label="Model" title={server_title(info)}>
              {info ? info.model : s.info_error ? "not connected" : "connecting..."}
              {info?.n_ctx ? <span class="chip">ctx {info.n_ctx}</span> : null}
              {info?.speculative && info.speculative !== "none" ? <span class="chip">spec {info.speculative}</span> : null}
            </span>
          </div>
          {s.info_error?.kind === "auth" && (
            <button type="button" class="icon-btn" aria-label="Enter API key" title="API key" onClick={() => ctl.open_key_prompt(true)}>
              <IconKey />
            </button>
          )}
          <button
            type="button"
            class="icon-btn"
            aria-label={dark ? "Switch to light theme" : "Switch to dark theme"}
            title="Theme"
            onClick={() => set_theme(dark ? "light" : "dark")}
          >
            {dark ? <IconSun /> : <IconMoon />}
          </button>
          <button type="button" class="icon-btn" aria-label="Settings" title="Settings" onClick={() => set_settings_open(true)}>
            <IconSettings />
          </button>
        </header>
        {s.info_error && s.info_error.kind !== "auth" && (
          <div class="banner error" role="alert">
            <span>{s.info_error.message}</span>
            <button type="button" class="btn" onClick={() => void ctl.load_info()}>
              Retry
            </button>
          </div>
        )}
        {s.notice && (
          <div class={`banner${s.notice.error ? " error" : ""}`} role={s.notice.error ? "alert" : "status"}>
            <span>{s.notice.text}</span>
            <button type="button" class="btn" onClick={() => ctl.dismiss_notice()}>
              Dismiss
            </button>
          </div>
        )}
        <MessageList ctl={ctl} conversation={conv} streaming_id={s.streaming?.msg_id ?? null} retry_at={s.retry_at} status={status_line(s)} />
        <Composer ctl={ctl} streaming={streaming} conv_id={s.current_id} />
      </main>
      <SettingsDialog ctl={ctl} open={settings_open} on_close={() => set_settings_open(false)} info={info} theme={theme} set_theme={set_theme} />
      <KeyDialog ctl={ctl} open={s.key_prompt} had_key={s.api_key !== ""} />
    </div>
  );
}
