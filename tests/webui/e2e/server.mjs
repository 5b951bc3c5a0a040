// Starts the real `tandem serve` on 127.0.0.1 for the browser tests and stops it; the page comes
// from the binary itself at /. With TANDEM_WEBUI_FRONT=1 (a binary without the UI), a small Node
// server in front serves webui/dist (with the server's CSP) and proxies the API paths instead.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { createServer as net_server } from "node:net";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../../..");
export const dist = join(repo, "webui/dist");
const BIN = process.env.TANDEM_BIN ?? join(repo, "build/server/tandem");
const SHARED = process.env.TANDEM_SHARED_DIR ?? resolve(repo, "../shared");

export const csp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function free_port() {
  return new Promise((ok, fail) => {
    const s = net_server();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

async function wait_healthy(url, proc, log) {
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`tandem exited early (${proc.exitCode}):\n${log()}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`tandem not healthy after 30 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

// The stand-in for the embedded UI: dist files and a streaming proxy that drops the upstream
// request when the browser drops its own (so Stop reaches tandem as a disconnect).
function start_front(api_port) {
  const srv = createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (/^\/(v1|props|metrics|health|tokenize|detokenize)(\/|$)/.test(path)) {
      const up = request({ host: "127.0.0.1", port: api_port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      res.on("close", () => up.destroy());
      req.pipe(up);
      return;
    }
    const rel = normalize(path === "/" ? "/index.html" : path);
    const file = join(dist, rel + ".gz");
    if (!file.startsWith(dist) || !existsSync(file)) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": types[extname(rel)] ?? "application/octet-stream", "Content-Security-Policy": csp });
    res.end(gunzipSync(readFileSync(file)));
  });
  return new Promise((ok) => srv.listen(0, "127.0.0.1", () => ok(srv)));
}

function key_header(args) {
  const i = args.indexOf("--api-key");
  return i >= 0 ? { Authorization: `Bearer ${args[i + 1]}` } : {};
}

function spawn_tandem(port, args) {
  const model = join(SHARED, "models/stories260K.gguf");
  if (!existsSync(model)) throw new Error(`model missing: ${model} (set TANDEM_SHARED_DIR)`);
  // TANDEM_WEBUI_PATH: serve that directory (a fresh webui/dist) instead of the binary's own bundle.
  const ui = process.env.TANDEM_WEBUI_PATH ? ["--webui-path", process.env.TANDEM_WEBUI_PATH] : [];
  const proc = spawn(BIN, ["serve", "-m", model, "--port", String(port), "--threads", "1", ...ui, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const t = { proc, log: "", exited: new Promise((ok) => proc.on("exit", ok)) };
  proc.stdout.on("data", (d) => (t.log += d));
  proc.stderr.on("data", (d) => (t.log += d));
  return t;
}

async function kill_proc(t) {
  if (t.proc.exitCode === null) t.proc.kill("SIGTERM");
  await t.exited;
}

// args: extra `tandem serve` flags. kill() stops tandem alone (the page's origin stays up when the
// front serves it, and so does the port for restart()); stop() ends everything.
export async function start_tandem(args = []) {
  if (!existsSync(BIN)) throw new Error(`tandem binary missing: ${BIN} (set TANDEM_BIN)`);
  const port = await free_port();
  const api = `http://127.0.0.1:${port}`;
  let t = spawn_tandem(port, args);
  await wait_healthy(api, t.proc, () => t.log);
  const use_front = process.env.TANDEM_WEBUI_FRONT === "1";
  if (!use_front) {
    const root = await fetch(`${api}/`);
    if (root.status !== 200 || !(root.headers.get("content-type") ?? "").startsWith("text/html")) {
      await kill_proc(t);
      throw new Error(`${BIN} does not serve the web UI at / (${root.status}); TANDEM_WEBUI_FRONT=1 tests webui/dist through a Node front`);
    }
  }
  const embedded = !use_front;
  const front = use_front ? await start_front(port) : null;
  const has_props = (await fetch(`${api}/props`, { headers: key_header(args) })).status !== 404;
  const kill = () => kill_proc(t);
  return {
    url: front ? `http://127.0.0.1:${front.address().port}` : api, // where the browser goes
    api, // tandem itself
    embedded,
    has_props,
    log: () => t.log,
    kill,
    async restart() {
      await kill();
      t = spawn_tandem(port, args);
      await wait_healthy(api, t.proc, () => t.log);
    },
    async stop() {
      front?.close();
      await kill();
    },
  };
}

export async function metric(api, name, headers = {}) {
  const text = await (await fetch(`${api}/metrics`, { headers })).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  if (!line) throw new Error(`metric ${name} not in /metrics:\n${text}`);
  return Number(line.trim().split(/\s+/).pop());
}
