// Vite config for the chat UI: TSX through esbuild with Preact's JSX runtime, a CSP-clean bundle
// (no module-preload polyfill, nothing inlined), and a dev server proxying the API to a local tandem.
import { defineConfig } from "vite";

declare const process: { env: Record<string, string | undefined> }; // node's, without @types/node
const api = process.env.TANDEM_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  build: {
    target: "es2022",
    outDir: "dist-raw",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: Object.fromEntries(["/v1", "/props", "/metrics", "/health"].map((p) => [p, api])),
  },
});
