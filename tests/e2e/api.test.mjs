// The OpenAI API of the real server, used through the official openai SDK and curl, on stories260K
// (a real trained model, so greedy text can be checked against llama.cpp's golden continuation).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { startServer, curl, SHARED } from "./server.mjs";

let srv, client;
const golden = JSON.parse(readFileSync(`${SHARED}/golden/stories260K/p0_short.json`, "utf8"));

before(async () => {
  srv = await startServer("stories260K.gguf", ["--parallel", "8", "--alias", "stories"]);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "none" });
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, "SIGTERM exits 0");
});

test("greedy completion equals llama.cpp's greedy continuation", async () => {
  const r = await client.completions.create({ model: "stories", prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
  const want = Buffer.from(golden.greedy.text_hex, "hex").toString("utf8");
  // 16 tokens of the 32-token golden continuation: the text must be a prefix of it.
  assert.ok(want.startsWith(r.choices[0].text), `got ${JSON.stringify(r.choices[0].text)}\nwant prefix of ${JSON.stringify(want)}`);
  assert.ok(r.choices[0].text.length > 10);
  assert.equal(r.object, "text_completion");
  assert.equal(r.model, "stories");
  assert.equal(r.usage.prompt_tokens, golden.n_tokens);
  assert.equal(r.usage.completion_tokens, 16);
  assert.equal(r.usage.total_tokens, golden.n_tokens + 16);
  assert.equal(r.choices[0].finish_reason, "length");
});

test("streaming completion concatenates to the non-streaming text", async () => {
  const body = { model: "stories", prompt: "One day, Lily met a", max_tokens: 24, temperature: 0 };
  const whole = (await client.completions.create(body)).choices[0].text;
  let text = "", finishes = 0, usage = null;
  const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text ?? "";
      if (c.finish_reason) finishes++;
    }
  }
  assert.equal(text, whole);
  assert.equal(finishes, 1);
  assert.equal(usage.completion_tokens, 24);
});

test("chat completion, streaming and not", async () => {
  const messages = [{ role: "system", content: "You tell stories." }, { role: "user", content: [{ type: "text", text: "Once upon a time" }] }];
  const r = await client.chat.completions.create({ model: "stories", messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  let text = "", role = null;
  const stream = await client.chat.completions.create({ model: "stories", messages, max_tokens: 12, temperature: 0, stream: true });
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta ?? {};
    if (d.role) role = d.role;
    text += d.content ?? "";
  }
  assert.equal(role, "assistant");
  assert.equal(text, r.choices[0].message.content);
});

test("continue_final_message goes on inside the cut-off answer: part + continuation = the whole greedy answer", async () => {
  const user = [{ role: "user", content: "Lily and Ben went" }];
  const ask = (messages, max_tokens, extra = {}) =>
    client.chat.completions.create({ model: "stories", messages, max_tokens, temperature: 0, ...extra });
  const whole = (await ask(user, 24)).choices[0].message.content;
  const part = (await ask(user, 12)).choices[0].message.content;
  assert.ok(part.length > 0 && whole.startsWith(part), `${JSON.stringify(part)} should start ${JSON.stringify(whole)}`);
  const rest = await ask([...user, { role: "assistant", content: part }], 12, { continue_final_message: true });
  assert.equal(part + rest.choices[0].message.content, whole);
  // Without the flag the model starts a new turn instead (a different text).
  const fresh = await ask([...user, { role: "assistant", content: part }], 12);
  assert.notEqual(part + fresh.choices[0].message.content, whole);
  // The flag needs a final assistant message and excludes add_generation_prompt.
  for (const [body, param] of [
    [{ messages: user, continue_final_message: true }, "continue_final_message"],
    [{ messages: [...user, { role: "assistant", content: part }], continue_final_message: true, add_generation_prompt: true }, "add_generation_prompt"],
  ]) {
    const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.param, param);
  }
});

test("stop strings end the text before the stop string", async () => {
  const r = await client.completions.create({ model: "stories", prompt: "Once upon a time", max_tokens: 32, temperature: 0, stop: ["Lily"] });
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.ok(!r.choices[0].text.includes("Lily"));
  assert.ok(r.choices[0].text.includes("little girl named"), r.choices[0].text);
});

test("same seed gives the same text; n gives n choices", async () => {
  const body = { model: "stories", prompt: "Once upon a time", max_tokens: 20, temperature: 1.0, seed: 1234 };
  const a = await client.completions.create(body);
  const b = await client.completions.create(body);
  assert.equal(a.choices[0].text, b.choices[0].text);
  const many = await client.completions.create({ ...body, n: 3 });
  assert.equal(many.choices.length, 3);
  assert.deepEqual(many.choices.map((c) => c.index).sort(), [0, 1, 2]);
});

test("several prompts in one request: one choice per prompt, each equal to its request alone", async () => {
  const prompts = ["Once upon a time", "One day, Lily met a", "Tom had a big red ball"];
  const body = (prompt) => ({ model: "stories", prompt, max_tokens: 16, temperature: 0 });
  const alone = [];
  for (const p of prompts) alone.push((await client.completions.create(body(p))).choices[0].text);
  const r = await client.completions.create(body(prompts));
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(r.choices.map((c) => c.text), alone);
  assert.ok(r.usage.prompt_tokens > 3 * 3, JSON.stringify(r.usage));
});

test("a seeded sampled request gives the same text alone and among concurrent requests", async () => {
  const body = { model: "stories", prompt: "One day, Lily met a", max_tokens: 24, temperature: 1.0, top_p: 0.95, seed: 77 };
  const alone = (await client.completions.create(body)).choices[0].text;
  const others = ["Once upon a time", "Tom had a big red ball", "The sun was"].map((p, i) =>
    client.completions.create({ model: "stories", prompt: p, max_tokens: 40, temperature: 0.9, seed: i }));
  const [together] = await Promise.all([client.completions.create(body), ...others]);
  assert.equal(together.choices[0].text, alone);
});

test("eight parallel greedy streams each equal their text alone", async () => {
  const prompts = ["Once upon a time", "One day, Lily met a", "Tom had a big red ball", "The sun was", "A cat", "She liked to", "In the park", "Mom said"];
  const body = (p) => ({ model: "stories", prompt: p, max_tokens: 24, temperature: 0 });
  const alone = [];
  for (const p of prompts) alone.push((await client.completions.create(body(p))).choices[0].text);
  const together = await Promise.all(
    prompts.map(async (p) => {
      let t = "";
      for await (const c of await client.completions.create({ ...body(p), stream: true })) t += c.choices[0]?.text ?? "";
      return t;
    }),
  );
  assert.deepEqual(together, alone);
});

test("models, health, tokenize and detokenize", async () => {
  const models = await client.models.list();
  assert.equal(models.data[0].id, "stories");
  assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  const tok = await (await fetch(`${srv.url}/tokenize`, { method: "POST", body: JSON.stringify({ content: "Once upon a time" }) })).json();
  assert.deepEqual(tok.tokens, golden.tokens.slice(1));
  const de = await (await fetch(`${srv.url}/detokenize`, { method: "POST", body: JSON.stringify({ tokens: tok.tokens }) })).json();
  assert.equal(de.content.trim(), "Once upon a time");
});

test("bad requests get OpenAI-shaped errors and the server stays healthy", async () => {
  const post = (path, body, headers = {}) =>
    fetch(`${srv.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });
  let r = await post("/v1/completions", "{not json");
  assert.equal(r.status, 400);
  assert.ok((await r.json()).error.message);
  r = await post("/v1/completions", JSON.stringify({ prompt: "x", max_tokens: "many" }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.param, "max_tokens");
  r = await post("/v1/completions", JSON.stringify({ prompt: "x", temperature: -1 }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.param, "temperature");
  r = await post("/v1/completions", JSON.stringify({ prompt: "Once ".repeat(3000) }));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, "context_length_exceeded");
  r = await fetch(`${srv.url}/v1/nope`);
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error);
  r = await fetch(`${srv.url}/v1/completions`);
  assert.equal(r.status, 405);
  const huge = await curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", `X-Big: ${"a".repeat(100000)}`, `${srv.url}/health`]);
  assert.ok(huge.stdout === "431" || huge.code !== 0, `huge header: ${huge.stdout}`);
  const hugeBody = await curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Length: 999999999999", "-X", "POST", `${srv.url}/v1/completions`]);
  assert.ok(hugeBody.stdout === "413" || hugeBody.code !== 0, `huge body: ${hugeBody.stdout}`);
  assert.equal((await fetch(`${srv.url}/health`)).status, 200);
});
