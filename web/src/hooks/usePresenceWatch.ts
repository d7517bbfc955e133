// The server tells a socket of its contacts' presence (people it shares a
// conversation with) on its own; anyone else a view shows, it has to ask for:
// subscribe to those users while they are on screen, and again after every
// reconnect (a new socket starts with no subscriptions).
import { useEffect, type MutableRefObject } from "react";
import type { Socket } from "socket.io-client";
import type { PresenceSubscribe, PresenceUnsubscribe } from "../types";

/** The server's bound per socket; a view never needs more at once. */
export const MAX_WATCHED = 500;

export function usePresenceWatch(socketRef: MutableRefObject<Socket | null>, connected: boolean, ids: string[]) {
  // One string, so the effect reruns only when the set of users changes.
  const key = [...new Set(ids)].sort().slice(0, MAX_WATCHED).join(",");
  useEffect(() => {
    const s = socketRef.current;
    if (!connected || !s || !key) return;
    const subscribe: PresenceSubscribe = { userIds: key.split(",") };
    s.emit("presence:subscribe", subscribe);
    return () => {
      const unsubscribe: PresenceUnsubscribe = subscribe;
      if (s.connected) s.emit("presence:unsubscribe", unsubscribe);
    };
  }, [socketRef, connected, key]);
}
