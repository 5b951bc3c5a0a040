// Reasoning split end to end with real templates that have thinking on, through the openai SDK:
// Qwen3's (qwen3.jinja on qwen3-bpe-tiny) and Gemma 4's (gemma4.jinja on gemma4-tiny), whose
// generation prompt leaves it to the model to open its reasoning block, and gpt-oss's (gpt-oss.jinja
// on stories260K), which always reasons in its analysis channel. The tiny models never open a block
// by themselves, so the requests make them, honestly: response_format json_schema lets a thinking
// model's reasoning block come before the JSON (the block, or the JSON itself, must come first), and
// logit_bias pushes the token "<" up, which the grammar allows at the answer's start only as the
// block's opening marker (JSON cannot start with "<"); gpt-oss picks its analysis channel itself
// (greedy). The model then writes the block's text ("<<<..."), and --reasoning-budget writes the
// end marker after a few tokens; the JSON follows. The raw answer (reasoning_format none) shows the
// markers the model wrote; reasoning_content must be the text between them and content the JSON,
// whole and streamed. Also Gemma 4 with an assistant prefill that opens the thought (no grammar).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

const templates = new URL("../data/chat_templates/", import.meta.url).pathname;
const servers = {};
const clients = {};
const budget = 6;

async function start(name, file, template) {
  servers[name] = await startServer(file, [
    "--chat-template-file", `${templates}${template}`, "--reasoning-budget", String(budget), "--parallel", "2",
  ]);
  clients[name] = new OpenAI({ baseURL: `${servers[name].url}/v1`, apiKey: "none" });
}

before(async () => {
  await start("qwen3", "qwen3-bpe-tiny-Q8_0.gguf", "qwen3.jinja");
  await start("gemma4", "gemma4-tiny-F32.gguf", "gemma4.jinja");
  await start("gptoss", "stories260K.gguf", "gpt-oss.jinja");
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal((await s.stop()).code, 0, "SIGTERM exits 0");
});

const schema = {
  type: "object",
  properties: { n: { type: "integer" }, ok: { type: "boolean" } },
  required: ["n", "ok"],
  additionalProperties: false,
};

function validate(text) {
  const j = JSON.parse(text);
  assert.deepEqual(Object.keys(j), ["n", "ok"], text);
  assert.ok(Number.isInteger(j.n), text);
  assert.equal(typeof j.ok, "boolean", text);
}

// The token "<" of a model's vocabulary (the last token of its encoding: SPM puts a space first).
async function lessThanToken(name) {
  const r = await fetch(`${servers[name].url}/tokenize`, { method: "POST", body: JSON.stringify({ content: "<" }) });
  return (await r.json()).tokens.at(-1);
}

async function body(name, extra = {}) {
  return {
    model: "m",
    messages: [{ role: "user", content: "Once upon a time" }],
    max_tokens: 200,
    temperature: 0,
    response_format: { type: "json_schema", json_schema: { name: "thing", schema, strict: true } },
    logit_bias: { [await lessThanToken(name)]: 100 },
    ...extra,
  };
}

async function streamed(client, request) {
  const s = await client.chat.completions.create({ ...request, stream: true });
  let reasoning = "", content = "", finish = null;
  for await (const chunk of s) {
    const c = chunk.choices[0];
    if (!c) continue;
    reasoning += c.delta.reasoning_content ?? "";
    content += c.delta.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { reasoning, content, finish };
}

// What the split must be, read off the raw answer: the text between the markers (trimmed), and
// what follows the end marker (leading white space dropped).
function splitAt(raw, start, end) {
  const i = raw.indexOf(start), j = raw.indexOf(end);
  assert.equal(raw.slice(0, i).trim(), "", `the answer opens the block: ${JSON.stringify(raw)}`);
  assert.ok(i >= 0 && j > i, `both markers in ${JSON.stringify(raw)}`);
  return { reasoning: raw.slice(i + start.length, j).trim(), content: raw.slice(j + end.length).trimStart() };
}

async function expectSplit(name, request, want) {
  const client = clients[name];
  const r = await client.chat.completions.create(request);
  const msg = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, "stop", JSON.stringify(msg));
  assert.ok(want.reasoning.length > 0, "the model wrote some reasoning");
  assert.equal(msg.reasoning_content, want.reasoning, JSON.stringify(msg));
  assert.equal(msg.content, want.content, JSON.stringify(msg));
  const s = await streamed(client, request);
  assert.equal(s.finish, "stop");
  assert.equal(s.reasoning, want.reasoning);
  assert.equal(s.content, want.content);
  return msg;
}

for (const [name, start, end] of [
  ["qwen3", "<think>", "</think>"],
  ["gemma4", "<|channel>thought", "<channel|>"],
]) {
  test(`${name}: the block the model opened is reasoning_content, the JSON after it content`, async () => {
    const request = await body(name);
    const raw = (await clients[name].chat.completions.create({ ...request, reasoning_format: "none" })).choices[0]
      .message.content;
    const want = splitAt(raw, start, end);
    const msg = await expectSplit(name, request, want);
    validate(msg.content);
    for (const reasoning_format of ["auto", "deepseek"]) await expectSplit(name, { ...request, reasoning_format }, want);
  });
}

test("gpt-oss: the analysis message is reasoning_content, the final channel's JSON content", async () => {
  const request = { ...(await body("gptoss")), logit_bias: undefined };
  const raw = (await clients.gptoss.chat.completions.create({ ...request, reasoning_format: "none" })).choices[0]
    .message.content;
  // Inline (as llama-server shows it), the analysis message as written, header and end marker
  // included; the final message's text follows without its header. The same streamed.
  const header = "<|channel|>analysis<|message|>", end = "<|end|>";
  assert.ok(raw.startsWith(header), JSON.stringify(raw));
  const reasoning = raw.slice(header.length, raw.indexOf(end));
  const json = raw.slice(header.length + reasoning.length + end.length);
  validate(json);
  const inline = await streamed(clients.gptoss, { ...request, reasoning_format: "none" });
  assert.equal(inline.content, raw);
  assert.equal(inline.reasoning, "");
  const msg = await expectSplit("gptoss", request, { reasoning, content: json });
  assert.ok(!msg.reasoning_content.includes("{"), msg.reasoning_content);
});

test("gemma4: an assistant prefill that opens the thought; the budget closes it, the rest is content", async () => {
  const request = {
    model: "m",
    messages: [
      { role: "user", content: "Once upon a time" },
      { role: "assistant", content: "<|channel>thought\n" },
    ],
    add_generation_prompt: false,
    max_tokens: 30,
    temperature: 0,
  };
  const raw = (await clients.gemma4.chat.completions.create({ ...request, reasoning_format: "none" })).choices[0]
    .message.content;
  const end = raw.indexOf("<channel|>");
  assert.ok(end > 0, JSON.stringify(raw));
  const want = { reasoning: raw.slice(0, end).trim(), content: raw.slice(end + "<channel|>".length).trimStart() };
  const r = await clients.gemma4.chat.completions.create(request);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.choices[0].message.reasoning_content, want.reasoning);
  assert.equal(r.choices[0].message.content, want.content);
  const s = await streamed(clients.gemma4, request);
  assert.equal(s.reasoning, want.reasoning);
  assert.equal(s.content, want.content);
});
