// `tandem serve --device vulkan:N` end to end (label vulkan; lavapipe in CI): the same greedy text
// as the CPU, streamed and whole, through the openai SDK, also with prefix-cache hits, with
// preemption in a small KV pool, and with every drafter (MTP, a draft model, n-gram); a device that
// does not exist is refused at start with the devices listed, and so is a model past the device's
// memory; `tandem devices` shows the device; a device lost while serving ends the requests in
// flight with errors and the server exits 1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import OpenAI from "openai";
import { startServer, BIN, metric, model } from "./server.mjs";

const DEVICE = process.env.TANDEM_TEST_VK_DEVICE ?? "vulkan:0";
let cpu, gpu;

before(async () => {
  cpu = await startServer("stories260K.gguf", ["--parallel", "4"]);
  gpu = await startServer("stories260K.gguf", ["--parallel", "4", "--device", DEVICE]);
});
after(async () => {
  for (const s of [cpu, gpu]) if (s) assert.equal((await s.stop()).code, 0, "SIGTERM exits 0");
});

const client = (s) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none" });

async function streamed(s, body) {
  let text = "";
  for await (const chunk of await client(s).completions.create({ ...body, stream: true })) text += chunk.choices[0]?.text ?? "";
  return text;
}

test("greedy completions on the Vulkan device equal the CPU's, whole and streamed, several at once", async () => {
  const prompts = ["Once upon a time", "One day, Lily met a", "The cat sat", "Tom had a red ball and"];
  const body = (prompt) => ({ model: "m", prompt, max_tokens: 40, temperature: 0 });
  const want = await Promise.all(prompts.map(async (p) => (await client(cpu).completions.create(body(p))).choices[0].text));
  const [whole, stream] = await Promise.all([
    Promise.all(prompts.map(async (p) => (await client(gpu).completions.create(body(p))).choices[0].text)),
    Promise.all(prompts.map((p) => streamed(gpu, body(p)))),
  ]);
  for (let i = 0; i < prompts.length; ++i) {
    assert.ok(want[i].length > 20, `CPU text ${JSON.stringify(want[i])}`);
    assert.equal(whole[i], want[i], `prompt ${i} whole`);
    assert.equal(stream[i], want[i], `prompt ${i} streamed`);
  }
});

test("seeded sampling on the Vulkan device draws the CPU's tokens", async () => {
  const body = { model: "m", prompt: "Once upon a time", max_tokens: 30, temperature: 0.9, seed: 1234 };
  const a = (await client(cpu).completions.create(body)).choices[0].text;
  const b = (await client(gpu).completions.create(body)).choices[0].text;
  assert.equal(b, a);
});

// Runs `fn(server)` on a CPU server and a Vulkan server started with the same model and arguments,
// side by side, and stops both (each must exit 0).
async function onBoth(file, args, fn) {
  const a = await startServer(file, args);
  let b;
  try {
    b = await startServer(file, [...args, "--device", DEVICE]);
    return await Promise.all([fn(a), fn(b)]);
  } finally {
    for (const s of [a, b]) if (s) assert.equal((await s.stop()).code, 0, "SIGTERM exits 0");
  }
}

test("prefix caching on the Vulkan device: a repeated prompt hits the cache as on the CPU, same text", async () => {
  // 40-odd prompt tokens: two full 16-token blocks are cached after the first request; the second
  // request (and one sharing only the first sentence) reads them from the device's KV pool.
  const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog. One day,";
  const bodies = [story, story, story.slice(0, 60) + " the sun was"].map((prompt) => ({
    model: "m", prompt, max_tokens: 24, temperature: 0,
  }));
  const [cpuRun, gpuRun] = await onBoth("stories260K.gguf", ["--parallel", "2"], async (s) => {
    const texts = [], hits = [];
    for (const b of bodies) {
      const r = await client(s).completions.create(b);
      texts.push(r.choices[0].text);
      hits.push(r.usage.prompt_tokens_details?.cached_tokens ?? 0);
    }
    return { texts, hits, total: await metric(s.url, "tandem_prefix_cache_hit_tokens_total") };
  });
  assert.equal(cpuRun.hits[0], 0, "nothing cached before the first request");
  assert.ok(cpuRun.hits[1] >= 32, `the repeated prompt hits at least two blocks on the CPU: ${cpuRun.hits}`);
  assert.ok(cpuRun.hits[2] > 0, `the shared first sentence hits on the CPU: ${cpuRun.hits}`);
  assert.deepEqual(gpuRun.hits, cpuRun.hits, "usage.prompt_tokens_details.cached_tokens");
  assert.equal(gpuRun.total, cpuRun.total, "tandem_prefix_cache_hit_tokens_total");
  for (let i = 0; i < bodies.length; ++i) {
    assert.ok(cpuRun.texts[i].length > 10, `CPU text ${JSON.stringify(cpuRun.texts[i])}`);
    assert.equal(gpuRun.texts[i], cpuRun.texts[i], `request ${i}`);
  }
});

test("preemption on the Vulkan device: a KV pool too small for four streams preempts, same text as the CPU", async () => {
  // 8 blocks of 16 tokens; each request grows to ~70 tokens (5 blocks): no two fit at once,
  // so the newest are preempted and recomputed later. Their text must not change.
  const prompts = ["Once upon a time", "One day, Lily met a", "The cat sat", "Tom had a red ball and"];
  const body = (prompt) => ({ model: "m", prompt, max_tokens: 64, temperature: 0 });
  const [cpuRun, gpuRun] = await onBoth("stories260K.gguf", ["--parallel", "4", "--kv-blocks", "8"], async (s) => {
    const texts = await Promise.all(prompts.map(async (p) => (await client(s).completions.create(body(p))).choices[0].text));
    return { texts, preempted: await metric(s.url, "tandem_preemptions_total") };
  });
  assert.ok(cpuRun.preempted > 0, "the CPU server preempted");
  assert.ok(gpuRun.preempted > 0, "the Vulkan server preempted");
  for (let i = 0; i < prompts.length; ++i) {
    assert.ok(cpuRun.texts[i].length > 40, `CPU text ${JSON.stringify(cpuRun.texts[i])}`);
    assert.equal(gpuRun.texts[i], cpuRun.texts[i], `prompt ${i}`);
  }
});

// Greedy text, drafts and accepted drafts of `prompts`, sent together.
async function drafted(s, prompts, max_tokens) {
  const rs = await Promise.all(
    prompts.map((prompt) => client(s).completions.create({ model: "m", prompt, max_tokens, temperature: 0 })),
  );
  return {
    texts: rs.map((r) => r.choices[0].text),
    drafts: rs.reduce((n, r) => n + r.timings.draft_n, 0),
    accepted: rs.reduce((n, r) => n + r.timings.draft_n_accepted, 0),
  };
}

test("speculative decoding with a draft model on the Vulkan device gives the CPU's greedy text", async () => {
  // The model drafts for itself: a second model with KV blocks of its own on the same device, whose
  // drafts the anchor accepts all (on the CPU) as long as it reads back the K/V it wrote; a draft
  // model that attends to anything else drafts worse. (Rejected drafts and rollback on the device:
  // the n-gram and MTP tests.)
  const args = ["--parallel", "2", "-md", model("stories260K.gguf"), "--draft-max", "3", "--draft-adaptive", "false"];
  const prompts = ["Once upon a time", "Tom had a red ball and"];
  const [cpuRun, gpuRun] = await onBoth("stories260K.gguf", args, (s) => drafted(s, prompts, 32));
  const [plain] = await onBoth("stories260K.gguf", ["--parallel", "2"], (s) => drafted(s, prompts, 32));
  for (let i = 0; i < prompts.length; ++i) {
    assert.ok(plain.texts[i].length > 10, `CPU text ${JSON.stringify(plain.texts[i])}`);
    assert.equal(cpuRun.texts[i], plain.texts[i], `CPU with a draft model, prompt ${i}`);
    assert.equal(gpuRun.texts[i], cpuRun.texts[i], `prompt ${i}`);
  }
  assert.ok(cpuRun.drafts > 0 && cpuRun.accepted === cpuRun.drafts, `CPU: accepted ${cpuRun.accepted} of ${cpuRun.drafts}`);
  assert.equal(gpuRun.drafts, cpuRun.drafts, "the same drafts as on the CPU");
  assert.equal(gpuRun.accepted, cpuRun.accepted, "every draft accepted, as on the CPU");
});

test("speculative decoding with n-gram lookup on the Vulkan device gives the CPU's greedy text", async () => {
  const args = ["--parallel", "2", "--spec-type", "ngram", "--draft-max", "4", "--draft-adaptive", "false"];
  const prompts = ["red green blue red green blue red green", "Once upon a time, Lily and Tom. Once upon a time, Lily"];
  const [cpuRun, gpuRun] = await onBoth("stories260K.gguf", args, (s) => drafted(s, prompts, 32));
  for (let i = 0; i < prompts.length; ++i) {
    assert.ok(cpuRun.texts[i].length > 10, `CPU text ${JSON.stringify(cpuRun.texts[i])}`);
    assert.equal(gpuRun.texts[i], cpuRun.texts[i], `prompt ${i}`);
  }
  assert.ok(gpuRun.drafts > 0, "n-gram lookup drafted");
  assert.equal(gpuRun.drafts, cpuRun.drafts, "the same drafts as on the CPU");
  assert.equal(gpuRun.accepted, cpuRun.accepted, "the same acceptance as on the CPU");
});

test("a device that does not exist is refused at start, naming the devices there are", async () => {
  await assert.rejects(startServer("stories260K.gguf", ["--device", "vulkan:99"]), (e) => {
    assert.match(e.message, /no such Vulkan device/);
    assert.match(e.message, /vulkan:0/);
    return true;
  });
  await assert.rejects(startServer("stories260K.gguf", ["--device", "gpu0"]), /expected cpu, vulkan or vulkan:N/);
});

test("a KV cache larger than the device can hold is refused at start with the reason", async () => {
  await assert.rejects(startServer("stories260K.gguf", ["--device", DEVICE, "--kv-blocks", "50000000"]), (e) => {
    assert.match(e.message, /exceeds the device's buffer range/);
    assert.match(e.message, /--kv-memory/);
    return true;
  });
});

test("a model past the device's memory is refused at start with the reason, not a crash", async () => {
  // TANDEM_VK_MEMORY_LIMIT_MIB: the allocator's test hook, a device of 130 MiB (lavapipe's activation
  // arena takes 128 of them, a GPU's up to 512, so the arena or a weight is what does not fit).
  const env = { TANDEM_VK_MEMORY_LIMIT_MIB: "130" };
  await assert.rejects(startServer("llama-spm-tiny-Q4_K_M.gguf", ["--device", DEVICE], env), (e) => {
    assert.match(e.message, /server exited early \(1\)/);
    assert.match(e.message, /Vulkan: allocating .* failed \(it would pass the limit of 130 MiB set by TANDEM_VK_MEMORY_LIMIT_MIB/);
    assert.match(e.message, /need more memory than the device has free/);
    return true;
  });
});

test("tandem devices lists the device", async () => {
  const out = await new Promise((resolve, reject) =>
    execFile(BIN, ["devices"], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.match(out, /^cpu /m);
  assert.match(out, new RegExp(`^${DEVICE} `, "m"));
  // The memory serve may use: VK_EXT_memory_budget's budget where the device has it, else the heap.
  const line = out.split("\n").find((l) => l.startsWith(`${DEVICE} `));
  assert.match(line, /MiB device-local \((budget \d+ MiB, \d+ MiB in use|no VK_EXT_memory_budget: the heap's size is the limit)\)/);
  assert.match(gpu.log(), /on vulkan:\d+ .*, \d+ MiB of device memory reserved, up to (the device's \d+ MiB of memory|the device's memory budget of \d+ MiB \(VK_EXT_memory_budget)/, "serve names its memory limit");
});

// `tandem bench` with tiny shapes: stdout has the figures, stderr the engine's log.
function bench(args) {
  return new Promise((resolve, reject) =>
    execFile(BIN, ["bench", "-m", model("stories260K.gguf"), "--device", DEVICE, "-r", "1", ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    ),
  );
}

test("tandem bench --device measures pp, tg and the N-stream step cost on the device, plain and speculative", async () => {
  const plain = await bench(["-p", "16", "-n", "4", "--np", "1,2", "--ctx", "8", "--steps", "3"]);
  assert.match(plain.stdout, new RegExp(`^device: ${DEVICE},`, "m"));
  assert.match(plain.stdout, /^pp16: [\d.]+ tok\/s\ntg4: [\d.]+ tok\/s$/m);
  assert.match(plain.stdout, /^ {2}streams {2}2: +[\d.]+ ms\/step +[\d.]+ tok\/s +cost [\d.]+x 1 stream$/m);
  assert.match(plain.stderr, new RegExp(`on ${DEVICE} `), "the engine ran on the device");
  // Speculative mode: both runs (plain and with the drafter) on the device too.
  const spec = await bench(["-md", model("stories260K.gguf"), "-n", "8", "--np", "1", "--draft-max", "2"]);
  assert.match(spec.stdout, new RegExp(`^speculative decoding on ${DEVICE}:`, "m"));
  assert.match(spec.stdout, /^k <= 2 +[\d.]+ tok\/s/m);
  const engines = spec.stderr.match(/\] model .* on (\S+) /g) ?? [];
  assert.equal(engines.length, 2, spec.stderr);
  for (const line of engines) assert.match(line, new RegExp(`on ${DEVICE} `));
});

test("speculative decoding with the MTP assistant on the Vulkan device gives the CPU's greedy text", async () => {
  const args = ["--parallel", "2", "-md", `${process.env.TANDEM_SHARED_DIR}/models/gemma4-assistant-tiny-F32.gguf`];
  const a = await startServer("gemma4-tiny-F32.gguf", args);
  const b = await startServer("gemma4-tiny-F32.gguf", [...args, "--device", DEVICE]);
  try {
    const body = { model: "m", prompt: "Once upon a time", max_tokens: 24, temperature: 0 };
    const want = (await client(a).completions.create(body)).choices[0].text;
    const got = (await client(b).completions.create(body)).choices[0].text;
    assert.ok(want.length > 0);
    assert.equal(got, want);
    const m = await fetch(`${b.url}/metrics`).then((r) => r.text());
    assert.match(m, /tandem_spec_decode_num_draft_tokens_total\s+[1-9]/, "the assistant drafted on the device");
  } finally {
    for (const s of [a, b]) assert.equal((await s.stop()).code, 0);
  }
});

test("a lost device ends the requests in flight with a 500, says so in the log, and the server exits 1", async () => {
  // TANDEM_VK_LOSE_DEVICE_AFTER: the recorder's test hook, VK_ERROR_DEVICE_LOST from the fence wait
  // after that many forward submits: some tokens into the two requests below, late enough that both
  // are admitted even when the machine is busy (both still have tokens to go at max_tokens 60).
  const s = await startServer("stories260K.gguf", ["--parallel", "4", "--device", DEVICE], {
    TANDEM_VK_LOSE_DEVICE_AFTER: "20",
  });
  const post = (stream) =>
    fetch(`${s.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", prompt: "Once upon a time", max_tokens: 60, temperature: 0, stream }),
    });
  const [whole, streamed] = await Promise.all([post(false), post(true)]);
  assert.equal(whole.status, 500);
  const err = (await whole.json()).error;
  assert.equal(err.type, "server_error");
  assert.match(err.message, /the compute device was lost: .*VK_ERROR_DEVICE_LOST/);
  assert.equal(streamed.status, 200, "the stream had begun");
  const events = await streamed.text();
  assert.match(events, /data: \{"error":\{.*the compute device was lost/, "the stream ends with an error event");
  const { code, signal } = await s.exited;
  assert.equal(signal, null);
  assert.equal(code, 1, "exits 1 for systemd's Restart=on-failure");
  assert.match(s.log(), /critical.*VK_ERROR_DEVICE_LOST.*the compute device was lost/);
  assert.match(s.log(), /the server exits with status 1 to be restarted/);
});
