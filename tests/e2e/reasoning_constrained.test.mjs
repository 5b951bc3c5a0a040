// Constrained answers after the reasoning, through the openai SDK: stories260K served with DeepSeek
// R1's template (tests/data/chat_templates), whose generation prompt opens "<think>\n", and a reasoning
// budget of a few tokens (the tiny model never closes the block by itself; the budget writes
// "</think>"). response_format json_schema / json_object and a forced tool call then leave the thinking
// in reasoning_content and put schema-valid JSON in content (or tool_calls), streamed and not, for
// several seeds; with n-gram speculation too (greedy: the same answer as plain decoding). Before,
// the grammar bound from the first token, so the JSON landed inside the reasoning.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

const template = new URL("../data/chat_templates/deepseek-r1-distill.jinja", import.meta.url).pathname;
const servers = {};
const clients = {};

async function start(name, args) {
  servers[name] = await startServer("stories260K.gguf", ["--chat-template-file", template, "--parallel", "4", ...args]);
  clients[name] = new OpenAI({ baseURL: `${servers[name].url}/v1`, apiKey: "none" });
}

before(async () => {
  await start("plain", ["--reasoning-budget", "6"]);
  await start("ngram", ["--reasoning-budget", "6", "--spec-type", "ngram", "--draft-max", "4", "--draft-adaptive", "false"]);
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal((await s.stop()).code, 0);
});

const schema = {
  type: "object",
  properties: { name: { type: "string", maxLength: 8 }, n: { type: "integer" }, ok: { type: "boolean" } },
  required: ["name", "n", "ok"],
  additionalProperties: false,
};
const body = {
  model: "m",
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 200,
  temperature: 1,
  response_format: { type: "json_schema", json_schema: { name: "thing", schema, strict: true } },
};

function validate(text) {
  const j = JSON.parse(text);
  assert.deepEqual(Object.keys(j), ["name", "n", "ok"], text);
  assert.ok(typeof j.name === "string" && [...j.name].length <= 8, text);
  assert.ok(Number.isInteger(j.n), text);
  assert.equal(typeof j.ok, "boolean", text);
}

async function streamed(client, extra) {
  const s = await client.chat.completions.create({ ...body, ...extra, stream: true });
  let reasoning = "", content = "", finish = null;
  const calls = [];
  for await (const chunk of s) {
    const c = chunk.choices[0];
    if (!c) continue;
    reasoning += c.delta.reasoning_content ?? "";
    content += c.delta.content ?? "";
    for (const t of c.delta.tool_calls ?? []) {
      if (t.function?.name) calls[t.index] = { name: t.function.name, arguments: "" };
      calls[t.index].arguments += t.function?.arguments ?? "";
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { reasoning, content, finish, calls };
}

test("json_schema after the reasoning the prompt opened: thinking apart, valid JSON, streamed and not", async () => {
  for (const seed of [1, 2, 3]) {
    const r = await clients.plain.chat.completions.create({ ...body, seed });
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, "stop", JSON.stringify(msg));
    assert.ok(msg.reasoning_content?.length > 0, JSON.stringify(msg));
    assert.ok(!msg.reasoning_content.includes("{\"name\""), msg.reasoning_content);
    validate(msg.content);
    const s = await streamed(clients.plain, { seed });
    assert.equal(s.finish, "stop");
    assert.equal(s.reasoning, msg.reasoning_content);
    assert.equal(s.content, msg.content);
  }
});

test("json_object after the reasoning", async () => {
  const r = await clients.plain.chat.completions.create({ ...body, seed: 4, response_format: { type: "json_object" } });
  const msg = r.choices[0].message;
  assert.ok(msg.reasoning_content?.length > 0, JSON.stringify(msg));
  if (r.choices[0].finish_reason === "stop") assert.equal(typeof JSON.parse(msg.content), "object");
  else assert.ok(msg.content.startsWith("{"), msg.content);  // cut by max_tokens: an unfinished object
});

test("a forced tool call after the reasoning", async () => {
  const tools = [{ type: "function", function: { name: "put", parameters: schema } }];
  for (const seed of [5, 6]) {
    const extra = { seed, tools, tool_choice: "required", response_format: undefined };
    const r = await clients.plain.chat.completions.create({ ...body, ...extra });
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, "tool_calls", JSON.stringify(msg));
    assert.ok(msg.reasoning_content?.length > 0, JSON.stringify(msg));
    assert.equal(msg.tool_calls.length, 1);
    assert.equal(msg.tool_calls[0].function.name, "put");
    validate(msg.tool_calls[0].function.arguments);
    const s = await streamed(clients.plain, extra);
    assert.equal(s.finish, "tool_calls");
    assert.equal(s.reasoning, msg.reasoning_content);
    assert.deepEqual(s.calls, [{ name: "put", arguments: msg.tool_calls[0].function.arguments }]);
  }
});

test("with n-gram speculation: the same greedy answer, valid for sampled seeds", async () => {
  const greedy = { temperature: 0, seed: 1 };
  const want = (await clients.plain.chat.completions.create({ ...body, ...greedy })).choices[0].message;
  const got = (await clients.ngram.chat.completions.create({ ...body, ...greedy })).choices[0].message;
  assert.equal(got.reasoning_content, want.reasoning_content);
  assert.equal(got.content, want.content);
  validate(got.content);
  for (const seed of [7, 8]) {
    const s = await streamed(clients.ngram, { seed });
    assert.equal(s.finish, "stop");
    assert.ok(s.reasoning.length > 0);
    validate(s.content);
  }
});
