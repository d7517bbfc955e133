// The outbox: every send is first written to IndexedDB (idb-keyval, key
// `natter.outbox.<userId>`) and shown as pending; it is sent over the socket,
// strictly in the order written, whenever the socket is connected. A transient
// failure (offline, timeout, 5xx, 429) keeps it queued for the next connect; a
// refusal (e.g. `message_too_long`) marks it failed with the server's code and
// offers a retry. Items keep their clientId, so resends are idempotent.
import { useCallback, useEffect, useMemo, useRef, type Dispatch, type MutableRefObject } from "react";
import { get, set } from "idb-keyval";
import type { Socket } from "socket.io-client";
import { ApiError, isTransient } from "../api";
import { newClientId } from "../state/messages";
import { enqueue, nextToSend, removeItem, type OutboxItem } from "../state/outbox";
import type { Action } from "../state/store";
import type { Message, User } from "../types";

const RETRY_MS = 4000;
const key = (userId: string) => `natter.outbox.${userId}`;

export function useOutbox(me: User, socketRef: MutableRefObject<Socket | null>, connected: boolean, dispatch: Dispatch<Action>) {
  const items = useRef<OutboxItem[]>([]);
  const restored = useRef(false);
  const flushing = useRef(false);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const saving = useRef<Promise<unknown>>(Promise.resolve());

  const persist = useCallback(() => {
    const snapshot = items.current;
    saving.current = saving.current.then(() => set(key(me.id), snapshot)).catch(() => { /* no IndexedDB: memory only */ });
    return saving.current;
  }, [me.id]);

  const flush = useCallback(async () => {
    if (flushing.current || !restored.current) return;
    flushing.current = true;
    try {
      for (;;) {
        const s = socketRef.current;
        const item = nextToSend(items.current);
        if (!item || !s || !s.connected) return;
        let message: Message;
        try {
          const ack = await s.timeout(10_000).emitWithAck("message:send", { conversationId: item.conversationId, msg: item.msg, clientId: item.clientId, ...(item.replyTo != null ? { replyTo: item.replyTo } : {}) });
          if (!ack || ack.error || !ack.message) throw new ApiError(ack?.error ? 400 : 0, ack?.error?.code ?? "unknown", ack?.error?.message ?? "");
          message = ack.message;
        } catch (e) {
          const err = e instanceof ApiError ? e : new ApiError(0, "timeout", String(e));
          if (isTransient(err) || err.code === "too_many_requests" || err.code === "busy" || err.code === "rate_limited" || err.code === "internal_error" || err.code === "service_unavailable") {
            if (retryTimer.current) clearTimeout(retryTimer.current);
            retryTimer.current = setTimeout(() => { retryTimer.current = null; void flush(); }, RETRY_MS);
            return;
          }
          items.current = removeItem(items.current, item.clientId);
          void persist();
          dispatch({ type: "sendFailed", conversationId: item.conversationId, clientId: item.clientId, code: err.code });
          continue;
        }
        items.current = removeItem(items.current, item.clientId);
        void persist();
        dispatch({ type: "messages", conversationId: item.conversationId, messages: [message], visible: true });
      }
    } finally {
      flushing.current = false;
    }
  }, [socketRef, dispatch, persist]);

  // Restore what an earlier page left unsent.
  useEffect(() => {
    let stop = false;
    get<OutboxItem[]>(key(me.id)).catch(() => undefined).then((saved) => {
      if (stop) return;
      const mine = (saved ?? []).filter((x) => x && x.senderId === me.id);
      for (const x of mine) items.current = enqueue(items.current, x);
      for (const x of items.current) {
        dispatch({ type: "pending", message: { conversationId: x.conversationId, clientId: x.clientId, msg: x.msg, senderId: x.senderId, user: x.user, createdAt: x.createdAt } });
      }
      restored.current = true;
      void flush();
    });
    return () => { stop = true; };
  }, [me.id, dispatch, flush]);

  useEffect(() => { if (connected) void flush(); }, [connected, flush]);
  useEffect(() => () => { if (retryTimer.current) clearTimeout(retryTimer.current); }, []);

  /** Queue a message (or re-queue a failed one with its clientId) and send when possible. */
  const send = useCallback(async (conversationId: string, msg: string, clientId?: string, createdAt?: number, replyTo?: number) => {
    const item = { conversationId, msg, clientId: clientId ?? newClientId(), senderId: me.id, user: me.username, createdAt: createdAt ?? Date.now(), replyTo };
    items.current = enqueue(items.current, item);
    dispatch({ type: "pending", message: { ...item, replyTo: undefined } });
    await persist();
    void flush();
  }, [me.id, me.username, dispatch, persist, flush]);

  return useMemo(() => ({ send, flush }), [send, flush]);
}
