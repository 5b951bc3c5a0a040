// Export then import gives the same conversations; bad files are reported and import nothing.
import { expect, test } from "vitest";
import { export_json, parse_import } from "../../../webui/src/store/transfer";
import type { Conversation } from "../../../webui/src/store/types";

const conv: Conversation = {
  id: "c1",
  title: "Prime numbers",
  created: 1000,
  updated: 2000,
  messages: [
    { id: "m1", role: "user", content: "List primes" },
    { id: "m2", role: "assistant", content: "2, 3, 5", finish: "length", stats: { completion_tokens: 3, predicted_ms: 12 } },
  ],
};

test("round trip", () => {
  const r = parse_import(export_json([conv]));
  expect(r.errors).toEqual([]);
  expect(r.conversations).toEqual([conv]);
});

test("an id already present gets a new one", () => {
  const r = parse_import(export_json([conv]), new Set(["c1"]));
  expect(r.conversations[0].id).not.toBe("c1");
  expect(r.conversations[0].title).toBe("Prime numbers");
});

test("bad files are named precisely and import nothing", () => {
  expect(parse_import("{oops").errors[0]).toMatch(/^not JSON/);
  expect(parse_import('{"format":"other","version":1,"conversations":[]}').errors[0]).toMatch(/not a Tandem chat export/);
  expect(parse_import('{"format":"tandem-chat","version":9,"conversations":[]}').errors[0]).toMatch(/unsupported version 9/);
  expect(parse_import('{"format":"tandem-chat","version":1}').errors[0]).toMatch(/"conversations" must be an array/);
  const bad = {
    format: "tandem-chat",
    version: 1,
    conversations: [
      { ...conv, messages: [{ role: "robot", content: "x" }, { role: "user", content: 5 }] },
      "nope",
      { title: 3, messages: [] },
    ],
  };
  const r = parse_import(JSON.stringify(bad));
  expect(r.conversations).toEqual([]);
  expect(r.errors).toEqual([
    'conversations[0].messages[0].role must be "user", "assistant" or "system"',
    "conversations[0].messages[1].content must be a string",
    "conversations[1] must be an object",
    "conversations[2].title must be a string",
  ]);
});

test("a bare array of minimal conversations is accepted, with titles and ids filled in", () => {
  const r = parse_import(JSON.stringify([{ messages: [{ role: "user", content: "Hello there\nsecond line" }] }]));
  expect(r.errors).toEqual([]);
  expect(r.conversations[0].title).toBe("Hello there");
  expect(r.conversations[0].id).toMatch(/.+/);
  expect(r.conversations[0].messages[0].id).toMatch(/.+/);
});
