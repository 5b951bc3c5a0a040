// Chat prompts through the real server and the official openai SDK: for each real template in
// tests/data/chat_templates, POST /apply-template gives llama-server's recorded text, and a chat
// completion of the same request counts the same prompt tokens as llama-server did (the BOS rule:
// stories260K's tokenizer adds BOS, so a BOS the template prints is not doubled). Requests with tools,
// assistant tool_calls and tool results are accepted; bad tool fields are 400s naming the param.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { startServer } from "./server.mjs";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "chat_templates");
const recorded = JSON.parse(readFileSync(join(dir, "llama_server_renders.json"), "utf8"));

// Templates that print today's date (Llama 3.x, Granite, gpt-oss) were recorded at recorded_at: the
// server's template clock is pinned there (--chat-template-date, read in UTC here).
const recordedTime = new Date(recorded.recorded_at * 1000).toISOString().slice(0, 19);

async function post(url, path, body) {
  const r = await fetch(url + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

test("prompts and their token counts agree with llama-server's on real templates", async () => {
  const templates = [...new Set(recorded.renders.map((r) => r.template))];
  let same = 0, counted = 0, rendered = 0;
  for (const name of templates) {
    const rows = recorded.renders.filter((r) => r.template === name && r.status === 200);
    if (rows.length === 0) continue;
    const s = await startServer("stories260K.gguf", ["--chat-template-file", join(dir, `${name}.jinja`), "-c", "4096",
      "--chat-template-date", recordedTime], { TZ: "UTC" });
    try {
      assert.equal((await (await fetch(`${s.url}/props`)).json()).chat_template_date, recordedTime);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none" });
      for (const row of rows) {
        ++rendered;
        const body = recorded.cases[row.case];
        const r = await post(s.url, "/apply-template", body);
        assert.equal(r.status, 200, `${name}/${row.case}: ${JSON.stringify(r.body)}`);
        if (r.body.prompt !== row.prompt) continue;  // the divergences test_prompt_identity explains
        ++same;
        if (row.n_prompt_tokens === undefined) continue;  // llama-server's completion failed (gpt-oss on stories260K)
        const res = await client.chat.completions.create({ ...body, model: "m", max_tokens: 1, temperature: 0 });
        assert.equal(res.usage.prompt_tokens, row.n_prompt_tokens, `${name}/${row.case}: prompt tokens`);
        ++counted;
      }
    } finally {
      await s.stop();
    }
  }
  console.log(`chat prompts: ${same} of ${rendered} identical to llama-server's, ${counted} token counts equal`);
  assert.ok(same >= 240, `only ${same} identical prompts`);
  assert.ok(counted >= 215, `only ${counted} token counts compared`);
});

const weather = {
  type: "function",
  function: { name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

test("tools, tool calls and tool results reach the template; bad tool fields are 400s", async () => {
  const s = await startServer("stories260K.gguf", ["--chat-template-file", join(dir, "qwen3.jinja"), "-c", "4096"]);
  try {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none" });
    const messages = [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_9", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_9", content: "rainy, 12 C" },
    ];
    const res = await client.chat.completions.create({ model: "m", messages, tools: [weather], tool_choice: "auto", max_tokens: 2 });
    assert.equal(res.choices.length, 1);
    const { body } = await post(s.url, "/apply-template", { messages, tools: [weather] });
    assert.match(body.prompt, /"name": "get_weather", "description": "Weather in a city"/);
    assert.match(body.prompt, /<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n<\/tool_call>/);
    assert.match(body.prompt, /<tool_response>\nrainy, 12 C\n<\/tool_response>/);

    const props = await (await fetch(`${s.url}/props`)).json();
    assert.equal(props.chat_template_source, "file");
    assert.equal(props.chat_template_caps.supports_tools, true);
    assert.equal(props.chat_template_caps.supports_thinking, true);
    assert.equal(props.add_bos, true);
    assert.equal(props.chat_template_date, null);  // the clock

    const bad = async (extra, param) => {
      await assert.rejects(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }], ...extra }), (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.error?.param ?? e.param, param);
        return true;
      });
    };
    await bad({ tools: [weather, weather] }, "tools[1].function.name");
    await bad({ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice.function.name");
    await bad({ tool_choice: "sometimes" }, "tool_choice");
    await bad({ chat_template_kwargs: [1] }, "chat_template_kwargs");
    await bad({ reasoning_effort: "max" }, "reasoning_effort");
  } finally {
    await s.stop();
  }
});
