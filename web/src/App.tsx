// The app shell: language, the router, the sign-in gate (a cookie session is
// resumed with GET /api/me) and ChatApp, which wires the hooks (socket, resync,
// outbox) to the pure reducer and maps URLs to screens:
//   /            the conversation list (on a phone) / nothing open
//   /c/<id>      a conversation        /people   the directory
//   /u/<id>      someone's profile     /profile  my profile
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { BrowserRouter, useLocation, useNavigate } from "react-router";
import { del } from "idb-keyval";
import { api, ApiError, fetchRange, setUnauthorizedHandler } from "./api";
import { detectLang, dictionaries, I18nContext, saveLang, useI18n, type Lang } from "./i18n";
import { firstStoredSeq } from "./state/messages";
import { initialState, reducer } from "./state/store";
import { notify, shouldNotify, unreadTotal } from "./notifications";
import type { Conversation, Message, User } from "./types";
import { useSocket } from "./hooks/useSocket";
import { useResync } from "./hooks/useResync";
import { useOutbox } from "./hooks/useOutbox";
import { AuthScreen } from "./components/AuthScreen";
import { Sidebar } from "./components/Sidebar";
import { ChatView } from "./components/ChatView";
import { ProfilePanel } from "./components/ProfilePanel";
import { LobbyMembers, UserProfile } from "./components/People";
import { GroupMembers } from "./components/GroupMembers";

export function Root() {
  const [lang, setLangState] = useState<Lang>(detectLang);
  const setLang = useCallback((l: Lang) => { saveLang(l); setLangState(l); }, []);
  useEffect(() => { document.documentElement.lang = lang; }, [lang]);
  const ctx = useMemo(() => ({ lang, t: dictionaries[lang], setLang }), [lang, setLang]);

  const [me, setMe] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);

  const signedOut = useCallback(() => setMe(null), []);
  useEffect(() => { setUnauthorizedHandler(signedOut); }, [signedOut]);
  useEffect(() => {
    // Older versions kept a bearer token here; the session is the HttpOnly cookie now.
    try { localStorage.removeItem("natter.token"); } catch { /* ignore */ }
    api.me().then((r) => setMe(r.user)).catch(() => {}).finally(() => setChecking(false));
  }, []);

  return (
    <I18nContext.Provider value={ctx}>
      <BrowserRouter>
        {checking ? (
          <div className="flex h-full items-center justify-center text-slate-500" role="status">…</div>
        ) : me ? (
          <ChatApp key={me.id} me={me} onSignedOut={signedOut} />
        ) : (
          <AuthScreen onSignedIn={setMe} />
        )}
      </BrowserRouter>
    </I18nContext.Provider>
  );
}

// The server passes at most one `typing` per user and chat every 2.5 s, so of
// emits every 2 s one in two arrives: shown long enough to bridge the gap.
const TYPING_SHOW_MS = 5000;
const TYPING_EMIT_MS = 2000;
const TITLE_DELAY_MS = 300;

type Route =
  | { kind: "home" } | { kind: "people" } | { kind: "profile" }
  | { kind: "chat"; id: string } | { kind: "user"; id: string };

export function parseRoute(pathname: string): Route {
  const m = /^\/(c|u)\/([^/]+)\/?$/.exec(pathname);
  if (m) return { kind: m[1] === "c" ? "chat" : "user", id: decodeURIComponent(m[2]) };
  if (/^\/people\/?$/.test(pathname)) return { kind: "people" };
  if (/^\/profile\/?$/.test(pathname)) return { kind: "profile" };
  return { kind: "home" };
}

function useVisible(): boolean {
  const [v, setV] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const f = () => setV(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", f);
    return () => document.removeEventListener("visibilitychange", f);
  }, []);
  return v;
}

function ChatApp({ me, onSignedOut }: { me: User; onSignedOut: () => void }) {
  const { t } = useI18n();
  const [state, dispatch] = useReducer(reducer, { ...initialState, me, users: { [me.id]: me } });
  const stateRef = useRef(state);
  stateRef.current = state;
  const visible = useVisible();
  const visibleRef = useRef(visible);
  visibleRef.current = visible;
  const location = useLocation();
  const navigate = useNavigate();
  const route = parseRoute(location.pathname);
  const chatId = route.kind === "chat" ? route.id : null;
  const [missing, setMissing] = useState<string | null>(null);
  const requestedUsers = useRef<Set<string>>(new Set());
  const lastTypingEmit = useRef<Record<string, number>>({});

  const ensureUser = useCallback((id: string) => {
    if (stateRef.current.users[id] || requestedUsers.current.has(id)) return;
    requestedUsers.current.add(id);
    api.user(id).then((r) => dispatch({ type: "users", users: [r.user] })).catch(() => {});
  }, []);

  const ensureConversation = useCallback(async (id: string) => {
    if (stateRef.current.conversations.some((c) => c.id === id)) return;
    try { dispatch({ type: "conversation", conversation: (await api.conversation(id)).conversation }); } catch { /* not visible to us */ }
  }, []);

  /** A desktop notification for a message that arrives while the tab is hidden (not for muted conversations). */
  const notifyOf = (m: Message) => {
    const c = stateRef.current.conversations.find((x) => x.id === m.conversationId);
    if (!shouldNotify(m, me.id, c, !visibleRef.current)) return;
    const sender = stateRef.current.users[m.senderId]?.displayName ?? m.user;
    const where = c?.kind === "group" ? ` · ${c.title ?? ""}` : c?.kind === "lobby" ? ` · ${t.lobby}` : "";
    notify(t.newMessageFrom(sender) + where, m.msg, m.conversationId,
      (id) => navigate(`/c/${encodeURIComponent(id)}`, { state: { inApp: true } }));
  };

  const resync = useResync(stateRef, dispatch);
  const { socketRef, close } = useSocket(me.id, dispatch, {
    connected: () => void resync.sync(),
    message: (m) => { void ensureConversation(m.conversationId); resync.live(m); notifyOf(m); },
    update: (m) => resync.update(m),
    conversation: (c) => dispatch({ type: "conversation", conversation: c }),
    typing: (e) => { if (e.userId !== me.id) dispatch({ type: "typing", conversationId: e.conversationId, userId: e.userId, until: Date.now() + TYPING_SHOW_MS }); },
    read: (e) => dispatch({ type: "peerRead", conversationId: e.conversationId, userId: e.userId, seq: e.seq }),
    presence: (e) => dispatch({ type: "presence", event: e }),
    user: (u) => dispatch({ type: "user", user: u }),
  });
  const connected = state.connection === "connected";
  const outbox = useOutbox(me, socketRef, connected, dispatch);

  // The users I block: loaded once, changed only from this client's profile view.
  const [blocked, setBlocked] = useState<ReadonlySet<string>>(() => new Set());
  useEffect(() => {
    api.blocks().then((r) => setBlocked(new Set(r.users.map((u) => u.id)))).catch(() => {});
  }, []);
  const setBlock = useCallback(async (id: string, on: boolean) => {
    await api.setBlocked(id, on);
    setBlocked((prev) => {
      const next = new Set(prev);
      if (on) next.add(id); else next.delete(id);
      return next;
    });
  }, []);

  useEffect(() => { void resync.sync(); }, [resync]);

  const unread = unreadTotal(state.conversations);
  // Set a moment later: a message arriving in the open chat counts as unread
  // until it is seen a frame or two after, and setting the title costs the
  // browser more than the rest of showing the message.
  useEffect(() => {
    const h = setTimeout(() => {
      const title = unread > 0 ? `(${unread}) natter` : "natter";
      if (document.title !== title) document.title = title;
    }, TITLE_DELAY_MS);
    return () => clearTimeout(h);
  }, [unread]);

  // Typing indicators fade after ~3 s.
  const hasTyping = Object.values(state.typing).some((m) => Object.keys(m).length > 0);
  useEffect(() => {
    if (!hasTyping) return;
    const h = setInterval(() => dispatch({ type: "typingExpire", now: Date.now() }), 500);
    return () => clearInterval(h);
  }, [hasTyping]);

  // Names for the senders shown in list previews (the lobby has people we may not know yet).
  useEffect(() => {
    for (const c of state.conversations) {
      if (c.lastMessage) ensureUser(c.lastMessage.senderId);
      for (const id of c.lastMessage?.system?.userIds ?? []) ensureUser(id);
    }
  }, [state.conversations, ensureUser]);

  /** The conversation from the list, else from the server; null (and "missing" on 404) when it cannot be had. */
  const findConversation = useCallback(async (id: string): Promise<Conversation | null> => {
    const known = stateRef.current.conversations.find((c) => c.id === id);
    if (known) return known;
    try {
      const conv = (await api.conversation(id)).conversation;
      dispatch({ type: "conversation", conversation: conv });
      return conv;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setMissing(id);
      return null;
    }
  }, []);

  /** Load a conversation where I left off: from the first unread message when there are some, else the newest page. */
  const load = useCallback(async (id: string) => {
    const conv = await findConversation(id);
    if (!conv) return;
    const log = stateRef.current.logs[id];
    if (log?.loaded) { await resync.catchUp(id); return; }
    try {
      const newest = conv.lastMessage?.seq ?? 0;
      const readSeq = conv.lastReadSeq;
      if (conv.unreadCount > 0 && newest - readSeq <= 20_000) {
        try {
          const [before, after] = await Promise.all([
            readSeq > 0 ? api.messages(id, { before: readSeq + 1, limit: 30 }) : Promise.resolve({ messages: [], hasMore: false }),
            fetchRange(id, readSeq, newest),
          ]);
          dispatch({ type: "history", conversationId: id, messages: [...before.messages, ...after], hasMore: before.hasMore, older: false });
          return;
        } catch { /* fall back to the newest page */ }
      }
      const page = await api.messages(id, { limit: 50 });
      dispatch({ type: "history", conversationId: id, messages: page.messages, hasMore: page.hasMore, older: false });
    } catch { /* shown as loading; a reconnect syncs */ }
  }, [resync, findConversation]);

  /**
   * Load a conversation around a message (a search result): a page before it and
   * everything from it on to what the log already holds (or to the newest), so
   * the log stays contiguous up to the newest message.
   */
  const loadAround = useCallback(async (id: string, seq: number) => {
    const conv = await findConversation(id);
    if (!conv) return;
    const log = stateRef.current.logs[id];
    const first = log?.loaded ? firstStoredSeq(log.messages) : null;
    if (log?.loaded && first != null && first <= seq) return;
    const upto = first != null ? first - 1 : conv.lastMessage?.seq ?? seq;
    if (upto - seq > 20_000) { await load(id); return; }
    try {
      const [before, after] = await Promise.all([api.messages(id, { before: seq + 1, limit: 30 }), fetchRange(id, seq, upto)]);
      dispatch({ type: "history", conversationId: id, messages: [...before.messages, ...after], hasMore: before.hasMore, older: first != null });
    } catch { await load(id); }
  }, [findConversation, load]);

  const focusSeq = (location.state as { focusSeq?: number } | null)?.focusSeq ?? null;
  useEffect(() => {
    dispatch({ type: "open", conversationId: chatId });
    if (!chatId) return;
    setMissing(null);
    if (focusSeq != null) void loadAround(chatId, focusSeq);
    else void load(chatId);
  }, [chatId, focusSeq, load, loadAround]);

  // Like opening a chat from the list: from an open chat the entry is replaced, so Back still leads to the list.
  const jumpTo = useCallback((conversationId: string, seq: number) => {
    const inApp = chatId ? !!(location.state as { inApp?: boolean } | null)?.inApp : true;
    navigate(`/c/${encodeURIComponent(conversationId)}`, { replace: !!chatId, state: { inApp, focusSeq: seq } });
  }, [navigate, chatId, location.state]);

  const toggleMute = useCallback(async (c: Conversation) => {
    try { dispatch({ type: "conversation", conversation: (await api.mute(c.id, !c.muted)).conversation }); } catch { /* the button stays as it was */ }
  }, []);

  const loadOlder = useCallback(async (id: string) => {
    const log = stateRef.current.logs[id];
    const first = log ? firstStoredSeq(log.messages) : null;
    if (!log || !log.hasMoreBefore || first == null) return;
    const page = await api.messages(id, { before: first, limit: 50 });
    dispatch({ type: "history", conversationId: id, messages: page.messages, hasMore: page.hasMore, older: true });
  }, []);

  // ---------- read marks: they move as messages are actually seen ----------
  const readSent = useRef<Record<string, number>>({});
  const seenCandidate = useRef<{ id: string; seq: number } | null>(null);
  const markSeen = useCallback((id: string, seq: number) => {
    seenCandidate.current = { id, seq };
    if (!visibleRef.current || stateRef.current.activeId !== id) return;
    const c = stateRef.current.conversations.find((x) => x.id === id);
    if (!c) return;
    const sent = Math.max(c.lastReadSeq, readSent.current[id] ?? 0);
    if (seq <= sent) {
      if (c.unreadCount > 0 && seq >= (c.lastMessage?.seq ?? 0)) dispatch({ type: "markRead", conversationId: id, seq });
      return;
    }
    readSent.current[id] = seq;
    dispatch({ type: "markRead", conversationId: id, seq });
    const s = socketRef.current;
    if (s?.connected) s.emit("read", { conversationId: id, seq });
    else api.read(id, seq).catch(() => {});
  }, [socketRef]);
  useEffect(() => {
    const c = seenCandidate.current;
    if (visible && c) markSeen(c.id, c.seq);
  }, [visible, markSeen]);

  // ---------- actions ----------
  const typing = useCallback((conversationId: string) => {
    const now = Date.now();
    if (now - (lastTypingEmit.current[conversationId] ?? 0) < TYPING_EMIT_MS) return;
    lastTypingEmit.current[conversationId] = now;
    const s = socketRef.current;
    if (s?.connected) s.emit("typing", { conversationId });
  }, [socketRef]);

  const send = useCallback((conversationId: string, msg: string, clientId?: string, createdAt?: number, replyTo?: number) => {
    lastTypingEmit.current[conversationId] = 0; // the next keystroke announces typing again
    void outbox.send(conversationId, msg, clientId, createdAt, replyTo);
  }, [outbox]);

  const startChat = useCallback(async (userId: string) => {
    const { conversation } = await api.startChat(userId);
    dispatch({ type: "conversation", conversation });
    navigate(`/c/${encodeURIComponent(conversation.id)}`, { state: { inApp: true } });
  }, [navigate]);

  const signOut = useCallback(async (everywhere = false) => {
    if (everywhere) await api.logoutAll(); // throws (e.g. 404 on an older server) before anything is dropped
    close(); // no socket is left behind to reconnect
    if (!everywhere) { try { await api.logout(); } catch { /* the server clears the cookie when it answers */ } }
    try {
      await del(`natter.outbox.${me.id}`);
      for (const k of Object.keys(localStorage)) if (k.startsWith(`natter.draft.${me.id}.`)) localStorage.removeItem(k);
    } catch { /* ignore */ }
    navigate("/", { replace: true });
    onSignedOut();
  }, [close, me.id, navigate, onSignedOut]);

  /** Back inside the app when there is history, else to the list. */
  const cameFromApp = !!(location.state as { inApp?: boolean } | null)?.inApp;
  const goBack = useCallback(() => {
    if (cameFromApp) navigate(-1);
    else navigate("/", { replace: true });
  }, [navigate, cameFromApp]);
  const closeChat = useCallback(() => navigate("/"), [navigate]);
  const usersLoaded = useCallback((list: User[]) => dispatch({ type: "users", users: list }), []);

  const active = chatId ? state.conversations.find((c) => c.id === chatId) ?? null : null;
  const activeLog = chatId ? state.logs[chatId] : undefined;
  const mobileMain = route.kind === "chat" || route.kind === "profile" || route.kind === "user";
  const onSeenActive = useCallback((seq: number) => { if (chatId) markSeen(chatId, seq); }, [chatId, markSeen]);
  // Stable while the chat stays open: every row of the message list holds the
  // send (its retry), and a new function each render would redraw them all.
  const sendInActive = useCallback((msg: string, clientId?: string, createdAt?: number, replyTo?: number) => {
    if (chatId) send(chatId, msg, clientId, createdAt, replyTo);
  }, [chatId, send]);
  const loadOlderInActive = useCallback(async () => { if (chatId) await loadOlder(chatId); }, [chatId, loadOlder]);

  let mainView: React.ReactNode;
  if (route.kind === "profile") {
    mainView = <ProfilePanel me={state.me ?? me} onBack={goBack} onUpdated={(u) => dispatch({ type: "user", user: u })} onSignOutEverywhere={() => signOut(true)} />;
  } else if (route.kind === "user") {
    mainView = <UserProfile id={route.id} users={state.users} connected={connected} socketRef={socketRef} blocked={blocked.has(route.id)} onBack={goBack} onMessage={startChat}
      onLoaded={(u) => dispatch({ type: "users", users: [u] })} onBlock={setBlock} />;
  } else if (active) {
    mainView = (
      <ChatView
        key={active.id}
        conversation={active}
        log={activeLog}
        me={state.me ?? me}
        users={state.users}
        typing={state.typing[active.id] ?? {}}
        connected={connected}
        onSend={sendInActive}
        onTyping={() => typing(active.id)}
        onLoadOlder={loadOlderInActive}
        onBack={goBack}
        onClose={closeChat}
        focusSeq={focusSeq}
        onToggleMute={() => void toggleMute(active)}
        onSeen={onSeenActive}
        onOpenProfile={(id) => navigate(`/u/${encodeURIComponent(id)}`, { state: { inApp: true } })}
        ensureUser={ensureUser}
        blocked={blocked}
        onUnblock={(id) => { void setBlock(id, false).catch(() => {}); }}
        onLeave={() => api.leave(active.id, me.id).then(closeChat)}
        groupMembers={<GroupMembers c={active} me={state.me ?? me} users={state.users} connected={connected} onLoaded={usersLoaded}
          onOpen={(id) => navigate(`/u/${encodeURIComponent(id)}`, { state: { inApp: true } })} />}
        lobbyMembers={<LobbyMembers me={state.me ?? me} users={state.users} connected={connected} socketRef={socketRef}
          onLoaded={(list) => dispatch({ type: "users", users: list })} onOpen={(id) => navigate(`/u/${encodeURIComponent(id)}`, { state: { inApp: true } })} />}
      />
    );
  } else if (chatId && missing === chatId) {
    mainView = <EmptyMain text={t.notFoundChat} onBack={goBack} />;
  } else if (chatId) {
    mainView = <div className="flex-1" role="status" aria-label={t.connecting} />;
  } else {
    mainView = <EmptyMain text={t.selectChat} />;
  }

  return (
    <main className="flex h-full flex-col overflow-hidden">
      <h1 className="sr-only">natter</h1>
      {state.connection === "disconnected" && (
        <div role="status" aria-live="polite" data-testid="connection-banner"
          className="flex items-center justify-center gap-2 bg-amber-700 px-3 py-1.5 text-center text-sm font-medium text-white">
          <span className="h-2 w-2 animate-pulse rounded-full bg-white" aria-hidden="true" />
          {t.disconnected}
        </div>
      )}
      <div className="relative mx-auto flex min-h-0 w-full max-w-7xl flex-1 overflow-hidden bg-white md:my-4 md:rounded-2xl md:border md:border-slate-200 md:shadow-xl md:shadow-slate-200/50 xl:my-6">
        <div className={`${mobileMain ? "hidden md:flex" : "flex"} relative w-full min-w-0 flex-col border-slate-200 md:w-80 md:border-r lg:w-96`}>
          <Sidebar
            state={state}
            tab={route.kind === "people" ? "people" : "chats"}
            activeId={chatId}
            connected={connected}
            socketRef={socketRef}
            onUsersLoaded={(list) => dispatch({ type: "users", users: list })}
            onStartChat={startChat}
            onSignOut={() => signOut(false)}
            profileOpen={route.kind === "profile"}
            onJump={jumpTo}
          />
        </div>
        <div className={`${mobileMain ? "flex" : "hidden md:flex"} relative min-w-0 flex-1 flex-col bg-slate-50`}>
          {mainView}
        </div>
      </div>
    </main>
  );
}

function EmptyMain({ text, onBack }: { text: string; onBack?: () => void }) {
  const { t } = useI18n();
  return (
    <div className="flex flex-1 flex-col items-center justify-center gap-3 p-8 text-center text-slate-500" data-testid="empty-main">
      <svg viewBox="0 0 24 24" className="h-14 w-14" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
        <path d="M7.5 8.25h9m-9 3H12m-9.75 1.5c0 1.6 1.123 2.994 2.707 3.227 1.087.16 2.185.283 3.293.369V21l4.076-4.076a1.526 1.526 0 0 1 1.037-.443 48.3 48.3 0 0 0 5.68-.494c1.584-.233 2.707-1.626 2.707-3.228V6.741c0-1.602-1.123-2.995-2.707-3.228A48.394 48.394 0 0 0 12 3c-2.392 0-4.744.175-7.043.513C3.373 3.746 2.25 5.14 2.25 6.741v6.018Z" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="text-sm">{text}</p>
      {onBack && <button onClick={onBack} className="rounded-lg bg-indigo-50 px-3 py-1.5 text-sm font-medium text-indigo-700 hover:bg-indigo-100">{t.back}</button>}
    </div>
  );
}
