// The app shell: language, the sign-in gate, and ChatApp, which owns the socket,
// the fetches and the timers and feeds every event into the pure reducer.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { api, ApiError, fetchAfter, getToken, setToken, setUnauthorizedHandler } from "./api";
import { detectLang, dictionaries, I18nContext, saveLang, useI18n, type Lang } from "./i18n";
import { firstStoredSeq, lastStoredSeq, newClientId } from "./state/messages";
import { initialState, reducer } from "./state/store";
import type { Conversation, Message, PresenceEvent, ReadEvent, TypingEvent, User } from "./types";
import { AuthScreen } from "./components/AuthScreen";
import { Sidebar, type Tab } from "./components/Sidebar";
import { ChatView } from "./components/ChatView";
import { ProfilePanel } from "./components/ProfilePanel";

export function Root() {
  const [lang, setLangState] = useState<Lang>(detectLang);
  const setLang = useCallback((l: Lang) => { saveLang(l); setLangState(l); }, []);
  useEffect(() => { document.documentElement.lang = lang; }, [lang]);
  const ctx = useMemo(() => ({ lang, t: dictionaries[lang], setLang }), [lang, setLang]);

  const [me, setMe] = useState<User | null>(null);
  const [checking, setChecking] = useState(() => !!getToken());

  const signOut = useCallback(() => { setToken(null); setMe(null); }, []);
  useEffect(() => { setUnauthorizedHandler(signOut); }, [signOut]);
  useEffect(() => {
    if (!getToken()) return;
    api.me().then((r) => setMe(r.user)).catch((e) => { if (e instanceof ApiError && e.status === 401) setToken(null); })
      .finally(() => setChecking(false));
  }, []);

  return (
    <I18nContext.Provider value={ctx}>
      {checking ? (
        <div className="flex h-full items-center justify-center text-slate-500" role="status">…</div>
      ) : me ? (
        <ChatApp key={me.id} me={me} onSignOut={signOut} />
      ) : (
        <AuthScreen onSignedIn={setMe} />
      )}
    </I18nContext.Provider>
  );
}

const TYPING_SHOW_MS = 3000;
const TYPING_EMIT_MS = 2000;

function useVisible(): boolean {
  const [v, setV] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const f = () => setV(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", f);
    return () => document.removeEventListener("visibilitychange", f);
  }, []);
  return v;
}

function ChatApp({ me, onSignOut }: { me: User; onSignOut: () => void }) {
  const { t } = useI18n();
  const [state, dispatch] = useReducer(reducer, { ...initialState, me, users: { [me.id]: me } });
  const stateRef = useRef(state);
  stateRef.current = state;
  const visible = useVisible();
  const visibleRef = useRef(visible);
  visibleRef.current = visible;
  const socketRef = useRef<Socket | null>(null);
  const readSent = useRef<Record<string, number>>({});
  const lastTypingEmit = useRef<Record<string, number>>({});
  const requestedUsers = useRef<Set<string>>(new Set());
  const [tab, setTab] = useState<Tab>("chats");
  const [main, setMain] = useState<"chat" | "profile">("chat");
  const [mobileMain, setMobileMain] = useState(false);

  const ensureConversation = useCallback(async (id: string) => {
    if (stateRef.current.conversations.some((c) => c.id === id)) return;
    try { dispatch({ type: "conversation", conversation: (await api.conversation(id)).conversation }); } catch { /* not visible to us */ }
  }, []);

  /** Catch up the list and every loaded conversation after (re)connecting. */
  const sync = useCallback(async () => {
    try {
      const { conversations } = await api.conversations();
      dispatch({ type: "conversations", list: conversations });
      for (const [id, log] of Object.entries(stateRef.current.logs)) {
        if (!log.loaded) continue;
        const msgs = await fetchAfter(id, lastStoredSeq(stateRef.current.logs[id]?.messages ?? log.messages));
        dispatch({ type: "messages", conversationId: id, messages: msgs, visible: visibleRef.current });
      }
    } catch { /* the next reconnect tries again */ }
  }, []);

  // ---------- socket ----------
  useEffect(() => {
    const s = io({ path: "/api/socket.io", auth: { token: getToken() }, reconnectionDelayMax: 3000 });
    socketRef.current = s;
    (window as unknown as { __natterSocket?: Socket }).__natterSocket = s;
    s.on("connect", () => {
      if (import.meta.env.VITE_DEBUG_SOCKET) console.log("socket connect");
      dispatch({ type: "connection", state: "connected" });
      void sync(); // catch up on whatever happened while we were away
    });
    s.on("disconnect", (reason) => {
      if (import.meta.env.VITE_DEBUG_SOCKET) console.log("socket disconnect", reason);
      dispatch({ type: "connection", state: "disconnected" });
      if (reason === "io server disconnect" && navigator.onLine) setTimeout(() => s.connect(), 1000);
    });
    s.on("connect_error", (err) => {
      dispatch({ type: "connection", state: "disconnected" });
      if (err.message === "unauthorized") api.me().catch(() => {}).finally(() => setTimeout(() => { if (!s.connected && navigator.onLine) s.connect(); }, 3000));
    });
    s.on("message", (m: Message) => {
      void ensureConversation(m.conversationId);
      dispatch({ type: "messages", conversationId: m.conversationId, messages: [m], visible: visibleRef.current });
    });
    s.on("conversation", (c: Conversation) => dispatch({ type: "conversation", conversation: c }));
    s.on("typing", (e: TypingEvent) => {
      if (e.userId !== me.id) dispatch({ type: "typing", conversationId: e.conversationId, userId: e.userId, until: Date.now() + TYPING_SHOW_MS });
    });
    s.on("read", (e: ReadEvent) => dispatch({ type: "peerRead", conversationId: e.conversationId, userId: e.userId, seq: e.seq }));
    s.on("presence", (e: PresenceEvent) => dispatch({ type: "presence", event: e }));
    s.on("user", (u: User) => dispatch({ type: "user", user: u }));
    // The browser knows first when the network goes: drop the socket at once
    // (instead of waiting for ping timeouts) and reconnect when it is back.
    const offline = () => { s.disconnect(); dispatch({ type: "connection", state: "disconnected" }); };
    const online = () => { if (!s.connected) s.connect(); };
    window.addEventListener("offline", offline);
    window.addEventListener("online", online);
    // Belt and braces: a socket that is neither connected nor retrying while the network is up gets restarted.
    const watchdog = setInterval(() => { if (!s.connected && !s.active && navigator.onLine) s.connect(); }, 5000);
    void sync();
    return () => {
      clearInterval(watchdog);
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      s.removeAllListeners();
      s.disconnect();
    };
  }, [me.id, sync, ensureConversation]);

  const unreadTotal = state.conversations.reduce((n, c) => n + c.unreadCount, 0);
  useEffect(() => { document.title = unreadTotal > 0 ? `(${unreadTotal}) natter` : "natter"; }, [unreadTotal]);

  // Typing indicators fade after ~3 s.
  const hasTyping = Object.values(state.typing).some((m) => Object.keys(m).length > 0);
  useEffect(() => {
    if (!hasTyping) return;
    const h = setInterval(() => dispatch({ type: "typingExpire", now: Date.now() }), 500);
    return () => clearInterval(h);
  }, [hasTyping]);

  // ---------- actions ----------
  const open = useCallback(async (id: string) => {
    dispatch({ type: "open", conversationId: id });
    setMain("chat");
    setMobileMain(true);
    const log = stateRef.current.logs[id];
    try {
      if (!log || !log.loaded) {
        const page = await api.messages(id, { limit: 50 });
        dispatch({ type: "history", conversationId: id, messages: page.messages, hasMore: page.hasMore, older: false });
      } else {
        const msgs = await fetchAfter(id, lastStoredSeq(log.messages));
        dispatch({ type: "messages", conversationId: id, messages: msgs, visible: visibleRef.current });
      }
    } catch { /* shown as empty; a reconnect syncs */ }
  }, []);

  const loadOlder = useCallback(async (id: string) => {
    const log = stateRef.current.logs[id];
    const first = log ? firstStoredSeq(log.messages) : null;
    if (!log || !log.hasMoreBefore || first == null) return;
    const page = await api.messages(id, { before: first, limit: 50 });
    dispatch({ type: "history", conversationId: id, messages: page.messages, hasMore: page.hasMore, older: true });
  }, []);

  const deliver = useCallback(async (conversationId: string, msg: string, clientId: string) => {
    try {
      let message: Message;
      const s = socketRef.current;
      if (s && s.connected) {
        const ack = await s.timeout(10_000).emitWithAck("message:send", { conversationId, msg, clientId });
        if (!ack || ack.error || !ack.message) throw new ApiError(0, ack?.error?.code ?? "unknown", ack?.error?.message ?? "");
        message = ack.message;
      } else {
        message = (await api.send(conversationId, msg, clientId)).message;
      }
      dispatch({ type: "messages", conversationId, messages: [message], visible: visibleRef.current });
    } catch {
      dispatch({ type: "sendFailed", conversationId, clientId });
    }
  }, []);

  const send = useCallback((conversationId: string, msg: string, clientId?: string) => {
    const cid = clientId ?? newClientId();
    lastTypingEmit.current[conversationId] = 0; // the next keystroke announces typing again
    const old = stateRef.current.logs[conversationId]?.messages.find((m) => m.seq == null && m.clientId === cid);
    dispatch({ type: "pending", message: { conversationId, clientId: cid, msg, senderId: me.id, user: me.username, createdAt: old?.createdAt ?? Date.now() } });
    void deliver(conversationId, msg, cid);
  }, [deliver, me.id, me.username]);

  const typing = useCallback((conversationId: string) => {
    const now = Date.now();
    if (now - (lastTypingEmit.current[conversationId] ?? 0) < TYPING_EMIT_MS) return;
    lastTypingEmit.current[conversationId] = now;
    const s = socketRef.current;
    if (s?.connected) s.emit("typing", { conversationId });
  }, []);

  const ensureUser = useCallback((id: string) => {
    if (stateRef.current.users[id] || requestedUsers.current.has(id)) return;
    requestedUsers.current.add(id);
    api.user(id).then((r) => dispatch({ type: "users", users: [r.user] })).catch(() => {});
  }, []);

  // Names for the senders shown in list previews (the lobby has people we may not know yet).
  useEffect(() => {
    for (const c of state.conversations) if (c.lastMessage) ensureUser(c.lastMessage.senderId);
  }, [state.conversations, ensureUser]);

  const startChat = useCallback(async (userId: string) => {
    const { conversation } = await api.startChat(userId);
    dispatch({ type: "conversation", conversation });
    setTab("chats");
    await open(conversation.id);
  }, [open]);

  const signOut = useCallback(async () => {
    try { await api.logout(); } catch { /* token dropped locally anyway */ }
    onSignOut();
  }, [onSignOut]);

  // Mark read while the conversation is on screen.
  const active = state.conversations.find((c) => c.id === state.activeId) ?? null;
  const activeLog = state.activeId ? state.logs[state.activeId] : undefined;
  const activeLastSeq = activeLog ? lastStoredSeq(activeLog.messages) : 0;
  const chatOnScreen = main === "chat" && visible;
  useEffect(() => {
    if (!active || !activeLog?.loaded || !chatOnScreen || activeLastSeq === 0) return;
    const id = active.id;
    if (activeLastSeq <= (readSent.current[id] ?? 0) && active.unreadCount === 0) return;
    readSent.current[id] = activeLastSeq;
    dispatch({ type: "markRead", conversationId: id, seq: activeLastSeq });
    const s = socketRef.current;
    if (s?.connected) s.emit("read", { conversationId: id, seq: activeLastSeq });
    else api.read(id, activeLastSeq).catch(() => {});
  }, [active, activeLog?.loaded, activeLastSeq, chatOnScreen]);


  return (
    <main className="flex h-full flex-col">
      <h1 className="sr-only">natter</h1>
      {state.connection === "disconnected" && (
        <div role="status" aria-live="polite" data-testid="connection-banner"
          className="flex items-center justify-center gap-2 bg-amber-500 px-3 py-1.5 text-center text-sm font-medium text-white">
          <span className="h-2 w-2 animate-pulse rounded-full bg-white" aria-hidden="true" />
          {t.disconnected}
        </div>
      )}
      <div className="mx-auto flex min-h-0 w-full max-w-7xl flex-1 overflow-hidden bg-white md:my-4 md:rounded-2xl md:border md:border-slate-200 md:shadow-xl md:shadow-slate-200/50 xl:my-6">
        <div className={`${mobileMain ? "hidden md:flex" : "flex"} w-full min-w-0 flex-col border-slate-200 md:w-80 md:border-r lg:w-96`}>
          <Sidebar
            state={state}
            tab={tab}
            setTab={setTab}
            onOpen={(id) => void open(id)}
            onStartChat={startChat}
            onProfile={() => { setMain("profile"); setMobileMain(true); dispatch({ type: "open", conversationId: null }); }}
            onSignOut={signOut}
            profileOpen={main === "profile"}
          />
        </div>
        <div className={`${mobileMain ? "flex" : "hidden md:flex"} min-w-0 flex-1 flex-col bg-slate-50`}>
          {main === "profile" ? (
            <ProfilePanel me={state.me ?? me} onBack={() => { setMobileMain(false); setMain("chat"); }} onUpdated={(u) => dispatch({ type: "user", user: u })} />
          ) : active ? (
            <ChatView
              key={active.id}
              conversation={active}
              log={activeLog}
              me={state.me ?? me}
              users={state.users}
              typing={state.typing[active.id] ?? {}}
              onSend={(msg, clientId) => send(active.id, msg, clientId)}
              onTyping={() => typing(active.id)}
              onLoadOlder={() => loadOlder(active.id)}
              onBack={() => { setMobileMain(false); dispatch({ type: "open", conversationId: null }); }}
              ensureUser={ensureUser}
            />
          ) : (
            <EmptyMain />
          )}
        </div>
      </div>
    </main>
  );
}

function EmptyMain() {
  return (
    <I18nContext.Consumer>
      {({ t }) => (
        <div className="flex flex-1 flex-col items-center justify-center gap-3 p-8 text-center text-slate-500">
          <svg viewBox="0 0 24 24" className="h-14 w-14" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
            <path d="M7.5 8.25h9m-9 3H12m-9.75 1.5c0 1.6 1.123 2.994 2.707 3.227 1.087.16 2.185.283 3.293.369V21l4.076-4.076a1.526 1.526 0 0 1 1.037-.443 48.3 48.3 0 0 0 5.68-.494c1.584-.233 2.707-1.626 2.707-3.228V6.741c0-1.602-1.123-2.995-2.707-3.228A48.394 48.394 0 0 0 12 3c-2.392 0-4.744.175-7.043.513C3.373 3.746 2.25 5.14 2.25 6.741v6.018Z" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
          <p className="text-sm">{t.selectChat}</p>
        </div>
      )}
    </I18nContext.Consumer>
  );
}
