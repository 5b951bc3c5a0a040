// Conversations in IndexedDB: one object store keyed by conversation id, each record a whole
// Conversation. Small enough that the UI loads every conversation at start.
import type { Conversation } from "./types";

const db_name = "tandem";
const store = "conversations";
let db_promise: Promise<IDBDatabase> | null = null;

function open_db(): Promise<IDBDatabase> {
  if (!db_promise) {
    db_promise = new Promise((resolve, reject) => {
      const req = indexedDB.open(db_name, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store, { keyPath: "id" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("IndexedDB is blocked by another tab"));
    });
  }
  return db_promise;
}

function run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  return open_db().then(
    (db) =>
      new Promise((resolve, reject) => {
        const tx = db.transaction(store, mode);
        const req = fn(tx.objectStore(store));
        tx.oncomplete = () => resolve(req ? req.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      }),
  );
}

export async function db_list(): Promise<Conversation[]> {
  const all = ((await run("readonly", (s) => s.getAll())) ?? []) as Conversation[];
  return all.sort((a, b) => b.updated - a.updated);
}

export async function db_put(c: Conversation): Promise<void> {
  await run("readwrite", (s) => s.put(c));
}

export async function db_put_many(cs: Conversation[]): Promise<void> {
  await run("readwrite", (s) => {
    for (const c of cs) s.put(c);
  });
}

export async function db_delete(id: string): Promise<void> {
  await run("readwrite", (s) => s.delete(id));
}
