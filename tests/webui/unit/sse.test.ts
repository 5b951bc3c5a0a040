// SSE parsing of the chat stream: events split anywhere across network reads, comments, [DONE]
// and an error event mid-stream.
import { describe, expect, test } from "vitest";
import { read_stream_item, SseParser } from "../../../webui/src/api/sse";

const chunk = (content: string) =>
  JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] });

// Feeds `text` cut at every given offset and returns the data of every event.
function feed(text: string, cuts: number[]): string[] {
  const p = new SseParser();
  const out: string[] = [];
  let at = 0;
  for (const c of [...cuts, text.length]) {
    out.push(...p.push(text.slice(at, c)).map((e) => e.data));
    at = c;
  }
  return out;
}

describe("SseParser", () => {
  const stream = `: ping\n\ndata: ${chunk("Hel")}\n\ndata: ${chunk("lo")}\n\ndata: [DONE]\n\n`;

  test("whole stream in one read", () => {
    expect(feed(stream, [])).toEqual([chunk("Hel"), chunk("lo"), "[DONE]"]);
  });

  test("every split point gives the same events", () => {
    const want = feed(stream, []);
    for (let i = 1; i < stream.length; i++) expect(feed(stream, [i])).toEqual(want);
  });

  test("one byte per read", () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(feed(stream, cuts)).toEqual([chunk("Hel"), chunk("lo"), "[DONE]"]);
  });

  test("CRLF line ends, also split between CR and LF", () => {
    const crlf = stream.replace(/\n/g, "\r\n");
    const want = [chunk("Hel"), chunk("lo"), "[DONE]"];
    expect(feed(crlf, [])).toEqual(want);
    const cr_at = crlf.indexOf("\r\n", 10) + 1; // between a CR and its LF
    expect(feed(crlf, [cr_at])).toEqual(want);
  });

  test("comments are counted, not events; an unfinished event is held", () => {
    const p = new SseParser();
    expect(p.push(": ping\n\n: ping\n\ndata: {\"a\"")).toEqual([]);
    expect(p.comments).toBe(2);
    expect(p.push(":1}\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ event: "message", data: '{"a":1}' }]);
  });

  test("multi-line data joins with newlines; event names are kept", () => {
    const p = new SseParser();
    expect(p.push("event: note\ndata: a\ndata:b\n\n")).toEqual([{ event: "note", data: "a\nb" }]);
  });
});

describe("read_stream_item", () => {
  test("content, finish, timings, usage", () => {
    expect(read_stream_item(chunk("x"))).toEqual({ kind: "chunk", content: "x", finish_reason: null });
    const fin = JSON.stringify({
      choices: [{ index: 0, delta: {}, finish_reason: "length" }],
      timings: { predicted_n: 5, predicted_ms: 10 },
    });
    expect(read_stream_item(fin)).toMatchObject({ kind: "chunk", content: "", finish_reason: "length", timings: { predicted_n: 5 } });
    const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 5 } });
    expect(read_stream_item(usage)).toMatchObject({ kind: "chunk", content: "", usage: { prompt_tokens: 3 } });
  });

  test("[DONE], error event, garbage", () => {
    expect(read_stream_item("[DONE]")).toEqual({ kind: "done" });
    const err = JSON.stringify({ error: { message: "engine failed", type: "server_error", code: null } });
    expect(read_stream_item(err)).toEqual({ kind: "error", error: { message: "engine failed", type: "server_error", code: null } });
    expect(read_stream_item("{not json").kind).toBe("bad");
    expect(read_stream_item("42").kind).toBe("bad");
    expect(read_stream_item('{"object":"x"}').kind).toBe("bad");
  });
});
