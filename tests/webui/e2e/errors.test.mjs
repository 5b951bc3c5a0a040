// Errors as a person meets them, in a real browser: a conversation too long for the context says
// how much to cut; a busy server (429) counts down and retries by itself; a server that went away
// offers Retry, which works once it is back; an error event mid-stream keeps the text so far.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tandem_and_browser, open_page, props_404_allowed, send, set_settings, shot, stored_conversations, wait_answer, wait_success } from "./browser.mjs";
import { metric, start_tandem } from "./server.mjs";

const fx = tandem_and_browser();

test("context_length_exceeded says how many tokens to remove", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: [...props_404_allowed(fx.srv), /status of 400/] });
  await send(page, "the cat sat on a mat. ".repeat(700));
  const err = page.locator(".msg-assistant .msg-error");
  await err.waitFor();
  const text = await err.innerText();
  const m = /the prompt has (\d+) tokens and the limit is (\d+)\. Remove about (\d+)\+ tokens/.exec(text);
  assert.ok(m, text);
  assert.equal(Number(m[3]), Number(m[1]) - Number(m[2]) + 1);
  assert.match(text, /start a new conversation/);
  await err.getByRole("button", { name: "New chat" }).waitFor();
  assert.deepEqual(problems(), []);
  await context.close();
});

test("429: a countdown, then the request goes through by itself", async () => {
  // One running sequence and one waiting at most, both taken by answers that would run for many
  // seconds (a 16k context, no end-of-text token): the page's request surely gets 429.
  const busy = await start_tandem(["--parallel", "1", "--max-queue", "1", "--ctx-size", "16384"]);
  const stop_background = new AbortController();
  try {
    const { page, context, problems } = await open_page(fx.browser, busy.url, { allow_console: [...props_404_allowed(busy), /status of 429/] });
    await set_settings(page, { max_tokens: "8" });
    await page.getByText("You are talking to").waitFor();
    const long = () =>
      fetch(`${busy.api}/v1/chat/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "Tell a story" }], max_tokens: 16000, logit_bias: { 2: -100 }, stream: true }),
        signal: stop_background.signal,
      }).then((r) => r.body.pipeTo(new WritableStream()).catch(() => undefined));
    const until = async (name, n) => {
      for (let i = 0; i < 200 && (await metric(busy.api, name)) < n; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(await metric(busy.api, name), n);
    };
    const background = [long()];
    await until("tandem_requests_running", 1);
    background.push(long());
    await until("tandem_requests_waiting", 1);
    await send(page, "Are you busy?");
    const err = page.locator(".msg-assistant .msg-error");
    await err.getByText("The server is busy.").waitFor();
    await err.locator(".countdown").waitFor();
    await shot(page, "busy-countdown-light");
    stop_background.abort(); // the server frees both; the page's next try gets through
    const answer = await wait_success(page);
    assert.match(await answer.getAttribute("data-finish"), /^(stop|length)$/);
    assert.equal(await page.locator(".msg-error").count(), 0);
    await Promise.allSettled(background);
    assert.deepEqual(problems(), []);
    await context.close();
  } finally {
    stop_background.abort();
    await busy.stop();
  }
});

test("a server that went away: Retry once it is back", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, {
    allow_console: [...props_404_allowed(fx.srv), /Failed to load resource|ERR_EMPTY_RESPONSE|ERR_CONNECTION_REFUSED|status of 50\d/],
  });
  await set_settings(page, { max_tokens: "8" });
  await page.getByText("You are talking to").waitFor();
  await fx.srv.kill();
  await send(page, "Hello?");
  const err = page.locator(".msg-assistant .msg-error");
  await err.getByText("The connection to the server was lost").waitFor();
  await shot(page, "network-error-light");
  await fx.srv.restart();
  await err.getByRole("button", { name: "Retry" }).click();
  const answer = await wait_success(page);
  assert.match(await answer.getAttribute("data-finish"), /^(stop|length)$/);
  assert.equal(await page.locator(".msg-error").count(), 0);
  assert.deepEqual(problems(), []);
  await context.close();
});

test("an error event mid-stream is shown on the answer, keeping its text", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: props_404_allowed(fx.srv) });
  // The real server sends such an event only when its engine fails; the browser plays one here.
  const chunk = (content) => `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
  await page.route("**/v1/chat/completions", (route) =>
    route.fulfill({
      status: 200,
      headers: { "Content-Type": "text/event-stream" },
      body: `: ping\n\n${chunk("Half an ")}${chunk("answer")}data: ${JSON.stringify({ error: { message: "the engine stopped", type: "server_error", param: null, code: null } })}\n\n`,
    }),
  );
  await send(page, "Hi");
  const answer = await wait_answer(page);
  assert.equal(await answer.getAttribute("data-finish"), "error");
  assert.equal(await answer.locator(".markdown").innerText(), "Half an answer");
  assert.match(await answer.locator(".msg-error").innerText(), /stopped this answer with an error: the engine stopped/);
  const [conv] = await stored_conversations(page);
  assert.equal(conv.messages[1].content, "Half an answer");
  await answer.getByRole("button", { name: "Continue answer" }).waitFor();
  assert.deepEqual(problems(), []);
  await context.close();
});
