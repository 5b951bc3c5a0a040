// `tandem run` as a user runs it in a pipe: stdout holds only the generated text (llama.cpp's
// greedy continuation of stories260K), every log line and the timings go to stderr; with a drafter
// too, whose acceptance is reported on stderr.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { BIN, SHARED, model } from "./server.mjs";

function run(args) {
  return new Promise((resolve) => {
    execFile(BIN, ["run", ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }),
    );
  });
}

const golden = JSON.parse(readFileSync(`${SHARED}/golden/stories260K/p0_short.json`, "utf8"));
const want = Buffer.from(golden.greedy.text_hex, "hex").toString("utf8");
const common = ["-m", model("stories260K.gguf"), "-n", "32", "--temp", "0", "--ignore-eos", "-t", "1"];

test("tandem run > out.txt holds only llama.cpp's greedy continuation", async () => {
  const r = await run([...common, "-p", "Once upon a time"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want + "\n", `stdout must be exactly the continuation; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /\[info\] model llama/, "the load log goes to stderr");
  assert.match(r.stderr, /generated 32 tokens/);
});

// A prompt that repeats itself, so that n-gram lookup drafts; the text must not change.
const looping = "Tom had a ball. Tom had a ball. Tom had a ball. Tom had";
for (const extra of [[], ["--spec-type", "ngram", "--draft-max", "3", "--draft-adaptive", "false"]]) {
  test(`tandem run ${extra.join(" ") || "(plain)"} on a looping prompt: stdout is the text alone`, async () => {
    const plain = await run([...common, "-p", looping]);
    const r = await run([...common, "-p", looping, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, plain.stdout, `stdout must be exactly the continuation; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /\[info\] model llama/, "the load log goes to stderr");
    assert.match(r.stderr, /generated 32 tokens/);
    if (extra.length) assert.match(r.stderr, /drafts: [1-9]\d* tokens, \d+ accepted/);
  });
}

test("tandem run refuses a drafter that does not fit, with a message and no output", async () => {
  const r = await run(["-m", model("stories260K.gguf"), "-p", "x", "-n", "4", "-md", model("llama-spm-tiny-Q8_0.gguf")]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /vocabulary/);
});

test("tandem --version prints the project's version (the one the Debian package carries)", async () => {
  const cmake = readFileSync(new URL("../../CMakeLists.txt", import.meta.url), "utf8");
  const version = cmake.match(/project\(tandem VERSION ([0-9.]+)/)[1];
  const r = await new Promise((resolve) =>
    execFile(BIN, ["--version"], (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr })),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `tandem ${version}\n`);
});
