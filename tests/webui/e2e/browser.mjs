// Headless Debian Chromium driven by playwright-core (no browser download), pages that fail the
// test on any console error, page error or CSP violation, and screenshots for a person to check.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { repo } from "./server.mjs";
import { after, before } from "node:test";
import { start_tandem } from "./server.mjs";

const require = createRequire(join(repo, "webui/package.json"));
const { chromium } = require("playwright-core");

export const shots_dir = process.env.WEBUI_SCREENSHOTS ?? join(repo, "build/webui-screenshots");
mkdirSync(shots_dir, { recursive: true });

const chromium_bin = process.env.CHROMIUM ?? "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: chromium_bin,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Expected console lines: a server without /props yet answers 404 there (the UI copes).
export function props_404_allowed(srv) {
  return srv.has_props ? [] : [/status of 404 .* at .*\/props$/];
}

// A fresh context (its own IndexedDB and localStorage unless `storage` is given) and page.
// problems() lists console errors, page errors and CSP reports seen so far.
export async function open_page(browser, url, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1200, height: 800 },
    colorScheme: opts.color_scheme ?? "light",
    acceptDownloads: true,
    storageState: opts.storage,
  });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    const text = m.text();
    const where = m.location()?.url ?? "";
    const expected = (opts.allow_console ?? []).some((re) => re.test(`${text} at ${where}`));
    if ((m.type() === "error" && !expected) || /Content Security Policy/i.test(text)) problems.push(`console ${m.type()}: ${text}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  const response = await page.goto(url);
  await page.waitForSelector(".app");
  return { context, page, response, problems: () => problems };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(shots_dir, `${name}.png`) });
}

// The assistant messages' raw text as the UI stored it, from IndexedDB.
export async function stored_conversations(page) {
  return page.evaluate(
    () =>
      new Promise((ok, fail) => {
        const req = indexedDB.open("tandem", 1);
        req.onsuccess = () => {
          const tx = req.result.transaction("conversations", "readonly");
          const all = tx.objectStore("conversations").getAll();
          all.onsuccess = () => ok(all.result);
          all.onerror = () => fail(all.error);
        };
        req.onerror = () => fail(req.error);
      }),
  );
}

export async function send(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.keyboard.press("Enter");
}

// Waits until the last answer has ended (any way) and returns it.
export async function wait_answer(page, timeout = 30000) {
  await page.waitForSelector(".msg-assistant:last-child:not(.streaming)[data-finish]:not([data-finish=''])", { timeout });
  return page.locator(".msg-assistant").last();
}

// Waits until the last answer has ended well (stop or length), through any retries.
export async function wait_success(page, timeout = 30000) {
  await page.waitForSelector('.msg-assistant:last-child:is([data-finish="stop"], [data-finish="length"])', { timeout });
  return page.locator(".msg-assistant").last();
}

// Fills settings fields (by input name) in the settings dialog and saves.
export async function set_settings(page, fields) {
  await page.getByRole("button", { name: "Settings" }).click();
  const dialog = page.locator("dialog.settings-dialog");
  for (const [name, value] of Object.entries(fields)) await dialog.locator(`[name="${name}"]`).fill(value);
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "hidden" });
}

// The chat request bodies the page sends, as parsed JSON.
export function capture_requests(page) {
  const bodies = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/chat/completions") && r.method() === "POST") bodies.push({ body: JSON.parse(r.postData()), headers: r.headers() });
  });
  return bodies;
}

// Every e2e file's fixture: one tandem started with `args` and one browser, before its tests, both
// stopped after them. Tests read `.srv` and `.browser`.
export function tandem_and_browser(args = []) {
  const f = { srv: null, browser: null };
  before(async () => {
    f.srv = await start_tandem(args);
    f.browser = await launch();
  });
  after(async () => {
    await f.browser?.close();
    await f.srv?.stop();
  });
  return f;
}
