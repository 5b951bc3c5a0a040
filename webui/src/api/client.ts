// HTTP calls to tandem: the streaming chat completion (fetch + SSE, aborted by an AbortSignal,
// which drops the connection so the server frees the sequence) and the server info at start.
// Paths are relative so the UI also works behind a reverse proxy under a prefix.
import { error_from_exception, error_from_response, error_from_stream, type ChatError } from "./errors";
import { read_stream_item, SseParser, type Timings, type Usage } from "./sse";

export interface StreamCallbacks {
  on_text(text: string): void; // content as it arrives
}

export type StreamOutcome =
  | { ok: true; finish_reason: string; timings?: Timings; usage?: Usage }
  | { ok: false; aborted: true }
  | { ok: false; aborted: false; error: ChatError; timings?: Timings; usage?: Usage };

function headers(api_key: string): Record<string, string> {
  const h: Record<string, string> = { "Content-Type": "application/json" };
  if (api_key) h.Authorization = `Bearer ${api_key}`;
  return h;
}

export async function stream_chat(
  body: Record<string, unknown>,
  api_key: string,
  signal: AbortSignal,
  cb: StreamCallbacks,
): Promise<StreamOutcome> {
  let finish_reason = "";
  let timings: Timings | undefined;
  let usage: Usage | undefined;
  try {
    const res = await fetch("v1/chat/completions", {
      method: "POST",
      headers: headers(api_key),
      body: JSON.stringify(body),
      signal,
    });
    if (!res.ok || !res.body) {
      const text = await res.text();
      return { ok: false, aborted: false, error: error_from_response(res.status, text, res.headers.get("Retry-After"), !!api_key) };
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let done = false;
    while (!done) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      for (const ev of parser.push(value)) {
        const item = read_stream_item(ev.data);
        if (item.kind === "done") done = true;
        else if (item.kind === "error") {
          void reader.cancel();
          return { ok: false, aborted: false, error: error_from_stream(item.error), timings, usage };
        } else if (item.kind === "chunk") {
          if (item.content) cb.on_text(item.content);
          if (item.finish_reason) finish_reason = item.finish_reason;
          if (item.timings) timings = item.timings;
          if (item.usage) usage = item.usage;
        }
      }
    }
    if (!done && !finish_reason) {
      return { ok: false, aborted: false, error: error_from_exception(new Error("the stream ended early")), timings, usage };
    }
    return { ok: true, finish_reason: finish_reason || "stop", timings, usage };
  } catch (e) {
    if (signal.aborted) return { ok: false, aborted: true };
    return { ok: false, aborted: false, error: error_from_exception(e), timings, usage };
  }
}

export interface ServerInfo {
  model: string;
  n_ctx?: number;
  parallel?: number;
  version?: string;
  defaults: Record<string, number | null>;
  speculative?: string;
}

export type InfoResult = { ok: true; info: ServerInfo } | { ok: false; error: ChatError };

async function get_json(path: string, api_key: string): Promise<{ status: number; body: any; text: string; retry: string | null }> {
  const res = await fetch(path, { headers: headers(api_key) });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text, retry: res.headers.get("Retry-After") };
}

// Model name and context from /v1/models; defaults from /props when the server has it (a 404
// just leaves them unknown).
export async function fetch_server_info(api_key: string): Promise<InfoResult> {
  try {
    const models = await get_json("v1/models", api_key);
    if (models.status !== 200) return { ok: false, error: error_from_response(models.status, models.text, models.retry, !!api_key) };
    const first = Array.isArray(models.body?.data) ? models.body.data[0] : null;
    const info: ServerInfo = { model: String(first?.id ?? "unknown model"), defaults: {} };
    if (typeof first?.meta?.n_ctx === "number") info.n_ctx = first.meta.n_ctx;
    const props = await get_json("props", api_key).catch(() => null);
    if (props?.status === 200 && props.body && typeof props.body === "object") {
      const p = props.body;
      if (typeof p.model === "string") info.model = p.model;
      if (typeof p.n_ctx === "number") info.n_ctx = p.n_ctx;
      if (typeof p.parallel === "number") info.parallel = p.parallel;
      if (typeof p.version === "string") info.version = p.version;
      if (typeof p.speculative?.type === "string") info.speculative = p.speculative.type;
      const d = p.default_generation_settings;
      if (d && typeof d === "object") {
        for (const [k, v] of Object.entries(d)) if (typeof v === "number" || v === null) info.defaults[k] = v;
      }
    }
    return { ok: true, info };
  } catch (e) {
    return { ok: false, error: error_from_exception(e) };
  }
}
