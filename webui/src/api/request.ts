// Builds the body of POST /v1/chat/completions from the conversation and the settings. A setting
// left empty means "server default" and is not sent, so the body stays minimal.

export type Role = "system" | "user" | "assistant";

export interface ApiMessage {
  role: Role;
  content: string;
}

// Every field as typed in the settings form; "" = not sent.
export interface Settings {
  system_prompt: string;
  temperature: string;
  top_p: string;
  top_k: string;
  min_p: string;
  max_tokens: string;
  seed: string;
  stop: string; // one stop string per line
  repetition_penalty: string;
  presence_penalty: string;
  frequency_penalty: string;
}

export const empty_settings: Settings = {
  system_prompt: "",
  temperature: "",
  top_p: "",
  top_k: "",
  min_p: "",
  max_tokens: "",
  seed: "",
  stop: "",
  repetition_penalty: "",
  presence_penalty: "",
  frequency_penalty: "",
};

interface NumberField {
  key: keyof Settings;
  int: boolean;
  min?: number;
  max?: number;
}

// The sampling fields sent as numbers, with the ranges the form accepts.
export const number_fields: NumberField[] = [
  { key: "temperature", int: false, min: 0, max: 100 },
  { key: "top_p", int: false, min: 0, max: 1 },
  { key: "top_k", int: true, min: 0 },
  { key: "min_p", int: false, min: 0, max: 1 },
  { key: "max_tokens", int: true, min: 1 },
  { key: "seed", int: true },
  { key: "repetition_penalty", int: false, min: 0 },
  { key: "presence_penalty", int: false, min: -2, max: 2 },
  { key: "frequency_penalty", int: false, min: -2, max: 2 },
];

export const max_stop_strings = 4;

// Why a field's text is not acceptable, or null when it is (empty is acceptable).
export function check_field(key: keyof Settings, text: string): string | null {
  if (key === "stop") {
    return stop_strings(text).length > max_stop_strings ? `at most ${max_stop_strings} stop strings` : null;
  }
  const f = number_fields.find((x) => x.key === key);
  if (!f || text.trim() === "") return null;
  const v = Number(text.trim());
  if (!Number.isFinite(v)) return "not a number";
  if (f.int && !Number.isInteger(v)) return "must be a whole number";
  if (f.min !== undefined && v < f.min) return `must be at least ${f.min}`;
  if (f.max !== undefined && v > f.max) return `must be at most ${f.max}`;
  return null;
}

export function stop_strings(text: string): string[] {
  return text.split("\n").filter((s) => s !== "");
}

export function settings_errors(s: Settings): Partial<Record<keyof Settings, string>> {
  const out: Partial<Record<keyof Settings, string>> = {};
  for (const key of Object.keys(s) as (keyof Settings)[]) {
    const err = check_field(key, s[key]);
    if (err) out[key] = err;
  }
  return out;
}

// The request body. Fields that fail check_field are left out (the form shows why).
export function build_chat_body(messages: ApiMessage[], s: Settings): Record<string, unknown> {
  const msgs: ApiMessage[] = [];
  if (s.system_prompt.trim() !== "") msgs.push({ role: "system", content: s.system_prompt });
  msgs.push(...messages);
  const body: Record<string, unknown> = {
    messages: msgs,
    stream: true,
    stream_options: { include_usage: true },
  };
  for (const f of number_fields) {
    const text = s[f.key].trim();
    if (text === "" || check_field(f.key, text)) continue;
    body[f.key] = Number(text);
  }
  const stop = stop_strings(s.stop);
  if (stop.length > 0 && stop.length <= max_stop_strings) body.stop = stop;
  return body;
}
