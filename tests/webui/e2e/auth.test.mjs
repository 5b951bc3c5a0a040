// A server started with --api-key: the page asks for the key, a request sent without it fails
// with a prompt and is retried once the key is entered; a wrong key is asked for again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tandem_and_browser, capture_requests, open_page, send, shot, wait_answer, wait_success } from "./browser.mjs";

const key = "sk-webui-test-key";
const fx = tandem_and_browser(["--api-key", key]);

// Chromium logs every 401 (and a 404 for a missing /props) as a console error: expected here.
const allow = [/status of 401/, /status of 404 .* at .*\/props$/];

for (const scheme of ["light", "dark"]) {
  test(`asks for the key at start, then works (${scheme})`, async () => {
    const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: allow, color_scheme: scheme });
    const sent = capture_requests(page);
    const dialog = page.getByRole("dialog", { name: "API key" });
    await dialog.waitFor();
    await dialog.getByText("requires an API key").waitFor();
    await shot(page, `key-prompt-${scheme}`);
    // a wrong key: asked again, saying so
    await dialog.getByLabel("API key").fill("wrong");
    await dialog.getByRole("button", { name: "Save and retry" }).click();
    await dialog.getByText("did not accept").waitFor();
    await dialog.getByLabel("API key").fill(key);
    await dialog.getByRole("button", { name: "Save and retry" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByText("You are talking to").waitFor();
    await send(page, "Hello");
    await wait_answer(page);
    assert.equal(sent.at(-1).headers.authorization, `Bearer ${key}`);
    assert.equal(await page.locator(".msg-error").count(), 0);
    assert.deepEqual(problems(), []);
    await context.close();
  });
}

test("a request refused for want of a key is retried after the key is entered", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: allow });
  const sent = capture_requests(page);
  const dialog = page.getByRole("dialog", { name: "API key" });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await send(page, "Once upon a time");
  const err = page.locator(".msg-assistant .msg-error");
  await err.getByText("This server needs an API key").waitFor();
  await dialog.waitFor();
  await dialog.getByLabel("API key").fill(key);
  await dialog.getByRole("button", { name: "Save and retry" }).click();
  const answer = await wait_success(page);
  assert.match(await answer.getAttribute("data-finish"), /^(stop|length)$/);
  assert.equal(await page.locator(".msg-error").count(), 0);
  assert.ok((await answer.locator(".markdown").innerText()).length > 0);
  assert.equal(sent.length, 2);
  assert.equal(sent[0].headers.authorization, undefined);
  assert.equal(sent[1].headers.authorization, `Bearer ${key}`);
  assert.deepEqual(problems(), []);
  await context.close();
});
