// Starts the real `tandem serve` binary on 127.0.0.1 and a free port, waits for /health, and
// stops it. Paths come from ctest: TANDEM_BIN and TANDEM_SHARED_DIR.
import { spawn, execFile } from "node:child_process";
import { createServer } from "node:net";
import { existsSync } from "node:fs";

export const BIN = process.env.TANDEM_BIN;
export const SHARED = process.env.TANDEM_SHARED_DIR;

export function model(name) {
  const p = `${SHARED}/models/${name}`;
  if (!existsSync(p)) throw new Error(`shared model missing: ${p}`);
  return p;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startServer(modelName = "stories260K.gguf", args = [], env = {}) {
  if (!BIN || !existsSync(BIN)) throw new Error(`TANDEM_BIN not set or missing: ${BIN}`);
  const port = await freePort();
  const proc = spawn(BIN, ["serve", "-m", model(modelName), "--port", String(port), "--threads", "1", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited early (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`server not healthy after 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    proc,
    exited,
    log: () => log,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export function curl(args) {
  return new Promise((resolve) => {
    execFile("curl", ["-s", "-S", "--max-time", "60", ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }),
    );
  });
}

export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  if (!line) throw new Error(`metric ${name} not found in:\n${text}`);
  return Number(line.trim().split(/\s+/).pop());
}
