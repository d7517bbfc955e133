// Pure client-side message state. No I/O here: every function takes the old
// state and returns a new one, so the rules (dedup by seq, clientId
// reconciliation, ordering, unread counting) are unit-tested in isolation.
import type { Conversation, Message } from "../types";

export type SendStatus = "sent" | "pending" | "failed";

/** A message as the UI holds it: stored ones have a seq; optimistic ones don't yet. */
export interface LocalMessage {
  id: string | null;
  conversationId: string;
  seq: number | null;
  senderId: string;
  user: string;
  msg: string;
  clientId: string;
  createdAt: number;
  status: SendStatus;
  /** The lifecycle of a stored message (absent on optimistic ones). */
  type?: Message["type"];
  system?: Message["system"];
  replyTo?: Message["replyTo"];
  editedAt?: number | null;
  deletedAt?: number | null;
  reactions?: Message["reactions"];
  attachments?: Message["attachments"];
  rev?: number;
  /** The server's error code when a send failed for good. */
  error?: string;
}

/** The loaded window of one conversation's history. */
export interface ChatLog {
  messages: LocalMessage[];
  /** There are older stored messages than the first one held. */
  hasMoreBefore: boolean;
  /** The newest page has been loaded at least once. */
  loaded: boolean;
}

export const emptyLog = (): ChatLog => ({ messages: [], hasMoreBefore: false, loaded: false });

export function fromStored(m: Message): LocalMessage {
  return { ...m, status: "sent" };
}

/** Stored messages by seq first, then unsent ones in the order they were written. */
export function compareMessages(a: LocalMessage, b: LocalMessage): number {
  if (a.seq != null && b.seq != null) return a.seq - b.seq;
  if (a.seq != null) return -1;
  if (b.seq != null) return 1;
  return a.createdAt - b.createdAt;
}

/**
 * Merge stored messages (a history page, a catch-up page, or live events) into a
 * list. A seq already held is never added twice; a stored message replaces the
 * optimistic message of the same sender with the same clientId.
 */
export function mergeMessages(list: LocalMessage[], incoming: Message[]): LocalMessage[] {
  if (incoming.length === 0) return list;
  const appended = appendNewer(list, incoming);
  if (appended) return appended;
  const bySeq = new Map<number, LocalMessage>();
  const unsent: LocalMessage[] = [];
  for (const m of list) {
    if (m.seq != null) bySeq.set(m.seq, m);
    else unsent.push(m);
  }
  const stored = new Set<string>();
  for (const m of incoming) {
    // A seq held already is replaced only by a later change of it (an edit,
    // a delete, a reaction: a higher rev).
    const held = bySeq.get(m.seq);
    if (!held || (m.rev ?? 0) > (held.rev ?? 0)) bySeq.set(m.seq, fromStored(m));
    stored.add(m.senderId + "\u0000" + m.clientId);
  }
  const keep = unsent.filter((m) => !stored.has(m.senderId + "\u0000" + m.clientId));
  return [...bySeq.values(), ...keep].sort(compareMessages);
}

/**
 * The common live case, in time linear in the list and with no sort (a long
 * history holds 10,000 messages and more): messages all newer than every stored
 * one held, in order. They go after the stored messages and replace unsent ones
 * of the same sender and clientId, which always sit at the end. Null otherwise.
 */
function appendNewer(list: LocalMessage[], incoming: Message[]): LocalMessage[] | null {
  let last = lastStoredSeq(list);
  for (const m of incoming) {
    if (m.seq <= last) return null;
    last = m.seq;
  }
  let firstUnsent = list.length;
  while (firstUnsent > 0 && list[firstUnsent - 1].seq == null) firstUnsent--;
  const out = list.slice(0, firstUnsent);
  for (const m of incoming) out.push(fromStored(m));
  if (firstUnsent === list.length) return out;
  const stored = new Set(incoming.map((m) => m.senderId + "\u0000" + m.clientId));
  for (let i = firstUnsent; i < list.length; i++) if (!stored.has(list[i].senderId + "\u0000" + list[i].clientId)) out.push(list[i]);
  return out;
}

/** The highest rev held: `sinceRev=` for catching up on changes. */
export function highestRev(list: LocalMessage[]): number {
  let rev = 0;
  for (const m of list) if ((m.rev ?? 0) > rev) rev = m.rev ?? 0;
  return rev;
}

/** Add an optimistic (pending) message; re-adding the same clientId just marks it pending again. */
export function addPending(list: LocalMessage[], m: Omit<LocalMessage, "status" | "seq" | "id">): LocalMessage[] {
  if (list.some((x) => x.seq != null && x.clientId === m.clientId && x.senderId === m.senderId)) return list;
  const i = list.findIndex((x) => x.seq == null && x.clientId === m.clientId);
  if (i >= 0) return setStatus(list, m.clientId, "pending");
  return [...list, { ...m, id: null, seq: null, status: "pending" as const }].sort(compareMessages);
}

export function setStatus(list: LocalMessage[], clientId: string, status: SendStatus, error?: string): LocalMessage[] {
  return list.map((m) => (m.seq == null && m.clientId === clientId ? { ...m, status, error } : m));
}

export function lastStoredSeq(list: LocalMessage[]): number {
  for (let i = list.length - 1; i >= 0; i--) {
    const s = list[i].seq;
    if (s != null) return s;
  }
  return 0;
}

/**
 * The last seq of the block that starts at the first stored message and has no
 * holes. Catch-up after a reconnect asks for `after=` this, not the highest seq
 * held, so a message that was missed between two others is fetched too.
 */
export function contiguousSeq(list: LocalMessage[]): number {
  // Stored messages come first, in seq order, each seq once; unsent ones
  // follow. When the stored ones span exactly as many seqs as there are of
  // them, there is no hole: the common case, without walking a long history.
  let end = list.length - 1;
  while (end >= 0 && list[end].seq == null) end--;
  if (end < 0) return 0;
  if ((list[end].seq as number) - (list[0].seq as number) === end) return list[end].seq as number;
  let last: number | null = null;
  for (const m of list) {
    if (m.seq == null) continue;
    if (last == null || m.seq === last + 1) last = m.seq;
    else if (m.seq > last + 1) break;
  }
  return last ?? 0;
}

/**
 * A live message arrived for a loaded log: if its seq is not the next one after
 * the contiguous block held, returns the `after=` seq to fetch the gap from;
 * otherwise null. A seq already held or older needs nothing.
 */
export function gapBefore(list: LocalMessage[], incomingSeq: number): number | null {
  const c = contiguousSeq(list);
  if (c === 0) return null; // nothing loaded yet: the first page load brings it
  if (incomingSeq <= c + 1) return null;
  return c;
}

/** The seq of the first message from someone else after my read mark (where the "new messages" divider goes), or null. */
export function firstUnreadSeq(list: LocalMessage[], meId: string, lastReadSeq: number): number | null {
  for (const m of list) if (m.seq != null && m.seq > lastReadSeq && m.senderId !== meId) return m.seq;
  return null;
}

/** How many messages come after index `lastVisible` (for the jump-to-latest button). */
export function newerThan(list: LocalMessage[], lastVisible: number, meId: string): number {
  let n = 0;
  for (let i = Math.max(0, lastVisible + 1); i < list.length; i++) if (list[i].senderId !== meId) n++;
  return n;
}

export function firstStoredSeq(list: LocalMessage[]): number | null {
  for (const m of list) if (m.seq != null) return m.seq;
  return null;
}

/** Apply a page of history (`before=` or the newest page) to a log. */
export function applyHistoryPage(log: ChatLog, page: Message[], hasMore: boolean, older: boolean): ChatLog {
  return {
    messages: mergeMessages(log.messages, page),
    hasMoreBefore: older || !log.loaded ? hasMore : log.hasMoreBefore,
    loaded: true,
  };
}

/** The seq of my last message that the peer has read, or null. */
export function lastReadByPeer(list: LocalMessage[], meId: string, peerLastReadSeq: number): number | null {
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i];
    if (m.seq != null && m.senderId === meId && m.seq <= peerLastReadSeq) return m.seq;
  }
  return null;
}

// ---------- conversations ----------

/**
 * A stored message arrived (live or caught up). Updates the preview and the
 * unread count. A message already reflected (seq <= last known) changes nothing,
 * so duplicate deliveries never double-count.
 */
export function applyMessageToConversation(
  c: Conversation,
  m: Message,
  meId: string,
  viewing: boolean,
): Conversation {
  const lastSeq = c.lastMessage?.seq ?? 0;
  // A change to the last message (an edit, a delete) updates the preview only.
  if (m.seq === lastSeq && (m.rev ?? 0) > (c.lastMessage?.rev ?? 0)) return { ...c, lastMessage: m };
  if (m.seq <= lastSeq) return c;
  const mine = m.senderId === meId;
  if (mine || viewing) {
    const readSeq = Math.max(c.lastReadSeq, m.seq);
    return { ...c, lastMessage: m, lastReadSeq: readSeq, unreadCount: 0 };
  }
  return { ...c, lastMessage: m, unreadCount: m.seq > c.lastReadSeq ? c.unreadCount + 1 : c.unreadCount };
}

/** I read up to `seq`: marks never move backwards. */
export function markReadUpTo(c: Conversation, seq: number, unreadAfter = 0): Conversation {
  if (seq <= c.lastReadSeq && c.unreadCount === unreadAfter) return c;
  return { ...c, lastReadSeq: Math.max(c.lastReadSeq, seq), unreadCount: unreadAfter };
}

/** Count messages from others after my read mark, in a loaded list. */
export function countUnread(list: LocalMessage[], meId: string, lastReadSeq: number): number {
  let n = 0;
  for (const m of list) if (m.seq != null && m.seq > lastReadSeq && m.senderId !== meId) n++;
  return n;
}

export function activityOf(c: Conversation): number {
  return c.lastMessage?.createdAt ?? c.createdAt;
}

/** The lobby pinned first, then most recent activity first. */
export function sortConversations(list: Conversation[]): Conversation[] {
  return [...list].sort((a, b) => {
    if (a.kind === "lobby" || a.id === "lobby") return -1;
    if (b.kind === "lobby" || b.id === "lobby") return 1;
    return activityOf(b) - activityOf(a) || (a.id < b.id ? -1 : 1);
  });
}

/** Insert or replace a conversation by id, keeping local read state that is ahead. */
export function upsertConversation(list: Conversation[], c: Conversation): Conversation[] {
  const i = list.findIndex((x) => x.id === c.id);
  if (i < 0) return sortConversations([...list, c]);
  const old = list[i];
  // Read marks only move forward on the server too: a snapshot taken before my latest mark
  // reached it (an answer in flight, a mark sent while offline) must not move mine back, or
  // the chat would open at a divider long read and count those messages unread again.
  const readAhead = old.lastReadSeq > c.lastReadSeq;
  const merged: Conversation = {
    ...c,
    lastMessage: (old.lastMessage?.seq ?? 0) > (c.lastMessage?.seq ?? 0) ? old.lastMessage : c.lastMessage,
    lastReadSeq: Math.max(old.lastReadSeq, c.lastReadSeq),
    unreadCount: readAhead ? old.unreadCount : c.unreadCount,
    peerLastReadSeq: Math.max(old.peerLastReadSeq, c.peerLastReadSeq),
  };
  const next = list.slice();
  next[i] = merged;
  return sortConversations(next);
}

export function newClientId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
