// The conversation's messages: keeps the view pinned to the bottom while an answer streams
// (unless the reader scrolled up), and handles every code block's Copy button in one listener.
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import type { Conversation } from "../store/types";
import { copy_text } from "./clipboard";
import { MessageView } from "./message_view";

interface Props {
  ctl: ChatController;
  conversation: Conversation | null;
  streaming_id: string | null;
  retry_at: number | null;
  status: string; // the empty page's line about the server
}

async function on_click(e: MouseEvent) {
  const btn = (e.target as HTMLElement).closest<HTMLButtonElement>("button.copy-code");
  if (!btn) return;
  const code = btn.closest(".code-block")?.querySelector("code");
  if (!code) return;
  const ok = await copy_text(code.textContent ?? "");
  btn.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => (btn.textContent = "Copy"), 1500);
}

export function MessageList({ ctl, conversation, streaming_id, retry_at, status }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const messages = conversation?.messages ?? [];
  const last_content = messages[messages.length - 1]?.content;

  useEffect(() => {
    pinned.current = true;
  }, [conversation?.id]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [conversation?.id, messages.length, last_content]);

  const on_scroll = () => {
    const el = box.current;
    if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  return (
    <div class="messages" ref={box} onScroll={on_scroll} onClick={on_click} role="log" aria-label="Conversation" aria-live="polite" aria-busy={streaming_id !== null}>
      {messages.length === 0 ? (
        <div class="empty">
          <h1>What can I help with?</h1>
          <p>{status}</p>
          <p class="hint">
            <kbd>Enter</kbd> sends, <kbd>Shift</kbd>+<kbd>Enter</kbd> starts a new line, <kbd>Esc</kbd> stops an answer.
          </p>
        </div>
      ) : (
        <div class="messages-inner">
          {messages.map((m, i) => (
            <MessageView
              key={m.id}
              ctl={ctl}
              message={m}
              streaming={m.id === streaming_id}
              busy={streaming_id !== null}
              last={i === messages.length - 1}
              retry_at={i === messages.length - 1 ? retry_at : null}
            />
          ))}
        </div>
      )}
    </div>
  );
}
