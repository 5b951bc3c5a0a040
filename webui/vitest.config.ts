// Vitest for the UI's pure parts: tests live in tests/webui/unit (the tree mirrors the sources)
// and run in jsdom with the app's own Vite config.
import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vite.config";

const tests = fileURLToPath(new URL("../tests/webui/unit", import.meta.url));

export default mergeConfig(
  base,
  defineConfig({
    test: { dir: tests, include: ["**/*.test.ts", "**/*.test.tsx"], environment: "jsdom" },
    server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
    // The tests sit outside webui/: resolve preact from webui/node_modules, as the sources do.
    resolve: { dedupe: ["preact"] },
  }),
);
