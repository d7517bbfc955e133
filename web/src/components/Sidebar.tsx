import { useEffect, useRef, useState, type MutableRefObject } from "react";
import { useLocation, useNavigate } from "react-router";
import type { Socket } from "socket.io-client";
import { api, ApiError } from "../api";
import { usePresenceWatch } from "../hooks/usePresenceWatch";
import { listTime, presenceText } from "../format";
import { errorText, useI18n } from "../i18n";
import type { State } from "../state/store";
import type { Conversation, User } from "../types";
import { Avatar } from "./Avatar";
import { GroupAvatars } from "./GroupMembers";
import { systemSentence } from "./MessageExtras";
import { LangSwitch } from "./LangSwitch";
import { MessageSearchBox, MessageSearchResults } from "./MessageSearch";
import { NotificationSettings } from "./NotificationSettings";
import { unreadTotal } from "../notifications";

export type Tab = "chats" | "people";

interface Props {
  state: State;
  tab: Tab;
  activeId: string | null;
  connected: boolean;
  /** For the People list's presence subscriptions. */
  socketRef: MutableRefObject<Socket | null>;
  /** Users loaded over HTTP, into the store that live presence updates. */
  onUsersLoaded: (list: User[]) => void;
  onStartChat: (userId: string) => Promise<void>;
  onSignOut: () => void;
  profileOpen: boolean;
  /** Opens a conversation at a message (a search result). */
  onJump: (conversationId: string, seq: number) => void;
}

export function Sidebar({ state, tab, activeId, connected, socketRef, onUsersLoaded, onStartChat, onSignOut, profileOpen, onJump }: Props) {
  const { t } = useI18n();
  const me = state.me!;
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [searchQ, setSearchQ] = useState("");
  const searching = searchQ.trim().length >= 2;
  const setTab = (id: Tab) => navigate(id === "people" ? "/people" : "/");
  // `inApp` tells the chat's back button that Back leads to where we came from in the app.
  // Switching from one open chat to another replaces the entry, so Back still leads to the list.
  const location = useLocation();
  const onOpen = (id: string) => navigate(`/c/${encodeURIComponent(id)}`,
    activeId ? { replace: true, state: location.state } : { state: { inApp: true } });
  const tabBtn = (id: Tab, label: string) => (
    <button
      role="tab"
      id={`tab-${id}`}
      aria-selected={tab === id}
      aria-controls={`panel-${id}`}
      data-testid={`tab-${id}`}
      onClick={() => setTab(id)}
      className={`flex-1 rounded-lg px-3 py-1.5 text-sm font-medium transition focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 ${
        tab === id ? "bg-white text-slate-900 shadow-sm" : "text-slate-600 hover:text-slate-800"}`}
    >
      {label}
    </button>
  );
  const unread = unreadTotal(state.conversations);
  const settingsButton = (
    <button onClick={() => setSettingsOpen((v) => !v)} data-testid="open-settings" aria-expanded={settingsOpen} aria-label={t.settings} title={t.settings}
      className="rounded-lg p-2 text-slate-500 transition hover:bg-slate-100 hover:text-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
      <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="1.8" aria-hidden="true"><path d="M14.857 17.082a23.848 23.848 0 0 0 5.454-1.31A8.967 8.967 0 0 1 18 9.75V9A6 6 0 0 0 6 9v.75a8.967 8.967 0 0 1-2.312 6.022c1.733.64 3.56 1.085 5.455 1.31m5.714 0a24.255 24.255 0 0 1-5.714 0m5.714 0a3 3 0 1 1-5.714 0" strokeLinecap="round" strokeLinejoin="round" /></svg>
    </button>
  );
  return (
    <>
      <header className="flex items-center gap-3 border-b border-slate-200 px-4 py-3">
        <button onClick={() => navigate("/profile", { state: { inApp: true } })} data-testid="open-profile" aria-pressed={profileOpen}
          className="flex min-w-0 flex-1 items-center gap-3 rounded-xl p-1 text-left transition hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          <Avatar id={me.id} name={me.displayName} url={me.avatarUrl} size="md" online={state.connection === "connected"} />
          <span className="min-w-0">
            <span className="block truncate font-semibold" data-testid="my-name"><span className="sr-only">{t.profile}: </span>{me.displayName}</span>
            <span className="block truncate text-xs text-slate-500">{me.statusMessage || "@" + me.username}</span>
          </span>
        </button>
        <LangSwitch compact />
        {settingsButton}
        <button onClick={() => setConfirming(true)} data-testid="sign-out" aria-haspopup="dialog" aria-label={t.signOut} title={t.signOut}
          className="rounded-lg p-2 text-slate-500 transition hover:bg-slate-100 hover:text-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="1.8" aria-hidden="true"><path d="M15.75 9V5.25A2.25 2.25 0 0 0 13.5 3h-6a2.25 2.25 0 0 0-2.25 2.25v13.5A2.25 2.25 0 0 0 7.5 21h6a2.25 2.25 0 0 0 2.25-2.25V15m3 0 3-3m0 0-3-3m3 3H9" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </button>
      </header>
      {settingsOpen && <NotificationSettings />}
      {confirming && (
        <ConfirmDialog text={t.signOutConfirm} confirm={t.signOut} onCancel={() => setConfirming(false)}
          onConfirm={() => { setConfirming(false); onSignOut(); }} />
      )}
      <div role="tablist" aria-label={t.chats} className="mx-4 mt-3 flex gap-1 rounded-xl bg-slate-100 p-1">
        {tabBtn("chats", unread > 0 ? `${t.chats} (${unread})` : t.chats)}
        {tabBtn("people", t.people)}
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto scroll-thin" id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === "chats" ? (
          <>
            <MessageSearchBox q={searchQ} setQ={setSearchQ} />
            {searching ? (
              <MessageSearchResults q={searchQ} conversations={state.conversations} users={state.users} onJump={onJump} />
            ) : (
              <ConversationList state={state} activeId={activeId} connected={connected} onOpen={onOpen} onFindPeople={() => setTab("people")} />
            )}
          </>
        ) : (
          <Directory onStartChat={onStartChat} users={state.users} connected={connected} socketRef={socketRef} onLoaded={onUsersLoaded} onProfile={(id) => navigate(`/u/${encodeURIComponent(id)}`, { state: { inApp: true } })} />
        )}
      </div>
    </>
  );
}

function ConversationList({ state, activeId, connected, onOpen, onFindPeople }: { state: State; activeId: string | null; connected: boolean; onOpen: (id: string) => void; onFindPeople: () => void }) {
  const { t, lang } = useI18n();
  const me = state.me!;
  const list = state.conversations;
  return (
    <nav aria-label={t.chats} className="px-2 py-2">
      <ul data-testid="conversation-list" className="space-y-0.5">
        {list.map((c) => (
          <li key={c.id}>
            <ConversationItem c={c} peer={c.peer ? state.users[c.peer.id] ?? c.peer : null} meId={me.id}
              senderName={c.lastMessage ? state.users[c.lastMessage.senderId]?.displayName ?? c.lastMessage.user : ""}
              active={activeId === c.id} connected={connected} onOpen={onOpen} lang={lang} users={state.users} meName={me.displayName} />
          </li>
        ))}
      </ul>
      {list.filter((c) => c.kind !== "lobby").length === 0 && (
        <div className="px-4 py-8 text-center text-sm text-slate-500">
          <p>{t.noConversations}</p>
          <button onClick={onFindPeople} className="mt-3 rounded-lg bg-indigo-50 px-3 py-1.5 font-medium text-indigo-600 hover:bg-indigo-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
            {t.newChat}
          </button>
        </div>
      )}
    </nav>
  );
}

function ConversationItem({ c, peer, meId, senderName, active, connected, onOpen, lang, users, meName }: {
  c: Conversation; peer: User | null; meId: string; senderName: string; active: boolean; connected: boolean; onOpen: (id: string) => void; lang: "ko" | "en";
  users: Record<string, User>; meName: string;
}) {
  const { t } = useI18n();
  const lobby = c.kind === "lobby";
  const name = lobby ? t.lobby : c.kind === "group" ? c.title ?? "?" : peer?.displayName ?? "?";
  const last = c.lastMessage;
  const preview = last?.system ? systemSentence(t, last.system, (id) => (id === meId ? meName : users[id]?.displayName ?? "…"))
    : last ? (last.senderId === meId ? t.you : lobby || c.kind === "group" ? `${senderName}: ` : "") + (last.deletedAt != null ? t.messageDeleted : last.msg)
    : lobby ? t.lobbyDesc : peer?.statusMessage || "";
  return (
    <button
      onClick={() => onOpen(c.id)}
      data-testid="conversation-item"
      data-conversation-id={c.id}
      data-kind={c.kind}
      data-peer-username={peer?.username ?? ""}
      aria-current={active ? "true" : undefined}
      className={`flex w-full items-center gap-3 rounded-xl px-3 py-2.5 text-left transition focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 ${
        active ? "bg-indigo-50" : "hover:bg-slate-50"}`}
    >
      {c.kind === "group" ? <GroupAvatars c={c} users={users} />
        : <Avatar id={peer?.id ?? c.id} name={name} url={peer?.avatarUrl ?? null} lobby={lobby} online={peer && connected ? peer.online : null} />}
      <span className="min-w-0 flex-1">
        <span className="flex items-baseline gap-2">
          <span className={`min-w-0 flex-1 truncate ${c.unreadCount ? "font-semibold text-slate-900" : "font-medium text-slate-800"}`} data-testid="conversation-name">{name}{peer && connected && <span className="sr-only">, {peer.online ? t.online : t.offline}</span>}</span>
          {last && <time className={`shrink-0 text-xs ${c.unreadCount ? "font-medium text-indigo-700" : active ? "text-slate-600" : "text-slate-500"}`} dateTime={new Date(last.createdAt).toISOString()}>{listTime(last.createdAt, lang)}</time>}
        </span>
        <span className="mt-0.5 flex items-center gap-2">
          <span className={`min-w-0 flex-1 truncate text-sm ${c.unreadCount ? "text-slate-700" : active ? "text-slate-600" : "text-slate-500"}`} data-testid="conversation-preview">{preview}</span>
          {c.muted && (
            <span data-testid="muted-icon" title={t.muted} className="shrink-0 text-slate-400">
              <svg viewBox="0 0 24 24" className="h-4 w-4" fill="none" stroke="currentColor" strokeWidth="1.8" aria-hidden="true"><path d="M9.143 17.082a24.248 24.248 0 0 0 3.844.148m-3.844-.148a23.856 23.856 0 0 1-5.455-1.31 8.964 8.964 0 0 0 2.3-5.542m3.155 6.852a3 3 0 0 0 5.667 1.97m1.965-2.277L21 21m-4.225-4.225a23.81 23.81 0 0 0 3.536-1.003A8.967 8.967 0 0 1 18 9.75V9A6 6 0 0 0 8.621 3.818M3 3l1.5 1.5" strokeLinecap="round" strokeLinejoin="round" /></svg>
              <span className="sr-only">{t.muted}</span>
            </span>
          )}
          {c.unreadCount > 0 && (
            <span data-testid="unread-badge" className="min-w-[1.25rem] shrink-0 rounded-full bg-indigo-600 px-1.5 py-0.5 text-center text-[11px] font-semibold leading-none text-white">
              {c.unreadCount > 99 ? "99+" : c.unreadCount}<span className="sr-only"> ({t.unread(c.unreadCount)})</span>
            </span>
          )}
        </span>
      </span>
    </button>
  );
}

/** The People list: a search over every user. Presence on it stays live through a
 * subscription to the users it shows; after a reconnect it is loaded again. */
function Directory({ onStartChat, users, connected, socketRef, onLoaded, onProfile }: {
  onStartChat: (userId: string) => Promise<void>; users: Record<string, User>; connected: boolean;
  socketRef: MutableRefObject<Socket | null>; onLoaded: (list: User[]) => void; onProfile: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  const [q, setQ] = useState("");
  const [results, setResults] = useState<User[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const seq = useRef(0);
  usePresenceWatch(socketRef, connected, results?.map((u) => u.id) ?? []);
  useEffect(() => {
    // Presence events missed while disconnected: search again once connected.
    if (!connected && results !== null) return;
    const n = ++seq.current;
    const h = setTimeout(() => {
      api.users(q.trim()).then((r) => { if (n === seq.current) { onLoaded(r.users); setResults(r.users); setCursor(r.nextCursor); setError(null); } })
        .catch((e) => { if (n === seq.current) setError(e instanceof ApiError ? e.code : "unknown"); });
    }, q ? 200 : 0);
    return () => clearTimeout(h);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, connected]);
  return (
    <section aria-label={t.people} data-testid="directory" className="px-2 py-3">
      <div className="px-2 pb-2">
        <label className="relative block">
          <span className="sr-only">{t.searchPeople}</span>
          <svg viewBox="0 0 24 24" className="pointer-events-none absolute left-3 top-1/2 h-4 w-4 -translate-y-1/2 text-slate-500" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="m21 21-4.3-4.3M17 10.5a6.5 6.5 0 1 1-13 0 6.5 6.5 0 0 1 13 0Z" strokeLinecap="round" /></svg>
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t.searchPlaceholder} data-testid="directory-search"
            aria-label={t.searchPeople}
            className="w-full rounded-xl border border-slate-200 bg-slate-50 py-2 pl-9 pr-3 text-sm outline-none transition focus:border-indigo-500 focus:bg-white focus:ring-4 focus:ring-indigo-500/15" />
        </label>
      </div>
      {picked.length > 0 && <NewGroup userIds={picked} onDone={() => setPicked([])} />}
      {error && <p role="alert" className="px-4 py-2 text-sm text-rose-600">{errorText(t, error)}</p>}
      {results && results.length === 0 && <p className="px-4 py-6 text-center text-sm text-slate-500">{t.noResults}</p>}
      <ul className="space-y-0.5" aria-live="polite">
        {results?.map((r) => {
          const u = users[r.id] ?? r;
          return (
            <li key={u.id} data-testid="directory-result" data-username={u.username} data-online={u.online ? "true" : "false"} className="flex items-center gap-3 rounded-xl px-3 py-2 hover:bg-slate-50">
              <input type="checkbox" data-testid="group-pick" aria-label={`${t.addToGroup}: ${u.displayName}`} checked={picked.includes(u.id)}
                onChange={(e) => setPicked((p) => e.target.checked ? [...p, u.id] : p.filter((x) => x !== u.id))}
                className="h-4 w-4 shrink-0 accent-indigo-600" />
              <button onClick={() => onProfile(u.id)} data-testid="directory-profile" title={t.viewProfile}
                className="flex min-w-0 flex-1 items-center gap-3 rounded-lg text-left focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
                <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} online={connected ? u.online : null} />
                <span className="min-w-0 flex-1">
                  <span className="block truncate font-medium">{u.displayName}</span>
                  <span className="block truncate text-xs text-slate-500">@{u.username} · {u.statusMessage || (connected ? presenceText(u, lang, t) : "")}</span>
                </span>
              </button>
              <button onClick={() => { onStartChat(u.id).catch((e) => setError(e instanceof ApiError ? e.code : "unknown")); }}
                data-testid="start-chat" aria-label={`${t.startChat}: ${u.displayName}`}
                className="shrink-0 rounded-lg bg-indigo-600 px-3 py-1.5 text-xs font-semibold text-white shadow-sm transition hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
                {t.startChat}
              </button>
            </li>
          );
        })}
      </ul>
      {cursor && (
        <div className="px-2 pt-2">
          <button data-testid="directory-more"
            onClick={() => {
              const n = seq.current;
              api.users(q.trim(), cursor).then((r) => {
                if (n !== seq.current) return;
                onLoaded(r.users);
                setResults((old) => [...(old ?? []), ...r.users.filter((u) => !(old ?? []).some((o) => o.id === u.id))]);
                setCursor(r.nextCursor);
              }).catch((e) => setError(e instanceof ApiError ? e.code : "unknown"));
            }}
            className="w-full rounded-xl py-2 text-sm font-medium text-indigo-600 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
            {t.more}
          </button>
        </div>
      )}
    </section>
  );
}

/** Creating a group of the people picked in the directory. */
function NewGroup({ userIds, onDone }: { userIds: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [title, setTitle] = useState("");
  const [error, setError] = useState<string | null>(null);
  const create = () => {
    api.createGroup(title, userIds).then(({ conversation }) => {
      onDone();
      navigate(`/c/${encodeURIComponent(conversation.id)}`, { state: { inApp: true } });
    }).catch((e) => setError(e instanceof ApiError ? e.code : "unknown"));
  };
  return (
    <form data-testid="new-group" className="mx-2 mb-2 flex flex-wrap items-center gap-2 rounded-xl bg-indigo-50 p-2"
      onSubmit={(e) => { e.preventDefault(); create(); }}>
      <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder={t.groupName} aria-label={t.groupName}
        data-testid="new-group-title" maxLength={100}
        className="min-w-0 flex-1 rounded-lg border border-slate-200 px-2 py-1 text-sm" />
      <button type="submit" data-testid="new-group-create" disabled={title.trim() === ""}
        className="rounded-lg bg-indigo-600 px-3 py-1 text-xs font-semibold text-white disabled:opacity-50">
        {t.newGroup(userIds.length + 1)}
      </button>
      {error && <p role="alert" className="w-full text-xs text-rose-700">{errorText(t, error)}</p>}
    </form>
  );
}

/** A small modal confirmation (sign-out). Esc or the backdrop cancels. */
export function ConfirmDialog({ text, confirm, onConfirm, onCancel }: { text: string; confirm: string; onConfirm: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => { ok.current?.focus(); }, []);
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/40 p-4" onClick={onCancel}
      onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); onCancel(); } }}>
      <div role="alertdialog" aria-modal="true" aria-labelledby="confirm-text" data-testid="confirm-dialog" onClick={(e) => e.stopPropagation()}
        className="w-full max-w-xs rounded-2xl bg-white p-5 shadow-2xl">
        <p id="confirm-text" className="text-sm font-medium text-slate-800">{text}</p>
        <div className="mt-4 flex justify-end gap-2">
          <button onClick={onCancel} data-testid="confirm-cancel"
            className="rounded-lg px-3 py-1.5 text-sm font-medium text-slate-600 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">{t.cancel}</button>
          <button ref={ok} onClick={onConfirm} data-testid="confirm-ok"
            className="rounded-lg bg-rose-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-rose-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-rose-500/40">{confirm}</button>
        </div>
      </div>
    </div>
  );
}
