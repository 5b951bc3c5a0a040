// Which messages a generation sends: everything before the answer being written, less empty
// assistant turns (an answer that failed before its first token); a continuation also sends the
// partial answer itself as the last message.
import type { ApiMessage } from "../api/request";
import type { ChatMessage } from "../store/types";

export type JobMode = "fresh" | "continue";

export function api_messages(messages: ChatMessage[], answer_index: number, mode: JobMode): ApiMessage[] {
  const upto = mode === "continue" ? answer_index + 1 : answer_index;
  return messages
    .slice(0, upto)
    .filter((m) => !(m.role === "assistant" && m.content === ""))
    .map((m) => ({ role: m.role, content: m.content }));
}

// Replaces one message (by id) in a list, keeping every other object as it was, so views of
// unchanged messages are skipped by memo().
export function replace_message(messages: ChatMessage[], id: string, patch: Partial<ChatMessage>): ChatMessage[] {
  return messages.map((m) => (m.id === id ? { ...m, ...patch } : m));
}

// Conversations whose title or text holds the query (case-insensitive).
export function search_conversations<T extends { title: string; messages: { content: string }[] }>(list: T[], query: string): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return list;
  return list.filter((c) => c.title.toLowerCase().includes(q) || c.messages.some((m) => m.content.toLowerCase().includes(q)));
}
