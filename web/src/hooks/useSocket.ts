// The one Socket.IO connection of a signed-in tab. Authenticates with the
// HttpOnly session cookie (no token in script-readable storage), reports the
// connection state to the reducer and hands every server event to `handlers`.
import { useCallback, useEffect, useRef, type Dispatch } from "react";
import { io, type Socket } from "socket.io-client";
import { api } from "../api";
import type { Action } from "../state/store";
import type { Conversation, Message, PresenceEvent, ReadEvent, TypingEvent, User } from "../types";

export interface SocketHandlers {
  connected: () => void;
  message: (m: Message) => void;
  update: (m: Message) => void;
  conversation: (c: Conversation) => void;
  typing: (e: TypingEvent) => void;
  read: (e: ReadEvent) => void;
  presence: (e: PresenceEvent) => void;
  user: (u: User) => void;
}

export function useSocket(userId: string, dispatch: Dispatch<Action>, handlers: SocketHandlers) {
  const socketRef = useRef<Socket | null>(null);
  const h = useRef(handlers);
  h.current = handlers;
  const closed = useRef(false);

  useEffect(() => {
    closed.current = false;
    const s = io({ path: "/api/socket.io", withCredentials: true, reconnectionDelayMax: 3000 });
    socketRef.current = s;
    (window as unknown as { __natterSocket?: Socket }).__natterSocket = s;
    const reconnectIfSignedIn = (delay: number) => setTimeout(() => {
      if (closed.current || s.connected || !navigator.onLine) return;
      // A 401 here ends the session through the API's unauthorized handler; then nothing reconnects.
      api.me().then(() => { if (!closed.current && !s.connected) s.connect(); }).catch(() => {});
    }, delay);
    s.on("connect", () => { dispatch({ type: "connection", state: "connected" }); h.current.connected(); });
    s.on("disconnect", (reason) => {
      dispatch({ type: "connection", state: "disconnected" });
      // The server ended this socket (a sign-out elsewhere, a password change, a restart):
      // reconnect only while the session is still good.
      if (reason === "io server disconnect") reconnectIfSignedIn(1000);
    });
    s.on("connect_error", (err) => {
      dispatch({ type: "connection", state: "disconnected" });
      if (err.message === "unauthorized") reconnectIfSignedIn(3000);
    });
    s.on("message", (m: Message) => h.current.message(m));
    s.on("message:update", (m: Message) => h.current.update(m));
    s.on("conversation", (c: Conversation) => h.current.conversation(c));
    s.on("typing", (e: TypingEvent) => h.current.typing(e));
    s.on("read", (e: ReadEvent) => h.current.read(e));
    s.on("presence", (e: PresenceEvent) => h.current.presence(e));
    s.on("user", (u: User) => h.current.user(u));
    // The browser knows first when the network goes: drop the socket at once
    // (instead of waiting for ping timeouts) and reconnect when it is back.
    const offline = () => { s.disconnect(); dispatch({ type: "connection", state: "disconnected" }); };
    const online = () => { if (!s.connected && !closed.current) s.connect(); };
    window.addEventListener("offline", offline);
    window.addEventListener("online", online);
    // A socket that is neither connected nor retrying while the network is up gets restarted.
    const watchdog = setInterval(() => { if (!closed.current && !s.connected && !s.active && navigator.onLine) s.connect(); }, 5000);
    return () => {
      closed.current = true;
      clearInterval(watchdog);
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      s.removeAllListeners();
      s.disconnect();
      if (socketRef.current === s) socketRef.current = null;
    };
  }, [userId, dispatch]);

  /** Tear the socket down for good (sign-out): no reconnect, no listeners left. */
  const close = useCallback(() => {
    closed.current = true;
    const s = socketRef.current;
    if (s) { s.removeAllListeners(); s.disconnect(); }
    socketRef.current = null;
  }, []);

  return { socketRef, close };
}
