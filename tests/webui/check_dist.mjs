// Staleness check: rebuilds the bundle from webui/ sources into a temp dir and fails, naming the
// files, if the committed webui/dist differs (a source change without `npm run build`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const webui = resolve(dirname(fileURLToPath(import.meta.url)), "../../webui");
const dist = join(webui, "dist");

function files(dir) {
  const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  return new Map(walk(dir).map((f) => [relative(dir, f), f]));
}

const tmp = mkdtempSync(join(tmpdir(), "tandem-webui-fresh-"));
try {
  execFileSync(process.execPath, [join(webui, "scripts/build.mjs"), tmp], { cwd: webui, stdio: ["ignore", "ignore", "inherit"] });
  const want = files(tmp);
  const have = files(dist);
  const problems = [];
  for (const [name, f] of want) {
    if (!have.has(name)) problems.push(`missing from webui/dist: ${name}`);
    else if (!gunzipSync(readFileSync(f)).equals(gunzipSync(readFileSync(have.get(name))))) problems.push(`differs: ${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`stale in webui/dist: ${name}`);
  for (const name of have.keys()) {
    if (!name.endsWith(".gz")) problems.push(`not gzipped (.gz) in webui/dist: ${name}`);
  }
  if (problems.length > 0) {
    console.error(`webui/dist is not the build of webui/ sources (run: cd webui && npm run build):\n  ${problems.join("\n  ")}`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
  console.log(`webui/dist matches a fresh build (${want.size} files)`);
  console.log("1 passed, 0 failed");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
