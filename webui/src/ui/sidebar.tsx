// The conversation list: new chat, search, rename and delete per conversation, and export/import
// of all conversations as JSON. On a phone it is a drawer opened from the header.
import { useRef, useState } from "preact/hooks";
import type { ChatController } from "../chat/controller";
import { search_conversations } from "../chat/history";
import type { Conversation } from "../store/types";
import { IconClose, IconDownload, IconEdit, IconPlus, IconTrash, IconUpload } from "./icons";

interface Props {
  ctl: ChatController;
  conversations: Conversation[];
  current_id: string | null;
  open: boolean; // drawer state on narrow screens
  on_close: () => void;
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Item({ ctl, c, current, on_pick }: { ctl: ChatController; c: Conversation; current: boolean; on_pick: () => void }) {
  const [renaming, set_renaming] = useState(false);
  const [title, set_title] = useState(c.title);
  if (renaming) {
    const done = (save: boolean) => {
      if (save) ctl.rename(c.id, title);
      set_renaming(false);
    };
    return (
      <li class="conv renaming">
        <input
          class="rename-input"
          aria-label="New title"
          value={title}
          ref={(el) => el?.focus()}
          onInput={(e) => set_title(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") done(true);
            else if (e.key === "Escape") {
              e.stopPropagation();
              done(false);
            }
          }}
          onBlur={() => done(true)}
        />
      </li>
    );
  }
  return (
    <li class={`conv${current ? " current" : ""}`}>
      <button
        type="button"
        class="conv-title"
        aria-current={current ? "page" : undefined}
        onClick={() => {
          ctl.select(c.id);
          on_pick();
        }}
      >
        {c.title}
      </button>
      <button
        type="button"
        class="icon-btn small"
        aria-label={`Rename ${c.title}`}
        title="Rename"
        onClick={() => {
          set_title(c.title);
          set_renaming(true);
        }}
      >
        <IconEdit />
      </button>
      <button
        type="button"
        class="icon-btn small"
        aria-label={`Delete ${c.title}`}
        title="Delete"
        onClick={() => {
          if (window.confirm(`Delete "${c.title}"? This cannot be undone.`)) ctl.remove(c.id);
        }}
      >
        <IconTrash />
      </button>
    </li>
  );
}

export function Sidebar({ ctl, conversations, current_id, open, on_close }: Props) {
  const [query, set_query] = useState("");
  const file = useRef<HTMLInputElement>(null);
  const shown = search_conversations(conversations, query);
  const on_file = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    input.value = "";
    if (f) await ctl.import_text(f.name, await f.text());
    on_close(); // on a phone, show the result rather than the drawer
  };
  return (
    <aside id="sidebar" class={`sidebar${open ? " open" : ""}`} aria-label="Conversations">
      <div class="side-head">
        <span class="brand">Tandem</span>
        <button type="button" class="icon-btn drawer-close" aria-label="Close conversation list" onClick={on_close}>
          <IconClose />
        </button>
      </div>
      <button
        type="button"
        class="btn new-chat"
        onClick={() => {
          ctl.new_chat();
          on_close();
        }}
      >
        <IconPlus /> New chat
      </button>
      <input
        type="search"
        class="search"
        placeholder="Search conversations"
        aria-label="Search conversations"
        value={query}
        onInput={(e) => set_query(e.currentTarget.value)}
      />
      <nav class="conv-list" aria-label="Conversation list">
        {shown.length === 0 ? (
          <p class="conv-empty">{query ? "No conversation matches." : "No conversations yet."}</p>
        ) : (
          <ul>
            {shown.map((c) => (
              <Item key={c.id} ctl={ctl} c={c} current={c.id === current_id} on_pick={on_close} />
            ))}
          </ul>
        )}
      </nav>
      <div class="side-foot">
        <button
          type="button"
          class="btn"
          disabled={conversations.length === 0}
          onClick={() => download(`tandem-chats-${new Date().toISOString().slice(0, 10)}.json`, ctl.export_all())}
        >
          <IconDownload /> Export
        </button>
        <button type="button" class="btn" onClick={() => file.current?.click()}>
          <IconUpload /> Import
        </button>
        <input ref={file} type="file" accept=".json,application/json" class="offscreen" aria-label="Import conversations file" tabIndex={-1} onChange={on_file} />
      </div>
    </aside>
  );
}
