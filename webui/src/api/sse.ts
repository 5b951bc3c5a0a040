// Server-sent events: turns a stream's text, cut anywhere by network reads, into events (WHATWG
// rules: "data" lines joined by "\n", ":" comments skipped, a blank line ends an event), and reads
// the chat-completion chunks they carry.

export interface SseEvent {
  event: string;
  data: string;
}

export class SseParser {
  private buf = "";
  private data: string[] = [];
  private event = "";
  comments = 0; // ": ping" lines seen; the server sends them before the first token

  push(text: string): SseEvent[] {
    this.buf += text;
    const out: SseEvent[] = [];
    for (;;) {
      const i = this.buf.search(/[\r\n]/);
      if (i < 0) break;
      // A "\r" at the end may be the first half of "\r\n": wait for the next read.
      if (this.buf[i] === "\r" && i === this.buf.length - 1) break;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(this.buf[i] === "\r" && this.buf[i + 1] === "\n" ? i + 2 : i + 1);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === "") {
      if (this.data.length === 0) return null;
      const ev = { event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return ev;
    }
    if (line.startsWith(":")) {
      this.comments++;
      return null;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    return null;
  }
}

export interface Timings {
  predicted_n?: number;
  predicted_ms?: number;
  first_token_ms?: number;
  draft_n?: number;
  draft_n_accepted?: number;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface ApiErrorBody {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

export type StreamItem =
  | { kind: "done" }
  | { kind: "error"; error: ApiErrorBody }
  | { kind: "bad"; data: string }
  | {
      kind: "chunk";
      content: string;
      finish_reason: string | null;
      timings?: Timings;
      usage?: Usage;
    };

// One event's data as the chat stream means it. Unknown shapes are "bad", never thrown.
export function read_stream_item(data: string): StreamItem {
  if (data.trim() === "[DONE]") return { kind: "done" };
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { kind: "bad", data };
  }
  if (!obj || typeof obj !== "object") return { kind: "bad", data };
  const o = obj as Record<string, any>;
  if (o.error && typeof o.error === "object") return { kind: "error", error: o.error as ApiErrorBody };
  if (!Array.isArray(o.choices)) return { kind: "bad", data };
  const choice = o.choices[0];
  const content = typeof choice?.delta?.content === "string" ? choice.delta.content : "";
  const finish_reason = typeof choice?.finish_reason === "string" ? choice.finish_reason : null;
  const item: StreamItem = { kind: "chunk", content, finish_reason };
  if (o.timings && typeof o.timings === "object") item.timings = o.timings;
  if (o.usage && typeof o.usage === "object") item.usage = o.usage;
  return item;
}
