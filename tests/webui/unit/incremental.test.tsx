// Incremental rendering: while one answer streams, finished messages are not rendered again, and
// tokens arriving within one animation frame cause one update.
import { h, render } from "preact";
import { act } from "preact/test-utils";
import { beforeEach, expect, test, vi } from "vitest";
import type { ChatController } from "../../../webui/src/chat/controller";
import { frame_batcher } from "../../../webui/src/chat/frame_batcher";
import { replace_message } from "../../../webui/src/chat/history";
import type { Conversation } from "../../../webui/src/store/types";
import { MessageList } from "../../../webui/src/ui/message_list";

const calls: string[] = [];
vi.mock("../../../webui/src/markdown/render", async (original) => {
  const mod = await original<typeof import("../../../webui/src/markdown/render")>();
  return {
    render_markdown: (src: string) => {
      calls.push(src);
      return mod.render_markdown(src);
    },
  };
});

const ctl = {} as ChatController; // the list only hands it to buttons
beforeEach(() => {
  calls.length = 0;
});

function conv(answer: string): Conversation {
  return {
    id: "c",
    title: "t",
    created: 0,
    updated: 0,
    messages: [
      { id: "u1", role: "user", content: "first question" },
      { id: "a1", role: "assistant", content: "first **answer**", finish: "stop" },
      { id: "u2", role: "user", content: "second question" },
      { id: "a2", role: "assistant", content: answer },
    ],
  };
}

test("only the streaming message is rendered again", () => {
  const root = document.createElement("div");
  document.body.appendChild(root);
  let c = conv("");
  const show = () => act(() => render(h(MessageList, { ctl, conversation: c, streaming_id: "a2", retry_at: null, status: "" }), root));
  show();
  expect(calls).toEqual(["first **answer**", ""]);
  const first = root.querySelector('[data-id="a1"] .markdown')!;
  calls.length = 0;
  for (const text of ["Once", "Once upon", "Once upon a *time*"]) {
    c = { ...c, messages: replace_message(c.messages, "a2", { content: text }) };
    show();
  }
  expect(calls).toEqual(["Once", "Once upon", "Once upon a *time*"]);
  expect(root.querySelector('[data-id="a1"] .markdown')).toBe(first); // same node, untouched
  expect(root.querySelector('[data-id="a2"] em')?.textContent).toBe("time");
  render(null, root);
});

test("replace_message keeps the other message objects", () => {
  const c = conv("x");
  const next = replace_message(c.messages, "a2", { content: "y" });
  expect(next[0]).toBe(c.messages[0]);
  expect(next[1]).toBe(c.messages[1]);
  expect(next[3]).not.toBe(c.messages[3]);
  expect(next[3].content).toBe("y");
});

test("frame_batcher: many schedules in one frame flush once; flush_now flushes a pending one", () => {
  const frames: (() => void)[] = [];
  let flushes = 0;
  const b = frame_batcher(
    () => flushes++,
    (cb) => frames.push(cb),
    (id) => (frames[id - 1] = () => undefined),
  );
  for (let i = 0; i < 10; i++) b.schedule();
  expect(frames.length).toBe(1);
  frames[0]();
  expect(flushes).toBe(1);
  b.schedule();
  b.schedule();
  expect(frames.length).toBe(2);
  b.flush_now();
  expect(flushes).toBe(2);
  frames[1](); // the cancelled frame does nothing
  expect(flushes).toBe(2);
  b.flush_now(); // nothing pending
  expect(flushes).toBe(2);
});
