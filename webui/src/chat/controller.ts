// The app's state and every action on it: conversations (kept in IndexedDB), the one running
// generation (send, edit+resend, regenerate, continue, stop, retry), server info and the API key.
// Views read `state` and call methods; nothing else mutates it.
import { fetch_server_info, stream_chat, type ServerInfo, type StreamOutcome } from "../api/client";
import type { Timings, Usage } from "../api/sse";
import type { ChatError } from "../api/errors";
import { build_chat_body, type Settings } from "../api/request";
import { db_delete, db_list, db_put, db_put_many } from "../store/db";
import { load_api_key, load_settings, save_api_key, save_settings } from "../store/settings";
import { export_json, parse_import } from "../store/transfer";
import { new_id, title_from, type ChatMessage, type Conversation, type Stats } from "../store/types";
import { frame_batcher } from "./frame_batcher";
import { api_messages, replace_message, type JobMode } from "./history";

export interface Job {
  conv_id: string;
  msg_id: string;
  mode: JobMode;
}

export interface AppState {
  conversations: Conversation[]; // most recently updated first
  current_id: string | null; // null: a new chat not yet sent
  streaming: Job | null;
  settings: Settings;
  api_key: string;
  info: ServerInfo | null;
  info_error: ChatError | null;
  key_prompt: boolean; // the API key dialog is open
  retry_at: number | null; // a busy server: the pending job reruns at this time (ms)
  notice: { text: string; error: boolean } | null;
}

type Listener = (s: AppState) => void;

export class ChatController {
  state: AppState;
  private listeners = new Set<Listener>();
  private abort: AbortController | null = null;
  private last_job: Job | null = null; // the job that failed, for Retry
  private auth_job: Job | null = null; // waiting for a key
  private retry_timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.state = {
      conversations: [],
      current_id: null,
      streaming: null,
      settings: load_settings(),
      api_key: load_api_key(),
      info: null,
      info_error: null,
      key_prompt: false,
      retry_at: null,
      notice: null,
    };
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<AppState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  current(): Conversation | null {
    return this.state.conversations.find((c) => c.id === this.state.current_id) ?? null;
  }

  private conv(id: string): Conversation | undefined {
    return this.state.conversations.find((c) => c.id === id);
  }

  // Replaces a conversation (or adds it) and keeps the list newest first.
  private put(c: Conversation, persist = true): void {
    const rest = this.state.conversations.filter((x) => x.id !== c.id);
    this.set({ conversations: [c, ...rest].sort((a, b) => b.updated - a.updated) });
    if (persist) this.save(c);
  }

  private save(c: Conversation): void {
    db_put(c).catch((e) => this.set({ notice: { text: `Could not save the conversation: ${e}`, error: true } }));
  }

  async init(): Promise<void> {
    try {
      const list = await db_list();
      // An answer cut off by a reload has no finish: call it stopped so Continue is offered.
      for (const c of list) {
        for (const m of c.messages) if (m.role === "assistant" && !m.finish) m.finish = "aborted";
      }
      this.set({ conversations: list, current_id: list[0]?.id ?? null });
    } catch (e) {
      this.set({ notice: { text: `Saved conversations could not be read: ${e}`, error: true } });
    }
    await this.load_info();
  }

  // A loading or busy server is asked again after its Retry-After; other failures wait for the
  // banner's Retry button.
  async load_info(): Promise<void> {
    const r = await fetch_server_info(this.state.api_key);
    if (r.ok) {
      this.set({ info: r.info, info_error: null });
      return;
    }
    this.set({ info_error: r.error, key_prompt: r.error.kind === "auth" || this.state.key_prompt });
    if (r.error.kind === "busy") setTimeout(() => void this.load_info(), (r.error.retry_after_s ?? 1) * 1000);
  }

  // ---- conversations ----

  new_chat(): void {
    this.set({ current_id: null });
  }

  select(id: string): void {
    this.set({ current_id: id });
  }

  rename(id: string, title: string): void {
    const c = this.conv(id);
    const t = title.trim();
    if (c && t) this.put({ ...c, title: t });
  }

  remove(id: string): void {
    if (this.state.streaming?.conv_id === id) this.stop();
    const conversations = this.state.conversations.filter((c) => c.id !== id);
    const current_id = this.state.current_id === id ? (conversations[0]?.id ?? null) : this.state.current_id;
    this.set({ conversations, current_id });
    db_delete(id).catch(() => undefined);
  }

  export_all(): string {
    return export_json(this.state.conversations);
  }

  async import_text(name: string, text: string): Promise<void> {
    const taken = new Set(this.state.conversations.map((c) => c.id));
    const r = parse_import(text, taken);
    if (r.errors.length > 0) {
      this.set({ notice: { text: `${name} was not imported: ${r.errors.join("; ")}`, error: true } });
      return;
    }
    await db_put_many(r.conversations);
    const conversations = [...r.conversations, ...this.state.conversations].sort((a, b) => b.updated - a.updated);
    const n = r.conversations.length;
    this.set({ conversations, notice: { text: `Imported ${n} conversation${n === 1 ? "" : "s"} from ${name}.`, error: false } });
  }

  dismiss_notice(): void {
    this.set({ notice: null });
  }

  // ---- settings and key ----

  set_settings(s: Settings): void {
    save_settings(s);
    this.set({ settings: s });
  }

  open_key_prompt(open: boolean): void {
    this.set({ key_prompt: open });
  }

  set_api_key(key: string): void {
    save_api_key(key);
    this.set({ api_key: key, key_prompt: false });
    void this.load_info();
    const job = this.auth_job;
    this.auth_job = null;
    if (job) void this.run(job);
  }

  // ---- generation ----

  send(text: string): void {
    if (this.state.streaming || !text.trim()) return;
    const now = Date.now();
    let c = this.current();
    if (!c) c = { id: new_id(), title: title_from(text), created: now, updated: now, messages: [] };
    const user: ChatMessage = { id: new_id(), role: "user", content: text };
    const answer: ChatMessage = { id: new_id(), role: "assistant", content: "" };
    c = { ...c, updated: now, messages: [...c.messages, user, answer] };
    this.set({ current_id: c.id });
    this.put(c);
    void this.run({ conv_id: c.id, msg_id: answer.id, mode: "fresh" });
  }

  // Replaces a user message's text, drops everything after it and asks again.
  edit_and_resend(msg_id: string, text: string): void {
    const c = this.current();
    if (!c || this.state.streaming || !text.trim()) return;
    const i = c.messages.findIndex((m) => m.id === msg_id);
    if (i < 0 || c.messages[i].role !== "user") return;
    const answer: ChatMessage = { id: new_id(), role: "assistant", content: "" };
    const messages = [...c.messages.slice(0, i), { ...c.messages[i], content: text }, answer];
    this.put({ ...c, updated: Date.now(), messages });
    void this.run({ conv_id: c.id, msg_id: answer.id, mode: "fresh" });
  }

  // Writes an assistant answer anew (dropping what followed it).
  regenerate(msg_id: string): void {
    const c = this.current();
    if (!c || this.state.streaming) return;
    const i = c.messages.findIndex((m) => m.id === msg_id);
    if (i < 0 || c.messages[i].role !== "assistant") return;
    const answer: ChatMessage = { id: new_id(), role: "assistant", content: "" };
    this.put({ ...c, updated: Date.now(), messages: [...c.messages.slice(0, i), answer] });
    void this.run({ conv_id: c.id, msg_id: answer.id, mode: "fresh" });
  }

  // Sends the conversation with the partial answer last and appends what comes back.
  continue_answer(msg_id: string): void {
    const c = this.current();
    if (!c || this.state.streaming) return;
    const i = c.messages.findIndex((m) => m.id === msg_id);
    if (i !== c.messages.length - 1 || c.messages[i].role !== "assistant") return;
    void this.run({ conv_id: c.id, msg_id, mode: "continue" });
  }

  stop(): void {
    this.abort?.abort();
    this.cancel_retry();
  }

  retry(): void {
    const job = this.last_job;
    if (!job || this.state.streaming) return;
    this.cancel_retry();
    void this.run(job);
  }

  cancel_retry(): void {
    if (this.retry_timer) clearTimeout(this.retry_timer);
    this.retry_timer = null;
    if (this.state.retry_at !== null) this.set({ retry_at: null });
  }

  private patch_message(job: Job, patch: Partial<ChatMessage>, persist = false): void {
    const c = this.conv(job.conv_id);
    if (!c) return;
    this.put({ ...c, updated: Date.now(), messages: replace_message(c.messages, job.msg_id, patch) }, persist);
  }

  private async run(job: Job): Promise<void> {
    const c = this.conv(job.conv_id);
    const index = c ? c.messages.findIndex((m) => m.id === job.msg_id) : -1;
    if (!c || index < 0 || this.state.streaming) return;
    this.cancel_retry();
    const base = job.mode === "continue" ? c.messages[index].content : "";
    const body = build_chat_body(api_messages(c.messages, index, job.mode), this.state.settings);
    // Continue: the server goes on inside the partial answer (its prompt ends in that turn).
    if (job.mode === "continue") body.continue_final_message = true;
    let received = "";
    const batch = frame_batcher(() => this.patch_message(job, { content: base + received }));
    this.abort = new AbortController();
    this.last_job = job;
    this.set({ streaming: job });
    this.patch_message(job, { finish: undefined, error: undefined }, false);
    const outcome = await stream_chat(body, this.state.api_key, this.abort.signal, {
      on_text: (t) => {
        received += t;
        batch.schedule();
      },
    });
    batch.flush_now();
    this.abort = null;
    this.set({ streaming: null });
    this.finish(job, base + received, outcome);
  }

  private finish(job: Job, content: string, o: StreamOutcome): void {
    if (o.ok) {
      this.last_job = null;
      const finish = o.finish_reason === "length" ? "length" : "stop";
      this.patch_message(job, { content, finish, stats: stats_of(o.timings, o.usage) }, true);
      return;
    }
    if (o.aborted) {
      this.patch_message(job, { content, finish: "aborted" }, true);
      return;
    }
    const e = o.error;
    this.patch_message(job, { content, finish: "error", error: e, stats: stats_of(o.timings, o.usage) }, true);
    if (e.kind === "auth") {
      this.auth_job = job;
      this.set({ key_prompt: true });
    } else if (e.kind === "busy") {
      const s = e.retry_after_s ?? 1;
      this.set({ retry_at: Date.now() + s * 1000 });
      this.retry_timer = setTimeout(() => {
        this.retry_timer = null;
        this.set({ retry_at: null });
        void this.run(job);
      }, s * 1000);
    }
  }
}

function stats_of(t?: Timings, u?: Usage): Stats | undefined {
  if (!t && !u) return undefined;
  const s: Stats = {};
  for (const k of ["predicted_n", "predicted_ms", "first_token_ms", "draft_n", "draft_n_accepted"] as const) {
    if (typeof t?.[k] === "number") s[k] = t[k];
  }
  if (typeof u?.prompt_tokens === "number") s.prompt_tokens = u.prompt_tokens;
  if (typeof u?.completion_tokens === "number") s.completion_tokens = u.completion_tokens;
  return s;
}
