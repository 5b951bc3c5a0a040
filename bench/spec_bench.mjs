// Speculative decoding benchmark: a synthetic Gemma 4 anchor and MTP assistants with a set acceptance
// (`tandem make-model --arch gemma4 | gemma4-assistant --accept P`), served plain and with the drafter
// at draft lengths k, by llama.cpp's llama-server and by `tandem serve`, to 1 and N parallel greedy
// streams of fixed length. Prints generated tokens/s (measured by the client from first to last
// streamed token) and each engine's speed-up over its own plain run, side by side.
// usage: node bench/spec_bench.mjs [--help] [options]   (see `usage` below)
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const usage = `options (defaults in brackets):
  --tandem BIN        tandem binary, for make-model and its own column [${root}/build/server/tandem]
  --no-tandem         llama.cpp only
  --peer DIR          llama.cpp tools (bin/, lib/) [${root}/../shared/peer]
  --dir DIR           where the pair is generated and logs go [/tmp/tandem-spec]
  --shape S           gemma4-tiny or gemma4-1b [gemma4-1b]
  --type T            f32, f16 or q8_0 [q8_0]
  --vocab F           vocab GGUF [${root}/../shared/models/vocab/ggml-vocab-llama-spm.gguf]
  --anchor F          use this anchor instead of generating one
  --assistant P=F     use this assistant for acceptance P (repeatable) instead of generating them
  --fresh             regenerate the pair in --dir (files there are reused otherwise)
  --accept LIST       acceptance values [0.5,0.75,0.9]
  --k LIST            draft lengths [1,2,3,4]
  --np LIST           parallel streams [1,4]
  --tokens N          generated tokens per stream [96]
  --repeat N          measurements per setting, the fastest kept (guards against a busy machine) [1]
  --threads N         compute threads [2]
  --port N            first port [18700]
  --tandem-args "..." extra arguments for tandem serve`;

function parse_args(argv) {
  const o = { tandem: `${root}/build/server/tandem`, peer: `${root}/../shared/peer`, dir: "/tmp/tandem-spec",
    shape: "gemma4-1b", type: "q8_0", vocab: `${root}/../shared/models/vocab/ggml-vocab-llama-spm.gguf`,
    anchor: "", assistants: {}, accept: [0.5, 0.75, 0.9], k: [1, 2, 3, 4], np: [1, 4], tokens: 96, repeat: 1, threads: 2,
    port: 18700, tandem_args: "", use_tandem: true, fresh: false };
  const list = (v) => v.split(",").map(Number);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === "--help" || a === "-h") { console.log(usage); process.exit(0); }
    else if (a === "--no-tandem") o.use_tandem = false;
    else if (a === "--fresh") o.fresh = true;
    else if (a === "--assistant") { const [p, f] = v().split("="); o.assistants[Number(p)] = f; }
    else if (["--accept", "--k", "--np"].includes(a)) o[a.slice(2)] = list(v());
    else if (["--tokens", "--repeat", "--threads", "--port"].includes(a)) o[a.slice(2)] = Number(v());
    else if (a === "--tandem-args") o.tandem_args = v();
    else if (a.startsWith("--") && a.slice(2) in o) o[a.slice(2)] = v();
    else throw new Error(`unknown option ${a}\n${usage}`);
  }
  if (Object.keys(o.assistants).length) o.accept = Object.keys(o.assistants).map(Number).sort();
  return o;
}

// The peer's lib/ may hold its symlinks as small text files naming the target: link them properly.
function peer_libs(o) {
  const src = path.join(o.peer, "lib"), dst = path.join(o.dir, "peer-lib");
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    const p = path.join(src, f);
    let target = p;
    if (fs.statSync(p).size < 256) {
      const name = fs.readFileSync(p, "utf8").trim();
      if (fs.existsSync(path.join(src, name))) target = path.join(src, name);
    }
    fs.rmSync(path.join(dst, f), { force: true });
    fs.symlinkSync(target, path.join(dst, f));
  }
  return dst;
}

function make_pair(o) {
  const generated = !o.anchor;
  if (generated) o.anchor = path.join(o.dir, `${o.shape}-${o.type}.gguf`);
  const make = (args, out) => {
    if (fs.existsSync(out) && !o.fresh) return;
    const r = spawnSync(o.tandem, ["make-model", ...args, "--shape", o.shape, "--type", o.type, "--vocab", o.vocab,
      "-o", out], { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`make-model failed for ${out}`);
  };
  if (generated) make(["--arch", "gemma4"], o.anchor);
  for (const p of o.accept) {
    if (o.assistants[p]) continue;
    o.assistants[p] = path.join(o.dir, `${o.shape}-assistant-${o.type}-p${Math.round(p * 100)}.gguf`);
    make(["--arch", "gemma4-assistant", "--accept", String(p)], o.assistants[p]);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts a server and waits for /health; returns {url, stop} or throws with the log's tail.
async function start_server(bin, args, env, port, log) {
  const out = fs.openSync(log, "w");
  const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", out, out] });
  let exited = null;
  proc.on("exit", (code) => { exited = code ?? "signal"; });
  const url = `http://127.0.0.1:${port}`;
  for (let t = 0; t < 600; t++) {
    if (exited !== null) break;
    try { if ((await fetch(`${url}/health`)).status === 200) break; } catch { /* not listening yet */ }
    await sleep(250);
  }
  const stop = async () => {
    if (exited === null) { proc.kill("SIGTERM"); for (let t = 0; t < 40 && exited === null; t++) await sleep(250); }
    if (exited === null) proc.kill("SIGKILL");
    fs.closeSync(out);
  };
  if (exited !== null) {
    await stop();
    const tail = fs.readFileSync(log, "utf8").trim().split("\n").slice(-4).join("\n");
    throw new Error(`${path.basename(bin)} exited (${exited}):\n${tail}`);
  }
  return { url, stop };
}

const prompts = ["Once upon a time", "The weather today is", "Here is a list of", "My favourite food is",
  "In the beginning", "The report says that", "Please tell me about", "A long way from home"];

// One greedy stream: {n tokens, first and last token times, llama.cpp's draft counts if reported}.
async function stream(url, prompt, tokens) {
  const r = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: tokens, temperature: 0, stream: true, ignore_eos: true,
      stream_options: { include_usage: true } }) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  const s = { n: 0, first: 0, last: 0, draft_n: 0, draft_ok: 0, finish: "" };
  let buf = "";
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    for (let i; (i = buf.indexOf("\n\n")) >= 0;) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith("data: ") || ev === "data: [DONE]") continue;
      const j = JSON.parse(ev.slice(6));
      if (j.usage) s.n = j.usage.completion_tokens;
      if (j.timings?.draft_n !== undefined) { s.draft_n = j.timings.draft_n; s.draft_ok = j.timings.draft_n_accepted; }
      const c = j.choices?.[0];
      if (c?.finish_reason) s.finish = c.finish_reason;
      if (!c?.text) continue;
      const now = performance.now();
      if (!s.first) s.first = now;
      s.last = now;
    }
  }
  return s;
}

// N parallel streams: decode tokens/s over the window from the first first token to the last token.
async function measure(url, n, tokens) {
  const ss = await Promise.all(Array.from({ length: n }, (_, i) => stream(url, prompts[i % prompts.length], tokens)));
  const t0 = Math.min(...ss.map((s) => s.first)), t1 = Math.max(...ss.map((s) => s.last));
  const gen = ss.reduce((a, s) => a + s.n - 1, 0);
  const short = ss.filter((s) => s.n < tokens).length;
  return { tps: gen / ((t1 - t0) / 1000), draft_n: ss.reduce((a, s) => a + s.draft_n, 0),
    draft_ok: ss.reduce((a, s) => a + s.draft_ok, 0), short };
}

// Every stream count on one server; null entries when the server could not start.
async function run_config(o, eng, spec, log) {
  const np = Math.max(...o.np), port = o.port++;
  let srv;
  try {
    srv = await start_server(eng.bin, eng.args(spec, np, port), eng.env, port, log);
  } catch (e) {
    console.log(`  ${eng.name}: ${e.message.split("\n").join("\n    ")}`);
    return null;
  }
  const res = {};
  try {
    await stream(srv.url, "Warm up", 8);
    for (const n of o.np) {
      for (let i = 0; i < o.repeat; i++) {
        const m = await measure(srv.url, n, o.tokens);
        if (!res[n] || m.tps > res[n].tps) res[n] = m;
      }
    }
  } finally {
    await srv.stop();
  }
  return res;
}

function engines(o, lib) {
  const t = String(o.threads), ctx = String(Math.max(...o.np) * 1024);
  const out = [{ name: "llama.cpp", bin: path.join(lib, "llama-server"), env: { LD_LIBRARY_PATH: lib },
    args: (spec, np, port) => ["-m", o.anchor, "-t", t, "-np", String(np), "-c", ctx, "--port", String(port),
      "--no-webui", ...(spec ? ["-md", o.assistants[spec.p], "--spec-type", "draft-mtp",
        "--spec-draft-n-max", String(spec.k)] : [])] }];
  if (!o.use_tandem) return out;
  if (!fs.existsSync(o.tandem)) {
    console.log(`tandem column skipped: ${o.tandem} does not exist`);
    return out;
  }
  const help = spawnSync(o.tandem, ["serve", "--help"], { encoding: "utf8" });
  const text = `${help.stdout}${help.stderr}`;
  const md = /--draft-model\b/.test(text) ? "--draft-model" : /(^|[\s,])-md\b/.test(text) ? "-md" : "";
  const extra = o.tandem_args ? o.tandem_args.split(/\s+/) : [];
  out.push({ name: "tandem", bin: o.tandem, env: {}, md,
    args: (spec, np, port) => ["serve", "-m", o.anchor, "-t", t, "--parallel", String(np), "--port", String(port),
      ...extra, ...(spec ? [md, o.assistants[spec.p], "--spec-type", "mtp", "--draft-max", String(spec.k)] : [])] });
  if (!md) console.log("tandem speculative runs skipped: `tandem serve --help` lists no -md/--draft-model yet");
  return out;
}

const fmt = (x, w, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? "-" : x.toFixed(d)).padStart(w);

async function main() {
  const o = parse_args(process.argv.slice(2));
  fs.mkdirSync(o.dir, { recursive: true });
  make_pair(o);
  const lib = peer_libs(o);
  const engs = engines(o, lib);
  const configs = [null];
  for (const p of o.accept) for (const k of o.k) configs.push({ p, k });
  const results = engs.map(() => []);
  const t_start = performance.now();
  for (const [ci, spec] of configs.entries()) {
    const label = spec ? `P=${spec.p} k=${spec.k}` : "plain";
    for (const [ei, eng] of engs.entries()) {
      if (spec && eng.md === "") { results[ei][ci] = null; continue; }
      const log = path.join(o.dir, `${eng.name}-${spec ? `p${spec.p}-k${spec.k}` : "plain"}.log`);
      results[ei][ci] = await run_config(o, eng, spec, log);
      const r = results[ei][ci];
      if (r) console.log(`  ${eng.name.padEnd(9)} ${label.padEnd(12)} ` +
        o.np.map((n) => `np ${n}: ${r[n].tps.toFixed(1)} tok/s${r[n].short ? ` (${r[n].short} short)` : ""}`).join(", "));
    }
  }
  const mins = (performance.now() - t_start) / 60000;
  console.log(`\n${o.shape} ${o.type}, ${o.tokens} tokens per stream, ${o.threads} threads, ${mins.toFixed(1)} min` +
    `\nanchor ${o.anchor}\ntok/s: generated tokens per second over all streams, client-side;` +
    ` xplain: speed-up over the same engine's plain run; acc: llama.cpp's draft_n_accepted / draft_n`);
  const head = engs.map((e) => `${e.name.padStart(10)} xplain ${e.name === "llama.cpp" ? "  acc" : "   "}`).join(" |");
  for (const n of o.np) {
    console.log(`\n${n} stream${n > 1 ? "s" : ""}\n   P   k |${head} | tandem/llama.cpp`);
    for (const [ci, spec] of configs.entries()) {
      const cells = engs.map((e, ei) => {
        const r = results[ei][ci]?.[n], base = results[ei][0]?.[n];
        const acc = r && r.draft_n ? r.draft_ok / r.draft_n : null;
        return `${fmt(r?.tps, 10)} ${fmt(r && base ? r.tps / base.tps : null, 6, 2)} ` +
          (e.name === "llama.cpp" ? fmt(acc, 5, 2) : "   ");
      });
      const t = results[1]?.[ci]?.[n], l = results[0][ci]?.[n];
      const lead = spec ? `${spec.p.toFixed(2).padStart(4)} ${String(spec.k).padStart(3)}` : "   plain";
      console.log(`${lead} |${cells.join(" |")} | ${fmt(t && l ? t.tps / l.tps : null, 8, 2)}`);
    }
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
