// The chat in a real browser against the real server: a greedy answer streamed into the page
// equals the API's own greedy text for the same messages; settings reach the request body; Stop
// (Escape) ends the stream and the server frees the sequence.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tandem_and_browser, capture_requests, open_page, props_404_allowed, send, set_settings, shot, stored_conversations, wait_answer } from "./browser.mjs";
import { metric } from "./server.mjs";

// A long context lets an answer run for many seconds (16000 tokens take ~25 s here), so Stop
// surely lands while the server is still generating.
const fx = tandem_and_browser(["--ctx-size", "16384"]);

test("greedy answer equals the API's; only changed settings are sent", async () => {
  const { page, context, response, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: props_404_allowed(fx.srv) });
  // the page runs under the strict CSP (so "no CSP report" below means something)
  const policy = response.headers()["content-security-policy"] ?? "";
  for (const rule of ["default-src 'none'", "script-src 'self'", "style-src 'self'"]) assert.ok(policy.includes(rule), policy);
  const sent = capture_requests(page);
  await page.getByText("You are talking to").waitFor();
  await set_settings(page, { temperature: "0", max_tokens: "48", top_k: "40", stop: "zzz\nqqq" });
  const prompt = "Once upon a time, a little cat";
  await send(page, prompt);
  const answer = await wait_answer(page);
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].body, {
    messages: [{ role: "user", content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0,
    top_k: 40,
    max_tokens: 48,
    stop: ["zzz", "qqq"],
  });
  const ref = await (
    await fetch(`${fx.srv.api}/v1/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: prompt }], temperature: 0, top_k: 40, max_tokens: 48, stop: ["zzz", "qqq"] }),
    })
  ).json();
  const want = ref.choices[0].message.content;
  assert.ok(want.length > 0);
  const [conv] = await stored_conversations(page);
  assert.equal(conv.messages[1].content, want);
  // the rendered text is the same words (markdown turns newlines into line breaks)
  const shown = (await answer.locator(".markdown").innerText()).replace(/\s+/g, " ").trim();
  assert.equal(shown, want.replace(/\s+/g, " ").trim());
  assert.equal(await answer.getAttribute("data-finish"), ref.choices[0].finish_reason);
  const stats = await answer.locator(".msg-stats").innerText();
  assert.match(stats, new RegExp(`^${ref.usage.completion_tokens} tokens · [\\d.]+ tok/s · first token \\d+ ms · prompt ${ref.usage.prompt_tokens} tokens$`));
  // settings persist across a reload and show in the dialog
  await page.reload();
  await page.getByRole("button", { name: "Settings" }).click();
  assert.equal(await page.locator('dialog [name="temperature"]').inputValue(), "0");
  assert.equal(await page.locator('dialog [name="top_p"]').inputValue(), "");
  if (fx.srv.has_props) {
    // the server's defaults from /props are the placeholders
    const props = await (await fetch(`${fx.srv.api}/props`)).json();
    const want = props.default_generation_settings.top_p;
    assert.equal(await page.locator('dialog [name="top_p"]').getAttribute("placeholder"), `server default: ${want}`);
  }
  await page.keyboard.press("Escape");
  assert.deepEqual(problems(), []);
  await context.close();
});

test("Escape stops a long answer and the server frees the sequence", async () => {
  const { page, context, problems } = await open_page(fx.browser, fx.srv.url, { allow_console: props_404_allowed(fx.srv) });
  await page.getByText("You are talking to").waitFor();
  await set_settings(page, { max_tokens: "16000", temperature: "1", seed: "3" });
  // No end-of-text token (id 2), so the answer runs to max_tokens unless stopped.
  await page.route("**/v1/chat/completions", (route) =>
    route.continue({ postData: JSON.stringify({ ...JSON.parse(route.request().postData()), logit_bias: { 2: -100 } }) }),
  );
  const generated = await metric(fx.srv.api, "tandem_generation_tokens_total");
  await send(page, "Tell me a very long story");
  await page.locator(".msg-assistant.streaming .markdown:not(:empty)").waitFor();
  assert.equal(await metric(fx.srv.api, "tandem_requests_running"), 1); // still generating
  await page.keyboard.press("Escape");
  const answer = await wait_answer(page);
  assert.equal(await answer.getAttribute("data-finish"), "aborted");
  await answer.getByText("Stopped.").waitFor();
  const [conv] = await stored_conversations(page);
  assert.equal(conv.messages[1].finish, "aborted");
  assert.ok(conv.messages[1].content.length > 0);
  let running = -1;
  for (let i = 0; i < 50; i++) {
    running = await metric(fx.srv.api, "tandem_requests_running");
    if (running === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(running, 0);
  // cut short: a finished answer would have added its 16000 tokens to the counter
  const written = (await metric(fx.srv.api, "tandem_generation_tokens_total")) - generated;
  assert.ok(written < 16000, `${written} tokens written`);
  // the Send button is back and Continue is offered for the stopped answer
  await page.getByRole("button", { name: "Send" }).waitFor();
  await answer.getByRole("button", { name: "Continue answer" }).waitFor();
  assert.deepEqual(problems(), []);
  await context.close();
});
