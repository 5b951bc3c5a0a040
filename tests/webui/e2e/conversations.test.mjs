// The conversation list in a real browser: kept across a reload (IndexedDB), renamed, searched,
// deleted, exported and imported, with a bad import file reported.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { tandem_and_browser, open_page, props_404_allowed, send, set_settings, stored_conversations, wait_answer } from "./browser.mjs";

const fx = tandem_and_browser();

const titles = (page) => page.locator(".conv-title").allInnerTexts();

test("persist, rename, search, delete, export, import", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: props_404_allowed(fx.srv) });
  await set_settings(page, { max_tokens: "12", temperature: "0" });
  await send(page, "The dog ran to the park");
  await wait_answer(page);
  await page.getByRole("button", { name: "New chat" }).click();
  await send(page, "A bird sang in the tree");
  await wait_answer(page);
  assert.deepEqual(await titles(page), ["A bird sang in the tree", "The dog ran to the park"]);

  // reload: both conversations are back, the newest open
  await page.reload();
  await page.locator(".conv-title").first().waitFor();
  assert.deepEqual(await titles(page), ["A bird sang in the tree", "The dog ran to the park"]);
  assert.equal(await page.locator(".msg-user .plain").innerText(), "A bird sang in the tree");

  // rename the dog conversation
  await page.getByRole("button", { name: "Rename The dog ran to the park" }).click();
  await page.getByLabel("New title").fill("Dog story");
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Dog story", exact: true }).waitFor();
  const stored = await stored_conversations(page);
  assert.deepEqual(stored.map((c) => c.title).sort(), ["A bird sang in the tree", "Dog story"]);

  // search matches titles and message text
  const search = page.getByLabel("Search conversations");
  await search.fill("dog");
  assert.deepEqual(await titles(page), ["Dog story"]);
  await search.fill("sang in");
  assert.deepEqual(await titles(page), ["A bird sang in the tree"]);
  await search.fill("no such words");
  await page.getByText("No conversation matches.").waitFor();
  await search.fill("");

  // export both
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export" }).click()]);
  const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(exported.format, "tandem-chat");
  assert.deepEqual(exported.conversations.map((c) => c.title).sort(), ["A bird sang in the tree", "Dog story"]);

  // delete one (confirming the dialog)
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Delete Dog story" }).click();
  await page.getByRole("button", { name: "Dog story", exact: true }).waitFor({ state: "detached" });
  assert.deepEqual((await stored_conversations(page)).map((c) => c.title), ["A bird sang in the tree"]);

  // import the export: the deleted one comes back, the existing one is added as a copy
  const file = page.locator('input[type="file"]');
  await file.setInputFiles({ name: "chats.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(exported)) });
  await page.getByText("Imported 2 conversations from chats.json.").waitFor();
  assert.equal((await stored_conversations(page)).length, 3);
  assert.deepEqual((await titles(page)).sort(), ["A bird sang in the tree", "A bird sang in the tree", "Dog story"]);

  // a bad file is reported and changes nothing
  const bad = { format: "tandem-chat", version: 1, conversations: [{ title: "x", messages: [{ role: "wizard", content: "hi" }] }] };
  await file.setInputFiles({ name: "bad.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(bad)) });
  const alert = page.locator(".banner.error");
  await alert.waitFor();
  assert.match(await alert.innerText(), /bad\.json was not imported: conversations\[0\]\.messages\[0\]\.role must be/);
  assert.equal((await stored_conversations(page)).length, 3);
  assert.deepEqual(problems(), []);
  await context.close();
});
