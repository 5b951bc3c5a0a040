// Errors become what a person needs: a key prompt, a busy countdown, how much to cut, a retry.
import { expect, test } from "vitest";
import {
  error_from_exception,
  error_from_response,
  error_from_stream,
  parse_context_message,
  parse_retry_after,
} from "../../../webui/src/api/errors";

const body = (message: string, code: string | null, type = "invalid_request_error") =>
  JSON.stringify({ error: { message, type, param: null, code } });

test("401 asks for the key, differently when one was sent", () => {
  const none = error_from_response(401, body("Incorrect or missing API key", "invalid_api_key"), null, false);
  expect(none.kind).toBe("auth");
  expect(none.message).toMatch(/needs an API key/);
  const wrong = error_from_response(401, body("Incorrect or missing API key", "invalid_api_key"), null, true);
  expect(wrong.message).toMatch(/did not accept/);
});

test("429 and 503 wait for Retry-After", () => {
  const busy = error_from_response(429, body("Too many requests", "queue_full", "rate_limit_error"), "7", false);
  expect(busy).toMatchObject({ kind: "busy", retry_after_s: 7 });
  expect(busy.message).toMatch(/busy.*7 s/);
  const loading = error_from_response(503, body("The model is loading.", "model_loading"), null, false);
  expect(loading).toMatchObject({ kind: "busy", retry_after_s: 1 });
  expect(loading.message).toMatch(/loading/);
  expect(parse_retry_after("2.2")).toBe(3);
  expect(parse_retry_after("soon")).toBe(1);
  expect(parse_retry_after(new Date(10_000).toUTCString(), 4_000)).toBe(6);
});

test("context_length_exceeded says how many tokens to remove", () => {
  const msg =
    "This model's maximum context length is 2048 tokens. However, your prompt has 2300 tokens, which leaves no room for a completion.";
  expect(parse_context_message(msg)).toEqual({ n_ctx: 2048, n_prompt: 2300 });
  const e = error_from_response(400, body(msg, "context_length_exceeded"), null, false);
  expect(e.kind).toBe("context");
  expect(e.cut_tokens).toBe(253);
  expect(e.message).toMatch(/2300 tokens/);
  expect(e.message).toMatch(/limit is 2048/);
  expect(e.message).toMatch(/Remove about 253\+ tokens/);
  expect(e.message).toMatch(/new conversation/);
  // the same error arriving as an SSE event
  expect(error_from_stream({ message: msg, code: "context_length_exceeded" }).cut_tokens).toBe(253);
});

test("other HTTP errors carry the server's message; a non-JSON body is still read", () => {
  expect(error_from_response(400, body("'top_k' must be an integer", null), null, false)).toEqual({
    kind: "http",
    message: "The server answered 400: 'top_k' must be an integer",
  });
  expect(error_from_response(502, "Bad Gateway\n", null, false).message).toBe("The server answered 502: Bad Gateway");
});

test("network failure offers a retry; a stream error keeps its message", () => {
  const n = error_from_exception(new TypeError("Failed to fetch"));
  expect(n.kind).toBe("network");
  expect(n.message).toMatch(/Failed to fetch/);
  const s = error_from_stream({ message: "out of KV blocks", type: "server_error" });
  expect(s).toEqual({ kind: "stream", message: "The server stopped this answer with an error: out of KV blocks" });
});
