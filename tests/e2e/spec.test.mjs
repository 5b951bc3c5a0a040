// Speculative decoding through the real server and the official openai SDK: a server with a
// drafter (draft model, MTP assistant, n-gram) answers exactly what the same server without one
// answers (text, logprobs, usage), for parallel clients, streaming and not, greedy and seeded
// sampling; unseeded sampling gets sampled drafts accepted by ratio; responses carry the draft
// counts in `timings`; /metrics counts the rounds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, model } from "./server.mjs";

const servers = {};
const clients = {};

async function start(name, file, args) {
  servers[name] = await startServer(file, ["--parallel", "4", ...args]);
  clients[name] = new OpenAI({ baseURL: `${servers[name].url}/v1`, apiKey: "none" });
}

before(async () => {
  await start("plain", "llama-spm-tiny-F16.gguf", []);
  await start("draft", "llama-spm-tiny-F16.gguf", ["-md", model("llama-spm-tiny-Q4_0.gguf"), "--draft-max", "3", "--draft-adaptive", "false"]);
  await start("ngram", "llama-spm-tiny-F16.gguf", ["--spec-type", "ngram", "--draft-max", "4", "--draft-adaptive", "false"]);
  await start("gemma", "gemma4-tiny-F32.gguf", []);
  await start("mtp", "gemma4-tiny-F32.gguf", ["-md", model("gemma4-assistant-tiny-F32.gguf"), "--draft-max", "2", "--draft-adaptive", "false"]);
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal((await s.stop()).code, 0, "SIGTERM exits 0");
});

// The last one repeats itself, so that n-gram lookup finds something to propose.
const prompts = ["Hello, my name is", "The children walked to the river", "Once upon a time", "red green blue red green blue red green"];

function request(prompt, i, extra = {}) {
  return { model: "m", prompt, max_tokens: 24, temperature: 0, logprobs: 2, ignore_eos: true, seed: 100 + i, ...extra };
}

async function all(client, bodies) {
  return Promise.all(bodies.map((b) => client.completions.create(b)));
}

function same(a, b, what) {
  assert.equal(b.choices[0].text, a.choices[0].text, `${what}: text`);
  assert.deepEqual(b.choices[0].logprobs, a.choices[0].logprobs, `${what}: logprobs`);
  assert.deepEqual(b.usage, a.usage, `${what}: usage`);
  assert.equal(b.choices[0].finish_reason, a.choices[0].finish_reason, `${what}: finish`);
}

for (const [name, base] of [["draft", "plain"], ["ngram", "plain"], ["mtp", "gemma"]]) {
  test(`${name}: parallel greedy and seeded-sampling clients get the plain server's answers`, async () => {
    let drafted = 0;
    for (const sampling of [{}, { temperature: 0.8, top_p: 0.9 }]) {
      const bodies = prompts.map((p, i) => request(p, i, sampling));
      const [want, got] = [await all(clients[base], bodies), await all(clients[name], bodies)];
      for (let i = 0; i < bodies.length; i++) same(want[i], got[i], `${name} ${JSON.stringify(sampling)} #${i}`);
      drafted += got.reduce((n, r) => n + r.timings.draft_n, 0);
      for (const r of got) assert.ok(r.timings.draft_n_accepted <= r.timings.draft_n);
      assert.equal(want[0].timings.draft_n, 0);
    }
    assert.ok(drafted > 0, `${name}: timings.draft_n must count the drafts`);
  });

  test(`${name}: streaming concatenates to the non-streaming answer, with timings on the finish chunk`, async () => {
    const body = request(prompts[3], 3, { logprobs: undefined });
    const whole = await clients[name].completions.create(body);
    let text = "", timings = null, finishes = 0;
    const stream = await clients[name].completions.create({ ...body, stream: true });
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.text ?? "";
        if (c.finish_reason) finishes++;
      }
      if (chunk.timings) timings = chunk.timings;
    }
    assert.equal(text, whole.choices[0].text);
    assert.equal(finishes, 1);
    assert.ok(timings && timings.draft_n > 0, `finish chunk timings: ${JSON.stringify(timings)}`);
    assert.equal(timings.predicted_n, 24);
  });
}

test("draft: unseeded sampling clients get sampled drafts, accepted by ratio", async () => {
  // The Q4_0 draft of the same model draws nearly the anchor's distribution: most drafts are kept.
  const bodies = prompts.map((p) => ({ model: "m", prompt: p, max_tokens: 24, temperature: 1, ignore_eos: true }));
  const got = await all(clients.draft, bodies);
  let drafted = 0, accepted = 0;
  for (const r of got) {
    assert.equal(r.usage.completion_tokens, 24);
    assert.equal(r.choices[0].finish_reason, "length");
    drafted += r.timings.draft_n;
    accepted += r.timings.draft_n_accepted;
  }
  assert.ok(drafted > 0 && accepted > drafted / 2, `accepted ${accepted} of ${drafted} drafts`);
});

test("chat through a drafting server equals chat without one", async () => {
  const body = { model: "m", messages: [{ role: "user", content: "Tell me about rivers" }], max_tokens: 16, temperature: 0 };
  const [a, b] = [await clients.plain.chat.completions.create(body), await clients.draft.chat.completions.create(body)];
  assert.equal(b.choices[0].message.content, a.choices[0].message.content);
});

test("/metrics counts speculative rounds, draft and accepted tokens by position", async () => {
  const text = await (await fetch(`${servers.draft.url}/metrics`)).text();
  const value = (name) => Number((text.match(new RegExp(`^${name} (\\S+)$`, "m")) ?? [])[1]);
  assert.ok(value("tandem_spec_decode_num_drafts_total") > 0, text);
  assert.ok(value("tandem_spec_decode_num_draft_tokens_total") >= value("tandem_spec_decode_num_accepted_tokens_total"));
  assert.ok(value("tandem_spec_decode_num_accepted_tokens_total") > 0);
  assert.match(text, /tandem_spec_decode_num_accepted_tokens_per_pos_total\{position="2"\} \d+/);
  const mean = value("tandem_spec_decode_mean_acceptance_length");
  assert.ok(mean >= 1 && mean <= 4, `mean acceptance length ${mean}`);
  const plain = await (await fetch(`${servers.plain.url}/metrics`)).text();
  assert.match(plain, /^tandem_spec_decode_num_drafts_total 0$/m);
});
