// Per-message actions in a real browser: continue a cut-off answer, regenerate an answer, edit a
// user message and resend; each checked in the request the page sends and in what it stores.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tandem_and_browser, capture_requests, open_page, props_404_allowed, send, set_settings, stored_conversations, wait_answer } from "./browser.mjs";

const fx = tandem_and_browser();

test("continue, regenerate, edit and resend", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: props_404_allowed(fx.srv) });
  const sent = capture_requests(page);
  await set_settings(page, { max_tokens: "10", temperature: "0" });
  await send(page, "Lily and Ben went");
  let answer = await wait_answer(page);
  assert.equal(await answer.getAttribute("data-finish"), "length");
  await answer.getByText("The answer hit the token limit.").waitFor();
  const partial = (await stored_conversations(page))[0].messages[1].content;
  assert.ok(partial.length > 0);

  // Continue: the partial answer goes last; what comes back is appended to it
  await answer.getByRole("button", { name: "Continue answer" }).click();
  answer = await wait_answer(page);
  assert.deepEqual(sent[1].body.messages, [
    { role: "user", content: "Lily and Ben went" },
    { role: "assistant", content: partial },
  ]);
  assert.equal(sent[1].body.continue_final_message, true);
  let conv = (await stored_conversations(page))[0];
  assert.equal(conv.messages.length, 2);
  const continued = conv.messages[1].content;
  assert.ok(continued.startsWith(partial) && continued.length > partial.length, `${JSON.stringify(continued)} should extend ${JSON.stringify(partial)}`);
  // ... inside the same turn: the greedy answer of twice the tokens, not a new turn after the cut
  const whole = await fetch(`${fx.srv.api}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Lily and Ben went" }], max_tokens: 20, temperature: 0 }),
  }).then((r) => r.json());
  assert.equal(continued, whole.choices[0].message.content);
  assert.equal(conv.messages[1].id, await answer.getAttribute("data-id"));

  // Regenerate: the answer is written anew from the messages before it
  const old_id = conv.messages[1].id;
  await answer.getByRole("button", { name: "Regenerate answer" }).click();
  answer = await wait_answer(page);
  assert.deepEqual(sent[2].body.messages, [{ role: "user", content: "Lily and Ben went" }]);
  conv = (await stored_conversations(page))[0];
  assert.equal(conv.messages.length, 2);
  assert.notEqual(conv.messages[1].id, old_id);
  assert.equal(conv.messages[1].content, partial); // temperature 0: the same first 10 tokens

  // Edit the question and resend: later messages are replaced
  await page.getByRole("button", { name: "Edit message" }).click();
  const editor = page.getByLabel("Edited message");
  await editor.fill("Tom found a red ball");
  await editor.press("Enter");
  await page.locator(".msg-user .plain", { hasText: "Tom found a red ball" }).waitFor();
  await wait_answer(page);
  assert.deepEqual(sent[3].body.messages, [{ role: "user", content: "Tom found a red ball" }]);
  conv = (await stored_conversations(page))[0];
  assert.deepEqual(conv.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(conv.messages[0].content, "Tom found a red ball");
  assert.equal(sent.length, 4);
  assert.deepEqual(problems(), []);
  await context.close();
});
