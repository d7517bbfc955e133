// Catching up: after every (re)connect the conversation list is re-read and each
// loaded conversation fetches what came after its last CONTIGUOUS seq; a live
// message whose seq is not the next one held triggers a fetch of the gap.
import { useCallback, useMemo, useRef, type Dispatch, type MutableRefObject } from "react";
import { api, fetchAfter, fetchSinceRev } from "../api";
import { contiguousSeq, gapBefore, highestRev } from "../state/messages";
import type { Action, State } from "../state/store";
import type { Message } from "../types";

export function useResync(stateRef: MutableRefObject<State>, dispatch: Dispatch<Action>) {
  const inFlight = useRef<Set<string>>(new Set());

  /** Fetch everything after the contiguous block of one loaded conversation. */
  const catchUp = useCallback(async (id: string) => {
    if (inFlight.current.has(id)) return;
    const log = stateRef.current.logs[id];
    if (!log?.loaded) return;
    inFlight.current.add(id);
    try {
      const rev = highestRev(log.messages);
      const { messages } = await fetchAfter(id, contiguousSeq(log.messages));
      dispatch({ type: "messages", conversationId: id, messages, visible: true });
      // Edits, deletes and reactions missed while away: every change after the newest rev held.
      if (rev > 0) {
        const changed = await fetchSinceRev(id, rev);
        dispatch({ type: "messages", conversationId: id, messages: changed, visible: true });
      }
    } catch { /* the next reconnect or message tries again */ } finally {
      inFlight.current.delete(id);
    }
  }, [stateRef, dispatch]);

  const sync = useCallback(async () => {
    try {
      const { conversations } = await api.conversations();
      dispatch({ type: "conversations", list: conversations });
      await Promise.all(Object.keys(stateRef.current.logs).map((id) => catchUp(id)));
    } catch { /* the next reconnect tries again */ }
  }, [stateRef, dispatch, catchUp]);

  /** A live message: apply it, and fetch the gap before it when there is one. */
  const live = useCallback((m: Message) => {
    const log = stateRef.current.logs[m.conversationId];
    const gap = log?.loaded ? gapBefore(log.messages, m.seq) : null;
    dispatch({ type: "messages", conversationId: m.conversationId, messages: [m], visible: true });
    if (gap != null) void catchUp(m.conversationId);
  }, [stateRef, dispatch, catchUp]);

  /** A changed message (`message:update`): replaces the one held, if newer. */
  const update = useCallback((m: Message) => {
    dispatch({ type: "messages", conversationId: m.conversationId, messages: [m], visible: true });
  }, [dispatch]);

  return useMemo(() => ({ sync, catchUp, live, update }), [sync, catchUp, live, update]);
}
