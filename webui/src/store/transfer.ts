// Export and import of conversations as JSON. Import trusts nothing: every field is checked and
// a bad file is reported with the path of the first problems, never half-imported.
import type { ChatMessage, Conversation, Stats } from "./types";
import { new_id, title_from } from "./types";

export const export_format = "tandem-chat";
export const export_version = 1;

export function export_json(conversations: Conversation[]): string {
  const clean = conversations.map((c) => ({
    id: c.id,
    title: c.title,
    created: c.created,
    updated: c.updated,
    messages: c.messages.map((m) => {
      const out: Record<string, unknown> = { id: m.id, role: m.role, content: m.content };
      if (m.finish) out.finish = m.finish;
      if (m.stats) out.stats = m.stats;
      return out;
    }),
  }));
  return JSON.stringify({ format: export_format, version: export_version, conversations: clean }, null, 2);
}

export interface ImportResult {
  conversations: Conversation[];
  errors: string[]; // empty when the file is good
}

const roles = new Set(["system", "user", "assistant"]);
const finishes = new Set(["stop", "length", "aborted", "error"]);
const stat_keys = [
  "prompt_tokens",
  "completion_tokens",
  "predicted_n",
  "predicted_ms",
  "first_token_ms",
  "draft_n",
  "draft_n_accepted",
] as const;
const max_errors = 5;

function is_obj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function read_stats(v: unknown): Stats | undefined {
  if (!is_obj(v)) return undefined;
  const out: Stats = {};
  for (const k of stat_keys) if (typeof v[k] === "number" && Number.isFinite(v[k])) out[k] = v[k] as number;
  return out;
}

function read_message(v: unknown, path: string, errors: string[]): ChatMessage | null {
  if (!is_obj(v)) {
    errors.push(`${path} must be an object`);
    return null;
  }
  if (typeof v.role !== "string" || !roles.has(v.role)) errors.push(`${path}.role must be "user", "assistant" or "system"`);
  if (typeof v.content !== "string") errors.push(`${path}.content must be a string`);
  if (typeof v.role !== "string" || !roles.has(v.role) || typeof v.content !== "string") return null;
  const m: ChatMessage = {
    id: typeof v.id === "string" && v.id ? v.id : new_id(),
    role: v.role as ChatMessage["role"],
    content: v.content,
  };
  if (typeof v.finish === "string" && finishes.has(v.finish)) m.finish = v.finish as ChatMessage["finish"];
  const stats = read_stats(v.stats);
  if (stats) m.stats = stats;
  return m;
}

function read_conversation(v: unknown, path: string, errors: string[]): Conversation | null {
  if (!is_obj(v)) {
    errors.push(`${path} must be an object`);
    return null;
  }
  if (!Array.isArray(v.messages)) {
    errors.push(`${path}.messages must be an array`);
    return null;
  }
  if (v.title !== undefined && typeof v.title !== "string") errors.push(`${path}.title must be a string`);
  const messages: ChatMessage[] = [];
  v.messages.forEach((m, i) => {
    const msg = read_message(m, `${path}.messages[${i}]`, errors);
    if (msg) messages.push(msg);
  });
  const now = Date.now();
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : now);
  const first_user = messages.find((m) => m.role === "user");
  return {
    id: typeof v.id === "string" && v.id ? v.id : new_id(),
    title: typeof v.title === "string" && v.title.trim() ? v.title : title_from(first_user?.content ?? ""),
    created: num(v.created),
    updated: num(v.updated),
    messages,
  };
}

// Parses an export (or a bare array of conversations). Ids already in `taken` get new ones so an
// import never overwrites a conversation.
export function parse_import(text: string, taken: Set<string> = new Set()): ImportResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { conversations: [], errors: [`not JSON: ${e instanceof Error ? e.message : String(e)}`] };
  }
  let list: unknown;
  if (Array.isArray(data)) list = data;
  else if (is_obj(data)) {
    if (data.format !== export_format) {
      return { conversations: [], errors: [`not a Tandem chat export ("format" must be "${export_format}")`] };
    }
    if (typeof data.version !== "number" || data.version > export_version) {
      return { conversations: [], errors: [`unsupported version ${String(data.version)} (this UI reads ${export_version})`] };
    }
    list = data.conversations;
  }
  if (!Array.isArray(list)) return { conversations: [], errors: ["\"conversations\" must be an array"] };
  const errors: string[] = [];
  const out: Conversation[] = [];
  list.forEach((c, i) => {
    const conv = read_conversation(c, `conversations[${i}]`, errors);
    if (conv) out.push(conv);
  });
  if (errors.length > 0) {
    const more = errors.length > max_errors ? [`... and ${errors.length - max_errors} more`] : [];
    return { conversations: [], errors: [...errors.slice(0, max_errors), ...more] };
  }
  const seen = new Set(taken);
  for (const c of out) {
    if (seen.has(c.id)) c.id = new_id();
    seen.add(c.id);
  }
  return { conversations: out, errors: [] };
}
