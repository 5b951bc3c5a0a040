// Load benchmark for a running `tandem serve` (or any OpenAI-compatible server): N concurrent
// streaming clients with fixed prompts; prints aggregate generated tokens/s and the p50/p99 of
// time-to-first-token and inter-token latency at each concurrency.
// usage: node bench/load_bench.mjs URL [max_tokens=128] [requests_per_client=2] [concurrency list=1,4,8,16]
const [url = "http://127.0.0.1:8080", maxTokens = "128", perClient = "2", levels = "1,4,8,16"] = process.argv.slice(2);
const prompts = ["Once upon a time", "One day, Lily met a", "Tom had a big red ball", "The sun was hot and",
  "A little cat", "She liked to play", "In the park there", "Mom said that"];

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

async function one(prompt, ttft, itl) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: Number(maxTokens), temperature: 0, stream: true,
      stream_options: { include_usage: true }, ignore_eos: true }),
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  let buf = "", last = 0, tokens = 0;
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith("data: ") || ev === "data: [DONE]") continue;
      const j = JSON.parse(ev.slice(6));
      if (j.usage) tokens = j.usage.completion_tokens;
      if (!j.choices?.length) continue;
      const now = performance.now();
      if (last === 0) ttft.push(now - t0);
      else itl.push(now - last);
      last = now;
    }
  }
  return tokens;
}

console.log(`server ${url}, ${maxTokens} tokens per request, ${perClient} requests per client`);
console.log("clients | agg tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms");
for (const c of levels.split(",").map(Number)) {
  const ttft = [], itl = [];
  const t0 = performance.now();
  const counts = await Promise.all(Array.from({ length: c }, async (_, k) => {
    let n = 0;
    for (let i = 0; i < Number(perClient); i++) n += await one(prompts[(k + i) % prompts.length], ttft, itl);
    return n;
  }));
  const secs = (performance.now() - t0) / 1000;
  const total = counts.reduce((a, b) => a + b, 0);
  ttft.sort((a, b) => a - b);
  itl.sort((a, b) => a - b);
  console.log(`${String(c).padStart(7)} | ${(total / secs).toFixed(1).padStart(9)} | ${pct(ttft, 50).toFixed(1).padStart(11)} | ` +
    `${pct(ttft, 99).toFixed(1).padStart(11)} | ${pct(itl, 50).toFixed(2).padStart(10)} | ${pct(itl, 99).toFixed(2).padStart(10)}`);
}
