// Maps what went wrong with a request to what a person needs to read and do: enter a key, wait
// for a busy server, shorten a conversation, or retry after a dropped connection.
import type { ApiErrorBody } from "./sse";

export type ErrorKind = "auth" | "busy" | "context" | "network" | "stream" | "http";

export interface ChatError {
  kind: ErrorKind;
  message: string; // what the person reads
  retry_after_s?: number; // busy: when to try again
  cut_tokens?: number; // context: how many tokens to remove at least
}

// "maximum context length is N tokens. However, your prompt has M tokens" -> {n_ctx, n_prompt}.
export function parse_context_message(msg: string): { n_ctx: number; n_prompt: number } | null {
  const m = /maximum context length is (\d+) tokens?\.?\s*However, your prompt has (\d+) tokens?/i.exec(msg);
  return m ? { n_ctx: Number(m[1]), n_prompt: Number(m[2]) } : null;
}

function read_body(text: string): ApiErrorBody {
  try {
    const obj = JSON.parse(text);
    if (obj && typeof obj.error === "object" && obj.error) return obj.error;
    if (obj && typeof obj.error === "string") return { message: obj.error };
  } catch {
    // not JSON: fall through to the raw text
  }
  return { message: text.trim().slice(0, 300) };
}

// Retry-After in seconds (an HTTP date is allowed too); 1 s when absent or unreadable.
export function parse_retry_after(value: string | null, now = Date.now()): number {
  if (!value) return 1;
  const n = Number(value.trim());
  if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(1, Math.ceil((t - now) / 1000)) : 1;
}

export function context_error(body: ApiErrorBody): ChatError {
  const p = parse_context_message(body.message ?? "");
  if (!p) {
    return {
      kind: "context",
      message: `The conversation is too long for the model. Shorten it or start a new conversation. (${body.message ?? ""})`,
    };
  }
  const cut = Math.max(1, p.n_prompt - p.n_ctx + 1);
  return {
    kind: "context",
    cut_tokens: cut,
    message:
      `The conversation no longer fits the model's context: the prompt has ${p.n_prompt} tokens and the ` +
      `limit is ${p.n_ctx}. Remove about ${cut}+ tokens: shorten or delete earlier messages, ` +
      `lower "Max tokens", or start a new conversation.`,
  };
}

export function error_from_response(status: number, body_text: string, retry_after: string | null, key_sent: boolean): ChatError {
  const body = read_body(body_text);
  if (status === 401 || status === 403) {
    return {
      kind: "auth",
      message: key_sent
        ? "The server did not accept the API key. Enter the right key to continue."
        : "This server needs an API key. Enter it to continue.",
    };
  }
  if (status === 429 || status === 503) {
    const s = parse_retry_after(retry_after);
    const why = body.code === "model_loading" ? "The model is still loading" : "The server is busy";
    return { kind: "busy", retry_after_s: s, message: `${why}; trying again in ${s} s.` };
  }
  if (status === 400 && body.code === "context_length_exceeded") return context_error(body);
  return { kind: "http", message: `The server answered ${status}: ${body.message || "no details"}` };
}

export function error_from_stream(body: ApiErrorBody): ChatError {
  if (body.code === "context_length_exceeded") return context_error(body);
  return { kind: "stream", message: `The server stopped this answer with an error: ${body.message ?? "unknown error"}` };
}

export function error_from_exception(e: unknown): ChatError {
  const detail = e instanceof Error ? e.message : String(e);
  return {
    kind: "network",
    message: `The connection to the server was lost (${detail}). Check that tandem is running, then retry.`,
  };
}
