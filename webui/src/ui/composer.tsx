// The message box: Enter sends, Shift+Enter adds a line, and while an answer streams the Send
// button becomes Stop.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import { IconSend, IconStop } from "./icons";

export function Composer({ ctl, streaming, conv_id }: { ctl: ChatController; streaming: boolean; conv_id: string | null }) {
  const [text, set_text] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => ref.current?.focus(), [conv_id, streaming]);
  const send = () => {
    if (streaming || !text.trim()) return;
    ctl.send(text);
    set_text("");
  };
  return (
    <div class="composer">
      <textarea
        ref={ref}
        rows={1}
        placeholder="Message"
        aria-label="Message"
        value={text}
        onInput={(e) => set_text(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      {streaming ? (
        <button type="button" class="send stop" aria-label="Stop" title="Stop (Esc)" onClick={() => ctl.stop()}>
          <IconStop />
        </button>
      ) : (
        <button type="button" class="send" aria-label="Send" title="Send (Enter)" disabled={!text.trim()} onClick={send}>
          <IconSend />
        </button>
      )}
    </div>
  );
}
