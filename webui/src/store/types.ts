// The conversation data the UI keeps in IndexedDB and exports as JSON.
import type { ChatError } from "../api/errors";
import type { Role } from "../api/request";

// Numbers reported for one answer: the final chunk's timings and the usage chunk.
export interface Stats {
  prompt_tokens?: number;
  completion_tokens?: number;
  predicted_n?: number;
  predicted_ms?: number;
  first_token_ms?: number;
  draft_n?: number;
  draft_n_accepted?: number;
}

// finish: how the answer ended ("stop" and "length" from the server; "aborted" by Stop; "error").
export type Finish = "stop" | "length" | "aborted" | "error";

export interface ChatMessage {
  id: string;
  role: Role;
  content: string;
  finish?: Finish;
  error?: ChatError;
  stats?: Stats;
}

export interface Conversation {
  id: string;
  title: string;
  created: number; // ms since the epoch
  updated: number;
  messages: ChatMessage[];
}

export function new_id(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

// A title from the first user message: its first line, at most 60 characters.
export function title_from(text: string): string {
  const line = text.trim().split("\n")[0].trim();
  if (line === "") return "New chat";
  return line.length > 60 ? line.slice(0, 57) + "..." : line;
}
