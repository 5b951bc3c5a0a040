// One message: user text as typed, assistant text as sanitized markdown, its numbers, its error
// and its actions. Memoized on the message object, so a finished message is not rendered again
// while another one streams.
import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import { render_markdown } from "../markdown/render";
import type { ChatMessage, Stats } from "../store/types";
import { copy_text } from "./clipboard";
import { IconContinue, IconCopy, IconEdit, IconRefresh } from "./icons";

export interface MessageProps {
  ctl: ChatController;
  message: ChatMessage;
  streaming: boolean; // this message is being written now
  busy: boolean; // some message is being written (actions wait)
  last: boolean;
  retry_at: number | null; // only for the last message
}

export function format_stats(s: Stats): string {
  const parts: string[] = [];
  const n = s.completion_tokens ?? s.predicted_n;
  if (n !== undefined) parts.push(`${n} token${n === 1 ? "" : "s"}`);
  if (s.predicted_n && s.predicted_ms && s.predicted_ms > 0) {
    parts.push(`${((s.predicted_n * 1000) / s.predicted_ms).toFixed(1)} tok/s`);
  }
  if (s.first_token_ms !== undefined) parts.push(`first token ${Math.round(s.first_token_ms)} ms`);
  if (s.prompt_tokens !== undefined) parts.push(`prompt ${s.prompt_tokens} tokens`);
  if (s.draft_n) parts.push(`drafts ${s.draft_n_accepted ?? 0}/${s.draft_n} accepted`);
  return parts.join(" · ");
}

function Countdown({ until }: { until: number }) {
  const [now, set_now] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => set_now(Date.now()), 250);
    return () => clearInterval(t);
  }, [until]);
  return <span class="countdown">{Math.max(0, Math.ceil((until - now) / 1000))} s</span>;
}

function ErrorBlock({ ctl, message, last, retry_at }: MessageProps) {
  const e = message.error;
  if (!e) return null;
  return (
    <div class="msg-error" role="alert">
      <p>{e.kind === "busy" && last && retry_at ? e.message.replace(/; trying again in \d+ s\./, ".") : e.message}</p>
      <div class="msg-error-actions">
        {e.kind === "auth" && (
          <button type="button" class="btn" onClick={() => ctl.open_key_prompt(true)}>
            Enter API key
          </button>
        )}
        {e.kind === "busy" && last && retry_at && (
          <>
            <span>
              Trying again in <Countdown until={retry_at} />
            </span>
            <button type="button" class="btn" onClick={() => ctl.retry()}>
              Retry now
            </button>
            <button type="button" class="btn" onClick={() => ctl.cancel_retry()}>
              Cancel
            </button>
          </>
        )}
        {(e.kind === "network" || e.kind === "stream" || e.kind === "http" || (e.kind === "busy" && !retry_at)) &&
          last && (
            <button type="button" class="btn" onClick={() => ctl.retry()}>
              Retry
            </button>
          )}
        {e.kind === "context" && (
          <button type="button" class="btn" onClick={() => ctl.new_chat()}>
            New chat
          </button>
        )}
      </div>
    </div>
  );
}

function Editor({ ctl, message, on_done }: { ctl: ChatController; message: ChatMessage; on_done: () => void }) {
  const [text, set_text] = useState(message.content);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const submit = () => {
    ctl.edit_and_resend(message.id, text);
    on_done();
  };
  return (
    <div class="msg-editor">
      <textarea
        ref={ref}
        aria-label="Edited message"
        value={text}
        onInput={(e) => set_text(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          } else if (e.key === "Escape") {
            e.stopPropagation();
            on_done();
          }
        }}
      />
      <div class="msg-editor-actions">
        <button type="button" class="btn primary" onClick={submit} disabled={!text.trim()}>
          Send
        </button>
        <button type="button" class="btn" onClick={on_done}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function MessageViewInner(props: MessageProps) {
  const { ctl, message: m, streaming, busy, last } = props;
  const [editing, set_editing] = useState(false);
  const html = useMemo(() => (m.role === "assistant" ? render_markdown(m.content) : ""), [m.role, m.content]);
  const can_continue = last && !busy && m.role === "assistant" && m.content !== "" && m.finish !== undefined && m.finish !== "stop";
  const label = m.role === "user" ? "You" : m.role === "assistant" ? "Assistant" : "System";
  return (
    <article
      class={`msg msg-${m.role}${streaming ? " streaming" : ""}`}
      aria-label={`${label} message`}
      data-role={m.role}
      data-finish={m.finish ?? ""}
      data-id={m.id}
    >
      <div class="msg-who">{label}</div>
      {editing ? (
        <Editor ctl={ctl} message={m} on_done={() => set_editing(false)} />
      ) : m.role === "assistant" ? (
        <div class="msg-body markdown" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <div class="msg-body plain">{m.content}</div>
      )}
      {streaming && m.content === "" && (
        <div class="typing" role="status" aria-label="Waiting for the first token">
          <span />
          <span />
          <span />
        </div>
      )}
      {m.finish === "length" && !streaming && <p class="msg-note">The answer hit the token limit.</p>}
      {m.finish === "aborted" && !streaming && <p class="msg-note">Stopped.</p>}
      <ErrorBlock {...props} />
      {!editing && !streaming && (
        <div class="msg-foot">
          {m.stats && <span class="msg-stats">{format_stats(m.stats)}</span>}
          <span class="msg-actions">
            {m.content !== "" && (
              <button type="button" class="icon-btn" aria-label="Copy message" title="Copy" onClick={() => void copy_text(m.content)}>
                <IconCopy />
              </button>
            )}
            {m.role === "user" && (
              <button type="button" class="icon-btn" aria-label="Edit message" title="Edit and resend" disabled={busy} onClick={() => set_editing(true)}>
                <IconEdit />
              </button>
            )}
            {m.role === "assistant" && (
              <button type="button" class="icon-btn" aria-label="Regenerate answer" title="Regenerate" disabled={busy} onClick={() => ctl.regenerate(m.id)}>
                <IconRefresh />
              </button>
            )}
            {can_continue && (
              <button type="button" class="btn continue" aria-label="Continue answer" onClick={() => ctl.continue_answer(m.id)}>
                <IconContinue /> Continue
              </button>
            )}
          </span>
        </div>
      )}
    </article>
  );
}

// Re-renders only when a prop changed (preact/compat's memo without compat's weight).
export class MessageView extends Component<MessageProps> {
  shouldComponentUpdate(next: MessageProps): boolean {
    const p = this.props;
    return (Object.keys(next) as (keyof MessageProps)[]).some((k) => p[k] !== next[k]);
  }
  render(p: MessageProps) {
    return <MessageViewInner {...p} />;
  }
}
