// Structured output through the real server and the official openai SDK: response_format
// json_schema gives JSON that parses and validates against the schema (checked here field by field)
// for several seeds, streamed and not, on chat and completions, on stories260K and llama-spm-tiny;
// json_object gives an object; integer and number bounds and patterns hold for many seeds; n-gram
// speculation answers what plain decoding answers; an unsupported keyword is a 400 naming
// response_format; a max_tokens that cuts the JSON gives "length".
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

const servers = {};
const clients = {};

async function start(name, file, args = []) {
  servers[name] = await startServer(file, ["--parallel", "4", ...args]);
  clients[name] = new OpenAI({ baseURL: `${servers[name].url}/v1`, apiKey: "none" });
}

before(async () => {
  await start("stories", "stories260K.gguf");
  await start("ngram", "stories260K.gguf", ["--spec-type", "ngram", "--draft-max", "4", "--draft-adaptive", "false"]);
  await start("llama", "llama-spm-tiny-Q8_0.gguf");
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal((await s.stop()).code, 0, "SIGTERM exits 0");
});

const schema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 10 },
    age: { type: "integer" },
    color: { enum: ["red", "green", "blue"] },
    pets: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 2 },
    home: { type: "object", properties: { city: { type: "string", maxLength: 8 } }, required: ["city"], additionalProperties: false },
    ok: { type: ["boolean", "null"] },
  },
  required: ["name", "age", "color", "pets", "home", "ok"],
  additionalProperties: false,
};
const responseFormat = { type: "json_schema", json_schema: { name: "person", schema, strict: true } };

// The schema's rules, checked independently of the grammar.
function validate(text) {
  const j = JSON.parse(text);
  assert.equal(typeof j, "object");
  assert.deepEqual(Object.keys(j).sort(), ["age", "color", "home", "name", "ok", "pets"], text);
  assert.equal(typeof j.name, "string", text);
  assert.ok([...j.name].length <= 10, text);
  assert.ok(Number.isInteger(j.age), text);
  assert.ok(["red", "green", "blue"].includes(j.color), text);
  assert.ok(Array.isArray(j.pets) && j.pets.length <= 2 && j.pets.every((p) => typeof p === "string"), text);
  assert.deepEqual(Object.keys(j.home), ["city"], text);
  assert.equal(typeof j.home.city, "string", text);
  assert.ok(j.ok === null || typeof j.ok === "boolean", text);
}

const messages = [{ role: "user", content: "Describe a person." }];

test("json_schema on chat: valid JSON for every seed, streamed and not", async () => {
  for (const name of ["stories", "llama"]) {
    for (const seed of [1, 2, 3, 4]) {
      const body = { model: "m", messages, max_tokens: 400, temperature: 1, seed, response_format: responseFormat };
      const r = await clients[name].chat.completions.create(body);
      assert.equal(r.choices[0].finish_reason, "stop", `${name} seed ${seed}: ${r.choices[0].message.content}`);
      validate(r.choices[0].message.content);
      let text = "";
      let finish = null;
      for await (const chunk of await clients[name].chat.completions.create({ ...body, stream: true })) {
        text += chunk.choices[0]?.delta?.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(text, r.choices[0].message.content, `${name} seed ${seed}: streamed = not streamed`);
      assert.equal(finish, "stop");
    }
  }
});

// What pydantic and zod write for bounded numbers and patterned strings (ge/le/gt/lt, regex).
const bounded = {
  type: "object",
  properties: {
    age: { type: "integer", minimum: 18, maximum: 130 },
    score: { type: "number", exclusiveMinimum: 0, maximum: 1 },
    delta: { type: "integer", exclusiveMaximum: 0 },
    code: { type: "string", pattern: "^[A-Z]{3}-\\d{2,4}$" },
    tag: { type: "string", pattern: "^(ok|fine)( [a-z]{1,5})?$" },
  },
  required: ["age", "score", "delta", "code", "tag"],
  additionalProperties: false,
};

test("minimum / maximum / exclusive bounds and pattern hold for every seed", async () => {
  const response_format = { type: "json_schema", json_schema: { name: "bounded", schema: bounded, strict: true } };
  for (const name of ["stories", "llama"]) {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const body = { model: "m", messages, max_tokens: 400, temperature: 1, seed, response_format };
      const r = await clients[name].chat.completions.create(body);
      const text = r.choices[0].message.content;
      assert.equal(r.choices[0].finish_reason, "stop", `${name} seed ${seed}: ${text}`);
      const j = JSON.parse(text);
      assert.ok(Number.isInteger(j.age) && j.age >= 18 && j.age <= 130, text);
      assert.ok(typeof j.score === "number" && j.score > 0 && j.score <= 1, text);
      assert.ok(Number.isInteger(j.delta) && j.delta < 0, text);
      assert.match(j.code, /^[A-Z]{3}-\d{2,4}$/, text);
      assert.match(j.tag, /^(ok|fine)( [a-z]{1,5})?$/, text);
    }
  }
});

test("the SDK's own parser (beta.chat.completions.parse) reads the answer", async () => {
  const r = await clients.llama.beta.chat.completions.parse({ model: "m", messages, max_tokens: 400, seed: 9, response_format: responseFormat });
  assert.equal(r.choices[0].finish_reason, "stop");
  validate(JSON.stringify(r.choices[0].message.parsed));
});

test("json_schema on completions, n > 1 choices, greedy; n-gram speculation gives the same", async () => {
  const body = { model: "m", prompt: "Once upon a time", max_tokens: 400, temperature: 0, n: 2, response_format: responseFormat };
  const r = await clients.stories.completions.create(body);
  for (const c of r.choices) {
    assert.equal(c.finish_reason, "stop");
    validate(c.text);
  }
  assert.equal(r.choices[0].text, r.choices[1].text, "greedy choices agree");
  const s = await clients.ngram.completions.create(body);
  assert.deepEqual(s.choices.map((c) => c.text), r.choices.map((c) => c.text));
  assert.ok(s.timings.draft_n > 0, "something was drafted");
});

test("json_object gives an object", async () => {
  for (const seed of [5, 6]) {
    const r = await clients.stories.chat.completions.create({
      model: "m", messages, max_tokens: 300, temperature: 0.7, seed, response_format: { type: "json_object" },
    });
    const text = r.choices[0].message.content;
    assert.ok(text.startsWith("{"), text);
    if (r.choices[0].finish_reason === "stop") assert.equal(typeof JSON.parse(text), "object");
    else assert.equal(r.choices[0].finish_reason, "length");
  }
});

test("max_tokens that cuts the JSON off gives length", async () => {
  const r = await clients.stories.chat.completions.create({ model: "m", messages, max_tokens: 3, response_format: responseFormat });
  assert.equal(r.choices[0].finish_reason, "length");
  assert.ok(r.choices[0].message.content.startsWith("{"));
});

test("bad response_format: 400 naming response_format and the problem", async () => {
  const bad = async (response_format, needle) => {
    await assert.rejects(
      clients.stories.chat.completions.create({ model: "m", messages, max_tokens: 5, response_format }),
      (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, "response_format");
        assert.ok(e.message.includes(needle), e.message);
        return true;
      },
    );
  };
  await bad({ type: "json_schema", json_schema: { name: "x", schema: { type: "string", not: { const: "a" } } } }, "'not'");
  await bad({ type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { n: { type: "integer", multipleOf: 2 } } } } }, "'multipleOf'");
  await bad({ type: "json_schema", json_schema: { name: "x", schema: { type: "string", pattern: "(?=a)" } } }, "lookaround");
  await bad({ type: "json_schema", json_schema: { name: "x", schema: { type: "number", minimum: 0.5 } } }, "minimum");
  await bad({ type: "xml" }, "'xml'");
  await bad({ type: "json_schema" }, "json_schema");
  await bad("json", "must be an object");
  const ok = await clients.stories.chat.completions.create({ model: "m", messages, max_tokens: 5, response_format: { type: "text" } });
  assert.equal(ok.object, "chat.completion");
});
