// The main states in light and dark, desktop and phone width, saved as screenshots for a person to
// look at (build/webui-screenshots, or $WEBUI_SCREENSHOTS); along the way: rich markdown from an
// import renders (code, math, table), model HTML does not run, Copy copies, the theme toggles.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tandem_and_browser, open_page, props_404_allowed, send, set_settings, shot } from "./browser.mjs";

const fx = tandem_and_browser();

const answer = [
  "## Two small things",
  "",
  "A Python function that squares $x$, so $f(x) = x^2$:",
  "",
  "```python",
  "def square(x: float) -> float:",
  '    """Return x squared."""',
  "    return x * x  # same as x ** 2",
  "```",
  "",
  "The quadratic formula:",
  "",
  "$$x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$$",
  "",
  "| a | b | c | roots |",
  "|---|---|---|-------|",
  "| 1 | -3 | 2 | 1, 2 |",
  "",
  "Also \\(e^{i\\pi} + 1 = 0\\). Raw HTML stays text: <img src=x onerror=\"window.__xss = 1\"> <script>window.__xss = 2</script>",
].join("\n");

const export_file = {
  format: "tandem-chat",
  version: 1,
  conversations: [
    {
      id: "demo",
      title: "Code and math",
      created: 1700000000000,
      updated: 1700000000000,
      messages: [
        { id: "u", role: "user", content: "Show me a Python function and the quadratic formula." },
        { id: "a", role: "assistant", content: answer, finish: "stop", stats: { completion_tokens: 118, predicted_n: 118, predicted_ms: 950, first_token_ms: 42, prompt_tokens: 31 } },
      ],
    },
  ],
};

async function import_demo(page) {
  await page.locator('input[type="file"]').setInputFiles({ name: "demo.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(export_file)) });
  await page.getByText("Imported 1 conversation from demo.json.").waitFor();
  const menu = page.getByRole("button", { name: "Open conversation list" });
  if (await menu.isVisible()) await menu.click(); // a phone: the list is a drawer, closed by the import
  await page.getByRole("button", { name: "Code and math", exact: true }).click();
  await page.locator(".code-block").waitFor();
  await page.getByRole("button", { name: "Dismiss" }).click();
}

for (const scheme of ["light", "dark"]) {
  test(`desktop states (${scheme})`, async () => {
    const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { color_scheme: scheme, allow_console: props_404_allowed(fx.srv) });
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.getByText("You are talking to").waitFor();
    await shot(page, `empty-${scheme}`);

    await import_demo(page);
    const msg = page.locator(".msg-assistant").last();
    assert.equal(await msg.locator("math").count(), 4);
    assert.equal(await msg.locator("code .hljs-keyword").first().innerText(), "def");
    assert.equal(await msg.locator("table td").first().innerText(), "1");
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.match(await msg.innerText(), /<script>window.__xss = 2<\/script>/);
    await msg.getByRole("button", { name: "Copy code" }).click();
    await msg.getByRole("button", { name: "Copy code" }).filter({ hasText: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'def square(x: float) -> float:\n    """Return x squared."""\n    return x * x  # same as x ** 2');
    await shot(page, `code-math-${scheme}`);

    // streaming: a long answer, caught mid-way, then stopped (a slow network keeps it streaming
    // however fast stories260K writes)
    await page.getByRole("button", { name: "New chat" }).click();
    await set_settings(page, { max_tokens: "2000", seed: "3", temperature: "1" });
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: 3000, uploadThroughput: -1 });
    await send(page, "Tell me a very long story");
    await page.locator(".msg-assistant.streaming .markdown:not(:empty)").waitFor();
    await page.getByRole("button", { name: "Stop" }).waitFor();
    await shot(page, `streaming-${scheme}`);
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Send" }).waitFor();
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    await page.getByRole("button", { name: "Settings" }).click();
    await page.locator("dialog.settings-dialog").waitFor();
    await shot(page, `settings-${scheme}`);
    await page.keyboard.press("Escape");

    // the toggle flips the theme and remembers it
    const before_toggle = scheme === "dark" ? "light" : "dark";
    await page.getByRole("button", { name: `Switch to ${before_toggle} theme` }).click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), before_toggle);
    await page.reload();
    await page.locator(".app").waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), before_toggle);
    assert.deepEqual(problems(), []);
    await context.close();
  });

  test(`phone width (${scheme})`, async () => {
    const { page, context, problems } = await open_page(fx.browser, fx.srv.url, {
      color_scheme: scheme,
      viewport: { width: 390, height: 844 },
      allow_console: props_404_allowed(fx.srv),
    });
    assert.equal(await page.locator(".sidebar").isVisible(), false);
    await page.getByRole("button", { name: "Open conversation list" }).click(); // a drawer on phones
    await import_demo(page); // importing and picking the conversation close the drawer
    await page.locator(".sidebar").waitFor({ state: "hidden" });
    await shot(page, `phone-${scheme}`);
    await page.getByRole("button", { name: "Open conversation list" }).click();
    await page.getByRole("button", { name: "Close conversation list" }).waitFor();
    await page.waitForTimeout(300); // the drawer slides in
    await shot(page, `phone-drawer-${scheme}`);
    await page.getByRole("button", { name: "Close conversation list" }).click();
    await page.locator(".sidebar").waitFor({ state: "hidden" });
    // nothing overflows sideways
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    assert.deepEqual(problems(), []);
    await context.close();
  });
}
