// The request body holds only what the user changed from "server default", typed right.
import { expect, test } from "vitest";
import { build_chat_body, check_field, empty_settings, settings_errors } from "../../../webui/src/api/request";

const msgs = [{ role: "user" as const, content: "hi" }];

test("all defaults: only messages and streaming fields", () => {
  expect(build_chat_body(msgs, empty_settings)).toEqual({
    messages: msgs,
    stream: true,
    stream_options: { include_usage: true },
  });
});

test("changed fields are sent as numbers, with the system prompt first", () => {
  const body = build_chat_body(msgs, {
    ...empty_settings,
    system_prompt: "Be brief.",
    temperature: "0",
    top_k: " 40 ",
    max_tokens: "128",
    seed: "-7",
    repetition_penalty: "1.1",
    presence_penalty: "0.5",
    frequency_penalty: "-0.25",
    stop: "END\n\n###",
  });
  expect(body).toEqual({
    messages: [{ role: "system", content: "Be brief." }, ...msgs],
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0,
    top_k: 40,
    max_tokens: 128,
    seed: -7,
    repetition_penalty: 1.1,
    presence_penalty: 0.5,
    frequency_penalty: -0.25,
    stop: ["END", "###"],
  });
  expect("top_p" in body).toBe(false);
  expect("min_p" in body).toBe(false);
});

test("invalid fields are reported and not sent", () => {
  const s = { ...empty_settings, temperature: "hot", top_k: "2.5", top_p: "1.5", stop: "a\nb\nc\nd\ne" };
  expect(settings_errors(s)).toEqual({
    temperature: "not a number",
    top_k: "must be a whole number",
    top_p: "must be at most 1",
    stop: "at most 4 stop strings",
  });
  const body = build_chat_body(msgs, s);
  for (const k of ["temperature", "top_k", "top_p", "stop"]) expect(k in body).toBe(false);
  expect(check_field("max_tokens", "0")).toBe("must be at least 1");
  expect(check_field("seed", "")).toBeNull();
});
