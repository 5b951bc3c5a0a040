// Production build: vite builds into a temp dir, then every file is stored gzip-compressed
// (zlib level 9, no timestamp in the header, so reproducible) as NAME.gz in the output dir
// (default webui/dist), stale files removed. tandem embeds exactly these files.
// Usage: node scripts/build.mjs [OUT_DIR]
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "vite";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? join(root, "dist"));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const tmp = mkdtempSync(join(tmpdir(), "tandem-webui-"));
try {
  await build({ root, configFile: join(root, "vite.config.ts"), logLevel: "warn", build: { outDir: tmp, emptyOutDir: true } });
  const wanted = new Set();
  let raw_total = 0;
  let gz_total = 0;
  const rows = [];
  for (const file of walk(tmp).sort()) {
    const rel = relative(tmp, file) + ".gz";
    const data = readFileSync(file);
    const gz = gzipSync(data, { level: 9 });
    const dest = join(out, rel);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, gz);
    wanted.add(dest);
    raw_total += data.length;
    gz_total += gz.length;
    rows.push(`  ${rel.padEnd(44)} ${String(data.length).padStart(8)} B -> ${String(gz.length).padStart(7)} B gz`);
  }
  for (const file of walk(out)) if (!wanted.has(file)) rmSync(file);
  for (const dir of readdirSync(out)) {
    const p = join(out, dir);
    if (statSync(p).isDirectory() && walk(p).length === 0) rmSync(p, { recursive: true });
  }
  console.log(`webui bundle in ${relative(process.cwd(), out) || "."}:\n${rows.join("\n")}`);
  console.log(`  total ${raw_total} B, ${gz_total} B gzipped`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
