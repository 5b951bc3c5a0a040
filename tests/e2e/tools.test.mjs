// Tool calling through the openai SDK on stories260K (no chat template: ChatML with the tools as a
// system message, calls in the generic JSON format): tool_choice "required" or a named function
// forces calls whose arguments validate against the tool's parameters, whole and streamed as OpenAI
// streams them; the calls and the tool's result go back into the next request's prompt. The same
// on gemma4-tiny with Gemma 4's template (calls in its own argument syntax, patterns too) and on stories260K with
// functionary v3.2's (the name written before the arguments), choosing among several tools.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

const template = (name) => new URL(`../data/chat_templates/${name}`, import.meta.url).pathname;

let srv, client;
before(async () => {
  srv = await startServer("stories260K.gguf", ["--parallel", "4"]);
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "none" });
});
after(async () => assert.equal((await srv.stop()).code, 0));

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
};
const time = {
  type: "function",
  function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "integer" } }, required: ["zone"] } },
};
// Gemma 4's template prints each property's type (one without renders an empty type, as llama.cpp's does).
const weather_typed = structuredClone(weather);
weather_typed.function.parameters.properties.unit = { type: "string", enum: ["c", "f"] };
const ask = [{ role: "user", content: "What is the weather in Paris?" }];

function check_weather_args(args) {
  const a = JSON.parse(args);
  assert.deepEqual(Object.keys(a).sort(), ["city", "unit"]);
  assert.equal(typeof a.city, "string");
  assert.ok([...a.city].length <= 12, a.city);
  assert.ok(["c", "f"].includes(a.unit), a.unit);
}

function check_time_args(args) {
  const a = JSON.parse(args);
  assert.ok(Object.keys(a).includes("zone"), args);
  assert.ok(Number.isInteger(a.zone), args);
}

// One forced call among get_weather and get_time, its arguments valid against its own tool.
function check_one_call(c) {
  assert.equal(c.finish_reason, "tool_calls", JSON.stringify(c));
  assert.equal(c.message.content, null);
  assert.equal(c.message.tool_calls.length, 1, JSON.stringify(c.message));
  const call = c.message.tool_calls[0];
  assert.match(call.id, /^call_/);
  if (call.function.name === "get_time") check_time_args(call.function.arguments);
  else if (call.function.name === "get_weather") check_weather_args(call.function.arguments);
  else assert.fail(`unknown function ${call.function.name}`);
  return call;
}

test("tool_choice required forces a call whose arguments validate, for every seed", async () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = await client.chat.completions.create({
      model: "m", messages: ask, tools: [weather], tool_choice: "required", parallel_tool_calls: false,
      max_tokens: 300, seed, temperature: 1,
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, "tool_calls", JSON.stringify(c));
    assert.equal(c.message.content, null);
    assert.equal(c.message.tool_calls.length, 1);
    const call = c.message.tool_calls[0];
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, "get_weather");
    check_weather_args(call.function.arguments);
  }
});

test("a named function is the one called", async () => {
  for (const name of ["get_time", "get_weather"]) {
    const r = await client.chat.completions.create({
      model: "m", messages: ask, tools: [weather, time], tool_choice: { type: "function", function: { name } },
      max_tokens: 300, seed: 5,
    });
    const calls = r.choices[0].message.tool_calls;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function.name, name);
    if (name === "get_time") assert.equal(typeof JSON.parse(calls[0].function.arguments).zone, "number");
    else check_weather_args(calls[0].function.arguments);
  }
});

// Streams a forced call and checks it as OpenAI streams one: a first delta with the id, the name and
// empty arguments, then the arguments in several deltas as they are generated, adding up to the
// arguments of the same request answered whole; finish_reason tool_calls.
async function check_streamed_call(c, body) {
  const whole = (await c.chat.completions.create(body)).choices[0].message.tool_calls[0];
  let args = "", finish = null, first = null, n_arg_deltas = 0;
  for await (const chunk of await c.chat.completions.create({ ...body, stream: true })) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    for (const tc of ch.delta.tool_calls ?? []) {
      assert.equal(tc.index, 0);
      if (first === null) first = tc;
      else assert.equal(tc.function?.name, undefined, "only the first delta names the function");
      if (first !== tc && tc.function?.arguments) ++n_arg_deltas;
      args += tc.function?.arguments ?? "";
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(first.function.name, whole.function.name, "the first delta names the function");
  assert.equal(first.function.arguments, "");
  assert.match(first.id, /^call_/);
  assert.equal(args, whole.function.arguments);
  assert.ok(n_arg_deltas >= 3, `the arguments came in ${n_arg_deltas} deltas`);
  assert.equal(finish, "tool_calls");
  return whole;
}

test("streamed calls: the name first, then the arguments in several deltas; equal to the whole answer", async () => {
  const body = { model: "m", messages: ask, tools: [weather], tool_choice: "required", parallel_tool_calls: false, max_tokens: 300, seed: 9 };
  const whole = await check_streamed_call(client, body);
  assert.equal(whole.function.name, "get_weather");
  check_weather_args(whole.function.arguments);
});

// As OpenAI: a call max_tokens cuts short is still a call, its arguments as far as they were written,
// finish_reason length; streamed, its deltas add up to the same call.
test("a call cut by max_tokens stays a call, whole and streamed alike", async () => {
  const body = { model: "m", messages: ask, tools: [weather], tool_choice: "required", parallel_tool_calls: false, seed: 9 };
  const full = await client.chat.completions.create({ ...body, max_tokens: 300 });
  const whole = full.choices[0].message.tool_calls[0];
  const cut_body = { ...body, max_tokens: Math.floor(full.usage.completion_tokens * 0.8) };
  const cut = (await client.chat.completions.create(cut_body)).choices[0];
  assert.equal(cut.finish_reason, "length");
  assert.equal(cut.message.tool_calls?.length, 1, JSON.stringify(cut.message));
  const call = cut.message.tool_calls[0];
  assert.equal(call.function.name, whole.function.name);
  assert.ok(whole.function.arguments.startsWith(call.function.arguments), `${call.function.arguments} / ${whole.function.arguments}`);
  assert.ok(call.function.arguments.length < whole.function.arguments.length);
  let name = null, args = "", content = "", finish = null;
  for await (const chunk of await client.chat.completions.create({ ...cut_body, stream: true })) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    for (const tc of ch.delta.tool_calls ?? []) {
      assert.equal(tc.index, 0);
      name ??= tc.function?.name;
      args += tc.function?.arguments ?? "";
    }
    content += ch.delta.content ?? "";
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(name, call.function.name);
  assert.equal(args, call.function.arguments);
  assert.equal(content, cut.message.content ?? "");
  assert.equal(finish, "length");
});

test("a tool round trip: the call and its result go back into the prompt, and the model answers", async () => {
  const r1 = await client.chat.completions.create({
    model: "m", messages: ask, tools: [weather], tool_choice: "required", parallel_tool_calls: false, max_tokens: 300, seed: 2,
  });
  const msg = r1.choices[0].message;
  const messages = [...ask, msg, { role: "tool", tool_call_id: msg.tool_calls[0].id, content: "{\"temp\": 21, \"sky\": \"sunny\"}" }];
  const r2 = await client.chat.completions.create({ model: "m", messages, tools: [weather], max_tokens: 16, temperature: 0 });
  assert.equal(typeof r2.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r2.choices[0].finish_reason));
  // The prompt holds the call and the result (POST /apply-template shows it as text).
  const p = await fetch(`${srv.url}/apply-template`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ messages, tools: [weather] }),
  }).then((x) => x.json());
  assert.ok(p.prompt.includes("sunny"), p.prompt);
  assert.ok(p.prompt.includes("get_weather"), p.prompt);
  assert.ok(r2.usage.prompt_tokens > r1.usage.prompt_tokens);
});

test("response_format cannot be combined with a forced call; an unknown named function is a 400", async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: "m", messages: ask, tools: [weather], tool_choice: "required", response_format: { type: "json_object" }, max_tokens: 8,
    }),
    (e) => e.status === 400 && e.param === "response_format",
  );
  await assert.rejects(
    client.chat.completions.create({
      model: "m", messages: ask, tools: [weather], tool_choice: { type: "function", function: { name: "nope" } }, max_tokens: 8,
    }),
    (e) => e.status === 400 && /tool_choice/.test(e.param),
  );
});

// tool_choice auto: an answer that opens like the generic call object ("{") but cannot be one streams
// as it is generated, not at its end (logit_bias makes the model write "{{{...").
test("tool_choice auto: text that cannot be a call streams token by token", async () => {
  const r = await fetch(`${srv.url}/tokenize`, { method: "POST", body: JSON.stringify({ content: "{" }) });
  const brace = (await r.json()).tokens.at(-1);
  const body = { model: "m", messages: ask, tools: [weather], max_tokens: 64, temperature: 0, logit_bias: { [brace]: 100 } };
  const whole = (await client.chat.completions.create(body)).choices[0].message;
  assert.ok(whole.content.startsWith("{{"), JSON.stringify(whole));
  assert.equal(whole.tool_calls, undefined);
  let content = "", n_deltas = 0, finish = null;
  for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) {
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.content) ++n_deltas;
    content += c.delta.content ?? "";
    assert.equal(c.delta.tool_calls, undefined);
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(content, whole.content);
  assert.equal(finish, "length");
  // held back, it would come in one delta at the end (a busy server merges the deltas of a fast model)
  assert.ok(n_deltas >= 3, `the content came in ${n_deltas} deltas`);
});

// Gemma 4 writes <|tool_call>call:NAME{key:<|"|>text<|"|>,n:1}<tool_call|>: the grammar forces that
// syntax, and the calls come back as OpenAI's with JSON arguments.
describe("gemma4-tiny with Gemma 4's template", () => {
  let g4, c4;
  before(async () => {
    g4 = await startServer("gemma4-tiny-F32.gguf", ["--chat-template-file", template("gemma4.jinja")]);
    c4 = new OpenAI({ baseURL: `${g4.url}/v1`, apiKey: "none" });
  });
  after(async () => assert.equal((await g4.stop()).code, 0));

  test("tool_choice required among two tools: one call whose arguments validate, for every seed", async () => {
    const names = new Set();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = await c4.chat.completions.create({
        model: "m", messages: ask, tools: [weather_typed, time], tool_choice: "required", parallel_tool_calls: false,
        max_tokens: 200, seed, temperature: 1,
      });
      names.add(check_one_call(r.choices[0]).function.name);
    }
    assert.deepEqual([...names].sort(), ["get_time", "get_weather"], "both tools are chosen across the seeds");
  });

  test("a named function is the one called", async () => {
    for (const name of ["get_weather", "get_time"]) {
      const r = await c4.chat.completions.create({
        model: "m", messages: ask, tools: [weather_typed, time], tool_choice: { type: "function", function: { name } },
        max_tokens: 200, seed: 7,
      });
      const call = check_one_call(r.choices[0]);
      assert.equal(call.function.name, name);
    }
  });

  test("a pattern holds in Gemma 4's argument strings, for every seed", async () => {
    const code = { type: "string", pattern: "^[A-Z]{3}-\\d{2}$" };
    const note = { type: "string", pattern: "^<[a-z]{1,6}( [a-z]{1,6}){0,2}>$" };
    const book = {
      type: "function",
      function: {
        name: "book",
        parameters: { type: "object", properties: { code, note }, required: ["code", "note"], additionalProperties: false },
      },
    };
    for (const seed of [1, 2, 3, 4]) {
      const r = await c4.chat.completions.create({
        model: "m", messages: ask, tools: [book], tool_choice: "required", max_tokens: 300, seed, temperature: 1,
      });
      const c = r.choices[0];
      assert.equal(c.finish_reason, "tool_calls", JSON.stringify(c));
      assert.equal(c.message.tool_calls.length, 1, JSON.stringify(c.message));
      const call = c.message.tool_calls[0];
      assert.equal(call.function.name, "book");
      const a = JSON.parse(call.function.arguments);
      assert.match(a.code, new RegExp(code.pattern), call.function.arguments);
      assert.match(a.note, new RegExp(note.pattern), call.function.arguments);
    }
  });

  test("a streamed call: its name, then its arguments as JSON in several deltas", async () => {
    for (const seed of [1, 2]) {
      const body = {
        model: "m", messages: ask, tools: [weather_typed, time], tool_choice: { type: "function", function: { name: "get_weather" } },
        max_tokens: 200, seed, temperature: 1,
      };
      const whole = await check_streamed_call(c4, body);
      check_weather_args(whole.function.arguments);
    }
  });
});

// functionary v3.2 writes the recipient's name, a newline and the arguments: tool_choice required
// with several tools is an alternation over the names, each followed by its own arguments.
describe("stories260K with functionary v3.2's template", () => {
  let fs, cf;
  before(async () => {
    fs = await startServer("stories260K.gguf", ["--chat-template-file", template("functionary-v3.2.jinja")]);
    cf = new OpenAI({ baseURL: `${fs.url}/v1`, apiKey: "none" });
  });
  after(async () => assert.equal((await fs.stop()).code, 0));

  test("tool_choice required chooses among several tools, each call valid against its own tool", async () => {
    const seen = [];
    for (const seed of [1, 2, 3, 4]) {
      const r = await cf.chat.completions.create({
        model: "m", messages: ask, tools: [weather, time], tool_choice: "required", max_tokens: 300, seed, temperature: 1,
      });
      const c = r.choices[0];
      assert.equal(c.finish_reason, "tool_calls", JSON.stringify(c));
      assert.ok(c.message.tool_calls.length >= 1);
      for (const call of c.message.tool_calls) {
        seen.push(call.function.name);
        if (call.function.name === "get_time") check_time_args(call.function.arguments);
        else check_weather_args(call.function.arguments);
      }
    }
    assert.ok(seen.includes("get_time") && seen.includes("get_weather"), seen.join());
  });
});

// gpt-oss writes each call as a message of its own (<|channel|>commentary to=functions.NAME ...
// <|call|>, the ones after the first opened by <|start|>assistant): tool_choice required with
// parallel_tool_calls gives several calls, each valid against its own tool; without, exactly one.
// The reasoning budget keeps the analysis message short.
describe("stories260K with gpt-oss's template", () => {
  let go, cg;
  before(async () => {
    go = await startServer("stories260K.gguf", ["--chat-template-file", template("gpt-oss.jinja"), "--reasoning-budget", "4"]);
    cg = new OpenAI({ baseURL: `${go.url}/v1`, apiKey: "none" });
  });
  after(async () => assert.equal((await go.stop()).code, 0));

  test("tool_choice required: parallel calls when allowed, one when not", async () => {
    const described = structuredClone(time);  // the template prints every tool's description
    described.function.description = "The time in a zone";
    const counts = [];
    for (const seed of [1, 2, 5]) {
      const body = { model: "m", messages: ask, tools: [weather, described], tool_choice: "required", max_tokens: 400, seed, temperature: 1 };
      const c = (await cg.chat.completions.create({ ...body, parallel_tool_calls: true })).choices[0];
      // a tiny model may go on writing calls until max_tokens (up to 8): the whole ones come back
      assert.ok(["tool_calls", "length"].includes(c.finish_reason), JSON.stringify(c));
      counts.push(c.message.tool_calls.length);
      for (const call of c.message.tool_calls) {
        if (call.function.name === "get_time") check_time_args(call.function.arguments);
        else check_weather_args(call.function.arguments);
      }
      check_one_call((await cg.chat.completions.create({ ...body, parallel_tool_calls: false })).choices[0]);
    }
    assert.ok(counts.some((n) => n >= 2), `calls per answer: ${counts}`);
  });
});
