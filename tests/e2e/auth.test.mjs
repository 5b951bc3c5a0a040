// API keys and CORS on the real server: every route but /health needs a key (Bearer or X-Api-Key);
// CORS answers only listed origins and never reflects another.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

test("api keys and cors", async () => {
  const srv = await startServer("stories260K.gguf", ["--api-key", "s3cret", "--cors-origin", "https://ui.example"]);
  try {
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
    let r = await fetch(`${srv.url}/v1/models`);
    assert.equal(r.status, 401);
    assert.ok((await r.json()).error.message);
    r = await fetch(`${srv.url}/v1/models`, { headers: { Authorization: "Bearer wrong" } });
    assert.equal(r.status, 401);
    r = await fetch(`${srv.url}/v1/models`, { headers: { "X-Api-Key": "s3cret" } });
    assert.equal(r.status, 200);
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "s3cret" });
    const c = await client.completions.create({ model: "x", prompt: "Once upon a time", max_tokens: 4, temperature: 0 });
    assert.equal(c.usage.completion_tokens, 4);
    const bad = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "nope", maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e.status === 401);

    r = await fetch(`${srv.url}/v1/models`, { headers: { "X-Api-Key": "s3cret", Origin: "https://ui.example" } });
    assert.equal(r.headers.get("access-control-allow-origin"), "https://ui.example");
    r = await fetch(`${srv.url}/v1/models`, { headers: { "X-Api-Key": "s3cret", Origin: "https://evil.example" } });
    assert.equal(r.headers.get("access-control-allow-origin"), null);
  } finally {
    assert.equal((await srv.stop()).code, 0);
  }
});
