// Stall benchmark for a running `tandem serve` (or any OpenAI-compatible server): three streaming
// clients decode while one long prompt arrives; prints how long the long prompt took to answer and
// the running streams' inter-token gaps (p50, p99, max). Compare --prefill-chunk settings with it.
// usage: node bench/stall_bench.mjs URL [long prompt repeats=160] [streams=3]
const [url = "http://127.0.0.1:8080", repeats = "160", nStreams = "3"] = process.argv.slice(2);

function post(body) {
  return fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// Streams 300 tokens, pushing the gap before every token after the first into gaps.
async function stream(gaps) {
  const r = await post({ prompt: "Once upon a time", max_tokens: 300, temperature: 0, stream: true, ignore_eos: true });
  if (!r.ok) throw new Error(`stream: HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = "", last = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    for (let i; (i = buf.indexOf("\n\n")) >= 0; buf = buf.slice(i + 2)) {
      if (!buf.startsWith("data: {")) continue;
      const t = performance.now();
      if (last) gaps.push(t - last);
      last = t;
    }
  }
}

const gaps = [];
const streams = Array.from({ length: Number(nStreams) }, () => stream(gaps));
await new Promise((r) => setTimeout(r, 1500));  // the streams are decoding by now
const t0 = performance.now();
const r = await post({ prompt: "the little dog ran to the park and ".repeat(Number(repeats)), max_tokens: 1, temperature: 0 });
const j = await r.json();
if (!r.ok) throw new Error(`long prompt: HTTP ${r.status}: ${JSON.stringify(j)}`);
const longMs = performance.now() - t0;
await Promise.all(streams);
gaps.sort((a, b) => a - b);
const pct = (q) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))].toFixed(1);
console.log(`long prompt: ${j.usage.prompt_tokens} tokens, answered in ${longMs.toFixed(0)} ms`);
console.log(`running streams' inter-token gap: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${gaps[gaps.length - 1].toFixed(1)} ms`);
