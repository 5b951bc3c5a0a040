// Admission, disconnects and draining on the real server: past --max-queue clients get 429 with
// Retry-After and the admitted requests all finish; a client that drops mid-stream has its KV
// blocks freed (seen in /metrics); SIGTERM lets in-flight requests finish and exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, metric } from "./server.mjs";

const MODEL = "llama-spm-tiny-Q8_0.gguf";  // random weights: rarely emits EOS, so lengths are predictable

function complete(url, body) {
  return fetch(`${url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

test("past the queue limit clients get 429 and the admitted ones finish", async () => {
  const srv = await startServer(MODEL, ["--parallel", "1", "--max-queue", "2"]);
  try {
    const body = { prompt: "The children walked to the river", max_tokens: 64, temperature: 0 };
    const responses = await Promise.all(Array.from({ length: 8 }, () => complete(srv.url, body)));
    const codes = responses.map((r) => r.status);
    assert.ok(codes.includes(429), `expected some 429s, got ${codes}`);
    for (const r of responses) {
      const j = await r.json();
      if (r.status === 429) {
        assert.ok(r.headers.get("retry-after"), "429 carries Retry-After");
        assert.ok(j.error.message);
      } else {
        assert.equal(r.status, 200, JSON.stringify(j));
        assert.ok(j.usage.completion_tokens > 0);
      }
    }
    assert.ok(codes.filter((c) => c === 200).length >= 2);
  } finally {
    assert.equal((await srv.stop()).code, 0);
  }
});

test("a client that drops mid-stream has its blocks freed", async () => {
  const srv = await startServer(MODEL, ["--parallel", "2"]);
  try {
    const ctl = new AbortController();
    const r = await fetch(`${srv.url}/v1/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "Hello, my name is", max_tokens: 2000, temperature: 0, stream: true }),
      signal: ctl.signal,
    });
    const reader = r.body.getReader();
    await reader.read();
    await reader.read();
    assert.ok((await metric(srv.url, "tandem_kv_blocks_used")) > 0, "blocks in use while streaming");
    ctl.abort();
    let used = -1;
    for (let i = 0; i < 50; i++) {
      used = await metric(srv.url, "tandem_kv_blocks_used");
      if (used === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(used, 0, "blocks freed after the client dropped");
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  } finally {
    await srv.stop();
  }
});

test("SIGTERM drains in-flight requests and exits 0", async () => {
  const srv = await startServer(MODEL, ["--parallel", "2", "--drain-timeout", "30"]);
  const pending = complete(srv.url, { prompt: "Hello", max_tokens: 48, temperature: 0 });
  await new Promise((res) => setTimeout(res, 150));
  srv.proc.kill("SIGTERM");
  const r = await pending;
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.usage.completion_tokens, 48);
  assert.equal((await srv.exited).code, 0);
});

test("a slow client gets 408 and the server keeps serving", async () => {
  const { connect } = await import("node:net");
  const srv = await startServer("stories260K.gguf", ["--read-timeout", "1"]);
  try {
    const reply = await new Promise((resolve, reject) => {
      const sock = connect(srv.port, "127.0.0.1", () => sock.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\n"));
      let data = "";
      sock.on("data", (d) => (data += d));
      sock.on("close", () => resolve(data));
      sock.on("error", reject);
      setTimeout(() => reject(new Error("no answer in 10 s")), 10000);
    });
    assert.match(reply, /^HTTP\/1\.1 408/);
    const r = await complete(srv.url, { prompt: "Once upon a time", max_tokens: 4, temperature: 0 });
    assert.equal(r.status, 200);
  } finally {
    await srv.stop();
  }
});
