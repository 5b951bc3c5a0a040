// Settings, API key and theme kept in the browser's localStorage. Unknown or damaged entries fall
// back to the defaults rather than breaking the page.
import { empty_settings, type Settings } from "../api/request";

const settings_key = "tandem.settings.v1";
const api_key_key = "tandem.api_key";
const theme_key = "tandem.theme";

export type Theme = "system" | "light" | "dark";

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled by the browser
  }
}

export function load_settings(): Settings {
  const out: Settings = { ...empty_settings };
  try {
    const raw = JSON.parse(storage()?.getItem(settings_key) ?? "{}");
    for (const key of Object.keys(out) as (keyof Settings)[]) {
      if (typeof raw?.[key] === "string") out[key] = raw[key];
    }
  } catch {
    // damaged entry: defaults
  }
  return out;
}

export function save_settings(s: Settings): void {
  storage()?.setItem(settings_key, JSON.stringify(s));
}

export function load_api_key(): string {
  return storage()?.getItem(api_key_key) ?? "";
}

export function save_api_key(key: string): void {
  if (key) storage()?.setItem(api_key_key, key);
  else storage()?.removeItem(api_key_key);
}

export function load_theme(): Theme {
  const t = storage()?.getItem(theme_key);
  return t === "light" || t === "dark" ? t : "system";
}

export function save_theme(t: Theme): void {
  if (t === "system") storage()?.removeItem(theme_key);
  else storage()?.setItem(theme_key, t);
}

// The theme is a data-theme attribute on <html> (absent: follow the system), set before the first
// render so a reload does not flash the other theme.
export function apply_theme(t: Theme): void {
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
}
