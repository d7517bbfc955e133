// The outbox as pure data: messages written but not yet acknowledged by the
// server. Each keeps its clientId for life, so a resend after a reconnect or a
// reload is idempotent on the server. Persisted by src/hooks/useOutbox.ts.

export interface OutboxItem {
  clientId: string;
  conversationId: string;
  msg: string;
  senderId: string;
  user: string;
  createdAt: number;
  /** The seq of the message this one replies to. */
  replyTo?: number;
  /** Monotonic order of writing; sends go out in this order. */
  order: number;
}

/** Add an item at the end (re-adding a clientId keeps its place). */
export function enqueue(list: OutboxItem[], item: Omit<OutboxItem, "order">): OutboxItem[] {
  if (list.some((x) => x.clientId === item.clientId)) return list;
  const order = list.reduce((n, x) => Math.max(n, x.order), 0) + 1;
  return [...list, { ...item, order }];
}

export function removeItem(list: OutboxItem[], clientId: string): OutboxItem[] {
  const next = list.filter((x) => x.clientId !== clientId);
  return next.length === list.length ? list : next;
}

/** In the order they were written. */
export function ordered(list: OutboxItem[]): OutboxItem[] {
  return [...list].sort((a, b) => a.order - b.order || a.createdAt - b.createdAt);
}

/** The next item to send, or null. Strictly in order: a later message never overtakes an earlier one. */
export function nextToSend(list: OutboxItem[]): OutboxItem | null {
  return ordered(list)[0] ?? null;
}
