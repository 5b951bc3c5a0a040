// Reasoning split end to end: stories260K served with a template whose generation prompt opens
// <think> (the tiny model never thinks by itself), through the openai SDK. With reasoning_format none
// the whole answer is content; with auto (the server's default) the text before </think> is
// reasoning_content and the rest content, so an answer that never closes it is all reasoning. Checked
// against the none answer (the raw text), whole and streamed, and streamed deltas add up to the whole.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

let srv, client;
const dir = mkdtempSync(`${tmpdir()}/tandem-think-`);
const template =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";

before(async () => {
  writeFileSync(`${dir}/think.jinja`, template);
  srv = await startServer("stories260K.gguf", ["--chat-template-file", `${dir}/think.jinja`, "--alias", "thinker"]);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "none" });
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0);
});

const body = {
  model: "thinker",
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 40,
  temperature: 0,
};

// What the auto format must make of the raw answer (the spec: reasoning up to </think>, trimmed).
function split(raw) {
  const end = raw.indexOf("</think>");
  if (end < 0) return { reasoning: raw.trim(), content: "" };
  return { reasoning: raw.slice(0, end).trim(), content: raw.slice(end + 8).trimStart() };
}

async function streamed(extra) {
  const s = await client.chat.completions.create({ ...body, ...extra, stream: true });
  let reasoning = "", content = "", finish = null, chunks = 0;
  for await (const chunk of s) {
    const c = chunk.choices[0];
    if (!c) continue;
    chunks++;
    reasoning += c.delta.reasoning_content ?? "";
    content += c.delta.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { reasoning, content, finish, chunks };
}

test("reasoning_format none keeps everything in content", async () => {
  const r = await client.chat.completions.create({ ...body, reasoning_format: "none" });
  const msg = r.choices[0].message;
  assert.ok(msg.content.length > 10, JSON.stringify(msg));
  assert.equal(msg.reasoning_content, undefined);
  const s = await streamed({ reasoning_format: "none" });
  assert.equal(s.content, msg.content);
  assert.equal(s.reasoning, "");
});

test("auto: an answer inside the opened <think> is reasoning_content, streamed and not", async () => {
  const raw = (await client.chat.completions.create({ ...body, reasoning_format: "none" })).choices[0].message.content;
  const want = split(raw);
  for (const extra of [{}, { reasoning_format: "auto" }, { reasoning_format: "deepseek" }]) {
    const r = await client.chat.completions.create({ ...body, ...extra });
    const msg = r.choices[0].message;
    assert.equal(msg.reasoning_content ?? "", want.reasoning, JSON.stringify(extra));
    assert.equal(msg.content ?? "", want.content);
    assert.equal(r.choices[0].finish_reason, "length");
    const s = await streamed(extra);
    assert.equal(s.reasoning, msg.reasoning_content ?? "");
    assert.equal(s.content, msg.content ?? "");
    assert.equal(s.finish, "length");
  }
  assert.ok(want.reasoning.length > 10);
});

test("the server option --reasoning-format none is the default a request can override", async () => {
  const other = await startServer("stories260K.gguf", [
    "--chat-template-file", `${dir}/think.jinja`, "--alias", "thinker", "--reasoning-format", "none",
  ]);
  try {
    const c = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: "none" });
    const inline = (await c.chat.completions.create(body)).choices[0].message;
    assert.equal(inline.reasoning_content, undefined);
    const apart = (await c.chat.completions.create({ ...body, reasoning_format: "auto" })).choices[0].message;
    assert.deepEqual({ reasoning: apart.reasoning_content, content: apart.content }, split(inline.content));
  } finally {
    await other.stop();
  }
});

test("an unknown reasoning_format is a 400 naming it", async () => {
  await assert.rejects(client.chat.completions.create({ ...body, reasoning_format: "sideways" }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, "reasoning_format");
    return true;
  });
});

// The reasoning budget: the first N answer tokens are the unbudgeted greedy answer's (same prompt),
// then the engine writes </think> and the model answers. Checked against that answer's token bytes,
// with and without speculative decoding (ngram drafts) and with two choices batched together.
test("--reasoning-budget closes the thinking after N tokens, with and without drafts", async () => {
  const n = 8;
  const free = await client.chat.completions.create({ ...body, reasoning_format: "none", logprobs: true });
  const firstN = Buffer.concat(free.choices[0].logprobs.content.slice(0, n).map((t) => Buffer.from(t.bytes))).toString("utf8");
  for (const extra of [[], ["--spec-type", "ngram", "--draft-max", "4"]]) {
    const other = await startServer("stories260K.gguf", [
      "--chat-template-file", `${dir}/think.jinja`, "--alias", "thinker", "--reasoning-budget", String(n), ...extra,
    ]);
    try {
      const c = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: "none" });
      const r = await c.chat.completions.create({ ...body, n: 2 });
      for (const choice of r.choices) {
        assert.equal(choice.message.reasoning_content, firstN.trim(), extra.join(" "));
        assert.ok(choice.message.content.length > 0, "the model goes on after the forced </think>");
        assert.equal(choice.finish_reason, "length");
      }
      const raw = await c.chat.completions.create({ ...body, reasoning_format: "none" });
      // (an SPM vocab writes the marker with its word-initial space)
      const text = raw.choices[0].message.content;
      assert.ok(text.startsWith(firstN) && text.slice(firstN.length).trimStart().startsWith("</think>"), JSON.stringify(text));
      const s = await streamed({});
      // the module's client talks to the unbudgeted server: streamed here instead
      const st = await c.chat.completions.create({ ...body, stream: true });
      let reasoning = "", content = "";
      for await (const chunk of st) {
        reasoning += chunk.choices[0]?.delta?.reasoning_content ?? "";
        content += chunk.choices[0]?.delta?.content ?? "";
      }
      assert.equal(reasoning, r.choices[0].message.reasoning_content);
      assert.equal(content, r.choices[0].message.content);
      assert.ok(s.reasoning.length > reasoning.length);
    } finally {
      await other.stop();
    }
  }
});
