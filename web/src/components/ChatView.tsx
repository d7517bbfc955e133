// One conversation: header, the virtualized message list (react-virtuoso: only
// what is on screen is in the DOM; older pages are prepended without moving the
// view), the "new messages" divider where I left off, the jump-to-latest bar and
// the composer with its per-conversation draft.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { Virtuoso, type VirtuosoHandle } from "react-virtuoso";
import { loadDraft, saveDraft } from "../drafts";
import { dayKey, dayLabel, presenceText, timeOf } from "../format";
import { LIMITS, useI18n } from "../i18n";
import { errorText } from "../i18n";
import { useHoldTopRow } from "../hooks/useHoldTopRow";
import { firstUnreadSeq, lastReadByPeer, newerThan, type ChatLog, type LocalMessage } from "../state/messages";
import type { Conversation, User } from "../types";
import { Avatar } from "./Avatar";
import { api, ApiError, uploadFile } from "../api";
import { AttachmentTray, MessageAttachments, type PendingFile } from "./Attachments";
import { Linkified } from "./Linkified";
import { EditBox, GroupActions, MessageTools, ReplyQuote, SystemLine, isDeleted } from "./MessageExtras";

interface Props {
  conversation: Conversation;
  log: ChatLog | undefined;
  me: User;
  users: Record<string, User>;
  typing: Record<string, number>;
  connected: boolean;
  onSend: (msg: string, clientId?: string, createdAt?: number, replyTo?: number) => void;
  onTyping: () => void;
  onLoadOlder: () => Promise<void>;
  onBack: () => void;
  /** Esc: close the chat (the draft stays). */
  onClose: () => void;
  onSeen: (seq: number) => void;
  onOpenProfile: (userId: string) => void;
  ensureUser: (id: string) => void;
  lobbyMembers?: React.ReactNode;
  /** A group's members panel, opened from the header. */
  groupMembers?: React.ReactNode;
  onLeave: () => Promise<void>;
  /** The users I block: no composer in our direct chat, their other messages collapsed. */
  blocked: ReadonlySet<string>;
  onUnblock: (userId: string) => void;
  /** A message to show and highlight (a search result), when it is in the log. */
  focusSeq?: number | null;
  onToggleMute: () => void;
}

const keyOf = (m: LocalMessage) => `${m.senderId}:${m.clientId}`;
/** How long a chat opened away from its end takes to settle where it opened. */
const SETTLE_MS = 1000;
const followIfAtBottom = (bottom: boolean) => (bottom ? "auto" as const : false);
/** A scroll up by more than this is someone's (Virtuoso's own corrections are smaller). */
const SCROLLED_UP_PX = 200;
/** Input that means the user is scrolling the list themselves. */
const USER_SCROLL = ["wheel", "touchstart", "keydown", "pointerdown"] as const;
const BASE_INDEX = 1_000_000_000;
/** A list scrolled to within this of its top is at the top (older pages load). */
const AT_TOP_PX = 2;
/** After an older page failed to load, and after one came in, when to look whether the top is still in view. */
const OLDER_RETRY_MS = 1500;
const OLDER_RECHECK_MS = 400;

export function ChatView(p: Props) {
  const { conversation: c, log, me, users, typing, connected, onBack, onClose, onOpenProfile } = p;
  const { t, lang } = useI18n();
  const lobby = c.kind === "lobby";
  const peer = c.peer ? users[c.peer.id] ?? c.peer : null;
  const title = lobby ? t.lobby : c.kind === "group" ? c.title ?? "?" : peer?.displayName ?? "?";
  const [showMembers, setShowMembers] = useState(false);
  const [replyTo, setReplyTo] = useState<LocalMessage | null>(null);
  // Where I left off: the read mark when the conversation was opened. With nothing
  // unread then, no divider: what arrives while I watch is not "where I left off".
  const [readAtOpen] = useState(c.unreadCount > 0 ? c.lastReadSeq : Number.MAX_SAFE_INTEGER);

  const now = Date.now();
  const typers = Object.entries(typing).filter(([uid, until]) => uid !== me.id && until > now).map(([uid]) => users[uid]?.displayName ?? (peer?.id === uid ? peer.displayName : "…"));
  const status = typers.length > 0 ? <span className="text-indigo-600">{t.typing(typers.join(", "))}</span>
    : lobby ? t.lobbyDesc
    : c.kind === "group" ? t.membersOf(c.memberCount)
    : peer ? (!connected ? t.waitingForNetwork : peer.statusMessage ? `${presenceText(peer, lang, t)} · ${peer.statusMessage}` : presenceText(peer, lang, t))
    : "";

  return (
    <section className="relative flex min-h-0 flex-1 flex-col" data-testid="chat-view" data-conversation-id={c.id} aria-label={title}
      onKeyDown={(e) => { if (e.key === "Escape" && !e.defaultPrevented) onClose(); }}>
      <h2 className="sr-only">{title}</h2>
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white/90 px-3 py-2.5 backdrop-blur md:px-5">
        <button onClick={onBack} aria-label={t.back} data-testid="chat-back"
          className="rounded-lg p-2 text-slate-500 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 md:hidden">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M15.75 19.5 8.25 12l7.5-7.5" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </button>
        <button data-testid="chat-header" title={lobby ? t.members : t.viewProfile}
          aria-expanded={lobby ? showMembers : undefined}
          onClick={() => { if (lobby) setShowMembers((v) => !v); else if (peer) onOpenProfile(peer.id); }}
          className="flex min-w-0 flex-1 items-center gap-3 rounded-xl p-1 text-left transition hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          <Avatar id={peer?.id ?? c.id} name={title} url={peer?.avatarUrl ?? null} lobby={lobby} online={peer && connected ? peer.online : null} />
          <span className="min-w-0 flex-1">
            <span className="block truncate font-semibold text-slate-900" data-testid="chat-title">{title}<span className="sr-only"> ({lobby ? t.members : t.viewProfile})</span></span>
            <span className="block truncate text-xs text-slate-500" aria-live="polite" data-testid="chat-status">{status}</span>
          </span>
        </button>
        <button onClick={p.onToggleMute} data-testid="mute-toggle" aria-pressed={c.muted} title={c.muted ? t.unmute : t.mute} aria-label={c.muted ? t.unmute : t.mute}
          className={`rounded-lg p-2 transition hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 ${c.muted ? "text-rose-600" : "text-slate-500"}`}>
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="1.8" aria-hidden="true">
            {c.muted
              ? <path d="M9.143 17.082a24.248 24.248 0 0 0 3.844.148m-3.844-.148a23.856 23.856 0 0 1-5.455-1.31 8.964 8.964 0 0 0 2.3-5.542m3.155 6.852a3 3 0 0 0 5.667 1.97m1.965-2.277L21 21m-4.225-4.225a23.81 23.81 0 0 0 3.536-1.003A8.967 8.967 0 0 1 18 9.75V9A6 6 0 0 0 8.621 3.818M3 3l1.5 1.5" strokeLinecap="round" strokeLinejoin="round" />
              : <path d="M14.857 17.082a23.848 23.848 0 0 0 5.454-1.31A8.967 8.967 0 0 1 18 9.75V9A6 6 0 0 0 6 9v.75a8.967 8.967 0 0 1-2.312 6.022c1.733.64 3.56 1.085 5.455 1.31m5.714 0a24.255 24.255 0 0 1-5.714 0m5.714 0a3 3 0 1 1-5.714 0" strokeLinecap="round" strokeLinejoin="round" />}
          </svg>
        </button>
        {c.kind === "group" && <GroupActions c={c} onLeave={p.onLeave} onMembers={() => setShowMembers((v) => !v)} membersOpen={showMembers} />}
      </header>
      {showMembers && (lobby ? p.lobbyMembers : c.kind === "group" ? p.groupMembers : null)}
      {log?.loaded ? (
        <MessageList {...p} readAtOpen={readAtOpen} title={title} typers={typers} onReply={setReplyTo} />
      ) : (
        <div className="min-h-0 flex-1" data-testid="message-list-loading" role="status" aria-label={t.connecting} />
      )}
      {replyTo && (
        <div data-testid="replying-to" className="flex items-center gap-2 border-t border-slate-200 bg-slate-50 px-3 py-1.5 text-xs text-slate-600 md:px-5">
          <span className="min-w-0 flex-1 truncate">{t.replyingTo(users[replyTo.senderId]?.displayName ?? replyTo.user)}: {replyTo.msg}</span>
          <button type="button" onClick={() => setReplyTo(null)} data-testid="reply-cancel" className="rounded px-1 hover:bg-slate-200">{t.cancel}</button>
        </div>
      )}
      {peer && p.blocked.has(peer.id) ? (
        <div className="flex flex-wrap items-center justify-center gap-3 border-t border-slate-200 bg-white px-3 py-3 text-sm text-slate-600" data-testid="blocked-notice">
          {t.blockedNotice}
          <button onClick={() => p.onUnblock(peer.id)} data-testid="blocked-unblock"
            className="rounded-lg bg-indigo-50 px-3 py-1.5 font-semibold text-indigo-700 hover:bg-indigo-100 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">{t.unblock}</button>
        </div>
      ) : (
        <Composer key={c.id} conversationId={c.id} meId={me.id} onTyping={p.onTyping}
          onSend={(text) => { p.onSend(text, undefined, undefined, replyTo?.seq ?? undefined); setReplyTo(null); }} />
      )}
    </section>
  );
}

function MessageList({ conversation: c, log, me, users, onSend, onLoadOlder, onSeen, ensureUser, readAtOpen, title, typers, onReply, focusSeq, blocked }: Props & { readAtOpen: number; title: string; typers: string[]; onReply: (m: LocalMessage) => void }) {
  const { t } = useI18n();
  const lobby = c.kind === "lobby";
  const messages = useMemo(() => log?.messages ?? [], [log?.messages]);
  const virtuoso = useRef<VirtuosoHandle>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const loadingRef = useRef(false);
  const [lastVisible, setLastVisible] = useState(-1);

  const scroller = useRef<HTMLElement | null>(null);
  const { capture: captureTop, release: releaseTop } = useHoldTopRow(scroller);

  // Prepending older pages lowers firstItemIndex by as many items, which keeps the view still
  // (and useHoldTopRow keeps it still where Virtuoso does not).
  const first = useRef<{ key: string | null; index: number }>({ key: null, index: BASE_INDEX });
  const firstKey = messages.length ? keyOf(messages[0]) : null;
  if (first.current.key !== firstKey) {
    const k = first.current.key ? messages.findIndex((m) => keyOf(m) === first.current.key) : -1;
    if (k > 0) captureTop();
    first.current = { key: firstKey, index: first.current.index - (k > 0 ? k : 0) };
  }
  const firstItemIndex = first.current.index;

  const dividerSeq = useMemo(() => firstUnreadSeq(messages, me.id, readAtOpen), [messages, me.id, readAtOpen]);
  const readSeq = useMemo(() => (!lobby ? lastReadByPeer(messages, me.id, c.peerLastReadSeq) : null), [lobby, messages, me.id, c.peerLastReadSeq]);
  const [initialIndex] = useState(() => {
    const f = focusSeq != null ? messages.findIndex((m) => m.seq === focusSeq) : -1;
    if (f >= 0) return { index: f, align: "center" as const };
    const i = dividerSeq != null ? messages.findIndex((m) => m.seq === dividerSeq) : -1;
    return i >= 0 ? { index: Math.max(0, i), align: "start" as const } : { index: Math.max(0, messages.length - 1), align: "end" as const };
  });

  // Whether the view is at the newest message. Opened at the first unread it is not.
  const [atBottom, setAtBottom] = useState(initialIndex.align === "end");
  // Following new output is off for a moment when the chat opens away from its end:
  // while it mounts, Virtuoso sees itself "at the bottom" of a still empty scroller,
  // then "the size increased", and with any followOutput but `false` it scrolls to
  // the end without asking (a chat opened at its first unread was carried past
  // every unread to the last message).
  const [follow, setFollow] = useState(initialIndex.align === "end");
  useEffect(() => {
    if (follow) return;
    const h = setTimeout(() => setFollow(true), SETTLE_MS);
    return () => clearTimeout(h);
  }, [follow]);

  // A search result chosen while this chat is open: scroll to it once it is in the log.
  const scrolledTo = useRef(initialIndex.align === "center" ? focusSeq : null);
  useEffect(() => {
    if (focusSeq == null || scrolledTo.current === focusSeq) return;
    const i = messages.findIndex((m) => m.seq === focusSeq);
    if (i < 0) return;
    scrolledTo.current = focusSeq;
    releaseTop();
    virtuoso.current?.scrollToIndex({ index: i, align: "center" });
  }, [focusSeq, messages, releaseTop]);

  // Names of lobby senders we have not seen yet (only those on screen).
  useEffect(() => {
    const lo = Math.max(0, lastVisible - firstItemIndex - 40);
    for (const m of messages.slice(lo, lo + 80)) if (m.senderId !== me.id && !users[m.senderId]) ensureUser(m.senderId);
  }, [messages, users, me.id, ensureUser, lastVisible, firstItemIndex]);

  // Older pages load when the top is reached: on Virtuoso's startReached, which fires once
  // per first row, and on a scroll that lands at the very top. A load that failed, or a top
  // still in view once a page is in, asks again by itself: no second startReached comes for it.
  const older = useRef({ hasMore: !!log?.hasMoreBefore, onLoadOlder });
  older.current = { hasMore: !!log?.hasMoreBefore, onLoadOlder };
  const olderAgain = useRef<ReturnType<typeof setTimeout>>(undefined);
  const loadOlder = useCallback(async () => {
    if (loadingRef.current || !older.current.hasMore) return;
    clearTimeout(olderAgain.current);
    loadingRef.current = true;
    setLoadingOlder(true);
    let failed = false;
    try { await older.current.onLoadOlder(); } catch { failed = true; } finally {
      loadingRef.current = false;
      setLoadingOlder(false);
    }
    olderAgain.current = setTimeout(() => { loadIfAtTop(); }, failed ? OLDER_RETRY_MS : OLDER_RECHECK_MS);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const loadIfAtTop = useCallback(() => {
    if ((scroller.current?.scrollTop ?? AT_TOP_PX + 1) <= AT_TOP_PX) void loadOlder();
  }, [loadOlder]);
  useEffect(() => () => clearTimeout(olderAgain.current), []);

  // To the bottom, and again as the rows there are measured: the first jump uses
  // estimated heights and can stop a few rows short. Any scrolling by the user ends it.
  const settle = useRef<ReturnType<typeof setTimeout>[]>([]);
  const stopSettling = useCallback(() => { for (const h of settle.current) clearTimeout(h); settle.current = []; }, []);
  const userScrolled = useCallback(() => { stopSettling(); releaseTop(); }, [stopSettling, releaseTop]);
  // Scrolled up by far more than Virtuoso's own corrections (a script or a scrollbar
  // drag, which raise no input event): not for us to undo.
  const lastTop = useRef(0);
  const stopIfScrolledUp = useCallback((e: Event) => {
    const top = (e.currentTarget as HTMLElement).scrollTop;
    if (top < lastTop.current - SCROLLED_UP_PX) stopSettling();
    lastTop.current = top;
  }, [stopSettling]);
  const toBottom = useCallback(() => {
    stopSettling();
    releaseTop();
    setFollow(true);
    virtuoso.current?.scrollToIndex({ index: "LAST", align: "end" });
    // A scroll up can still be waiting for its scroll event when a timer fires:
    // the position itself tells, or the jump would silently undo it.
    const again = () => {
      const el = scroller.current;
      if (el && el.scrollTop < lastTop.current - SCROLLED_UP_PX) stopSettling();
      else virtuoso.current?.scrollToIndex({ index: "LAST", align: "end" });
    };
    settle.current = [60, 200, 500].map((ms) => setTimeout(again, ms));
  }, [stopSettling, releaseTop]);
  useEffect(() => {
    if (initialIndex.align === "end") toBottom();
    return stopSettling;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // My own new message always scrolls into view.
  const last = messages[messages.length - 1];
  const lastKey = last ? keyOf(last) : null;
  const prevLast = useRef(lastKey);
  useLayoutEffect(() => {
    if (prevLast.current !== lastKey && last && last.senderId === me.id) toBottom();
    prevLast.current = lastKey;
  }, [lastKey, last, me.id, toBottom]);

  // Read marks follow what is actually on screen: the last row shown whole (or
  // filling the view), measured in the DOM after each scroll and change. Virtuoso's
  // rendered range runs past the bottom edge, so it would mark unseen rows read.
  const seenState = useRef({ messages, onSeen });
  seenState.current = { messages, onSeen };
  const seenFrame = useRef(0);
  const reportSeen = useCallback(() => {
    if (seenFrame.current) return;
    seenFrame.current = requestAnimationFrame(() => {
      seenFrame.current = 0;
      const el = scroller.current;
      if (!el) return;
      const { messages: list, onSeen: seen } = seenState.current;
      const view = el.getBoundingClientRect();
      let last = -1;
      for (const row of el.querySelectorAll<HTMLElement>("[data-index]")) {
        const r = row.getBoundingClientRect();
        if (r.height > 0 && r.top < view.bottom && (r.bottom <= view.bottom + 2 || r.top <= view.top)) last = Math.max(last, Number(row.dataset.index)); // the index in `data`
      }
      for (let j = Math.min(last, list.length - 1); j >= 0; j--) {
        const s = list[j].seq;
        if (s != null) { seen(s); break; }
      }
    });
  }, []);
  useEffect(() => () => cancelAnimationFrame(seenFrame.current), []);
  useEffect(() => { reportSeen(); }, [lastVisible, messages, reportSeen]);

  const newer = atBottom ? 0 : newerThan(messages, lastVisible - firstItemIndex, me.id);
  const retry = useCallback((m: LocalMessage) => onSend(m.msg, m.clientId, m.createdAt), [onSend]);

  return (
    <>
      <Virtuoso
        ref={virtuoso}
        data-testid="message-list"
        role="log"
        aria-label={title}
        aria-live="polite"
        aria-relevant="additions"
        className="min-h-0 flex-1 scroll-thin focus:outline-none"
        style={{ overscrollBehavior: "contain" }}
        data={messages}
        firstItemIndex={firstItemIndex}
        initialTopMostItemIndex={initialIndex}
        computeItemKey={(_, m) => keyOf(m)}
        followOutput={follow ? followIfAtBottom : false}
        atBottomThreshold={80}
        atBottomStateChange={setAtBottom}
        rangeChanged={(r) => { setLastVisible(r.endIndex); reportSeen(); }}
        scrollerRef={(el) => {
          const old = scroller.current;
          if (old) {
            old.removeEventListener("scroll", reportSeen);
            old.removeEventListener("scroll", stopIfScrolledUp);
            old.removeEventListener("scroll", loadIfAtTop);
            for (const e of USER_SCROLL) old.removeEventListener(e, userScrolled);
          }
          scroller.current = el instanceof HTMLElement ? el : null;
          scroller.current?.addEventListener("scroll", reportSeen, { passive: true });
          scroller.current?.addEventListener("scroll", stopIfScrolledUp, { passive: true });
          scroller.current?.addEventListener("scroll", loadIfAtTop, { passive: true });
          for (const e of USER_SCROLL) scroller.current?.addEventListener(e, userScrolled, { passive: true });
        }}
        startReached={() => { void loadOlder(); }}
        defaultItemHeight={52}
        context={{ loadingOlder, hasMoreBefore: !!log?.hasMoreBefore, empty: messages.length === 0, typers }}
        components={LIST_COMPONENTS}
        itemContent={(index, m) => {
          const i = index - firstItemIndex;
          const prev = messages[i - 1];
          const next = messages[i + 1];
          // The oldest row held while older ones exist is drawn as the continuation it
          // most likely is (same day, same sender): when the page before it arrives, a
          // day line and a sender name vanishing from it would move the view by ~50 px.
          const continued = !prev && !!log?.hasMoreBefore;
          const newDay = !continued && (!prev || dayKey(prev.createdAt) !== dayKey(m.createdAt));
          const grouped = continued ? m.seq !== dividerSeq : !newDay && !!prev && prev.senderId === m.senderId && m.createdAt - prev.createdAt < 5 * 60_000 && m.seq !== dividerSeq;
          const endsGroup = !next || next.senderId !== m.senderId || next.createdAt - m.createdAt >= 5 * 60_000 || dayKey(next.createdAt) !== dayKey(m.createdAt);
          return (
            <MessageRow m={m} mine={m.senderId === me.id} grouped={grouped} showTime={endsGroup || m.status !== "sent"}
              sender={users[m.senderId]} newDay={newDay} divider={m.seq != null && m.seq === dividerSeq} focused={m.seq != null && m.seq === focusSeq}
              collapsed={c.kind !== "direct" && m.senderId !== me.id && blocked.has(m.senderId)}
              read={readSeq != null && m.seq === readSeq} onRetry={retry} meId={me.id} users={users} onReply={onReply} />
          );
        }}
      />
      {!atBottom && (
        <div className="flex justify-center border-t border-slate-200 bg-white/95 px-3 py-1.5">
          <button onClick={toBottom}
            data-testid="jump-to-latest" data-count={newer}
            className="flex items-center gap-1.5 rounded-full bg-indigo-50 px-3 py-1 text-xs font-semibold text-indigo-700 transition hover:bg-indigo-100 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
            <svg viewBox="0 0 24 24" className="h-4 w-4" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M19.5 13.5 12 21m0 0-7.5-7.5M12 21V3" strokeLinecap="round" strokeLinejoin="round" /></svg>
            {newer > 0 ? t.jumpNew(newer) : t.jumpToLatest}
          </button>
        </div>
      )}
    </>
  );
}

interface ListContext { loadingOlder: boolean; hasMoreBefore: boolean; empty: boolean; typers: string[] }

function ListHeader({ context }: { context?: ListContext }) {
  const { t } = useI18n();
  // One line of fixed height whatever it says: a header that grew while a page loads
  // would push the messages under it down (the view must stay still).
  const text = context?.loadingOlder ? t.loadingOlder : context && !context.hasMoreBefore && !context.empty ? t.beginning : "";
  return (
    <div className="px-3 pt-4 md:px-6">
      <p role="status" className="mb-3 h-4 truncate text-center text-xs leading-4 text-slate-500" data-testid={context?.loadingOlder ? "loading-older" : undefined}>{text}</p>
    </div>
  );
}

function ListFooter({ context }: { context?: ListContext }) {
  const { t } = useI18n();
  const typers = context?.typers ?? [];
  return (
    <div className="px-3 pb-4 md:px-6">
      {context?.empty && <EmptyChat text={t.emptyChat} />}
      {typers.length > 0 && (
        <div data-testid="typing-indicator" className="mt-2 flex items-center gap-2 text-xs text-slate-500">
          <span className="flex gap-0.5 rounded-full bg-white px-3 py-2 shadow-sm ring-1 ring-slate-200" aria-hidden="true">
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400 [animation-delay:-0.3s]" />
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400 [animation-delay:-0.15s]" />
            <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400" />
          </span>
          {t.typing(typers.join(", "))}
        </div>
      )}
    </div>
  );
}

const LIST_COMPONENTS = { Header: ListHeader, Footer: ListFooter };

function EmptyChat({ text }: { text: string }) {
  return (
    <div data-testid="empty-chat" className="flex flex-col items-center justify-center gap-2 py-16 text-slate-500">
      <svg viewBox="0 0 24 24" className="h-10 w-10" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true"><path d="M8.625 12a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0Zm4.125 0a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0Zm4.125 0a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0ZM21 12c0 4.556-4.03 8.25-9 8.25a9.764 9.764 0 0 1-2.555-.337A5.972 5.972 0 0 1 5.41 20.97a5.969 5.969 0 0 1-.474-.065 4.48 4.48 0 0 0 .978-2.025c.09-.457-.133-.901-.467-1.226C3.93 16.178 3 14.189 3 12c0-4.556 4.03-8.25 9-8.25s9 3.694 9 8.25Z" strokeLinecap="round" strokeLinejoin="round" /></svg>
      <p className="text-sm">{text}</p>
    </div>
  );
}

const MessageRow = memo(function MessageRow({ m, mine, grouped, showTime, sender, read, newDay, divider, focused, collapsed, onRetry, meId, users, onReply }: {
  m: LocalMessage; mine: boolean; grouped: boolean; showTime: boolean; sender: User | undefined; read: boolean;
  newDay: boolean; divider: boolean; focused: boolean; collapsed: boolean; onRetry: (m: LocalMessage) => void; meId: string; users: Record<string, User>;
  onReply: (m: LocalMessage) => void;
}) {
  const { t, lang } = useI18n();
  const [revealed, setRevealed] = useState(false);
  const [editing, setEditing] = useState(false);
  const name = mine ? t.me : sender?.displayName ?? m.user;
  if (m.type === "system") return <SystemLine m={m} users={users} />;
  if (collapsed && !revealed) {
    return (
      <div className="px-3 py-1 md:px-6">
        <p data-testid="message-collapsed" data-seq={m.seq ?? ""} className="flex items-center gap-2 pl-10 text-xs italic text-slate-500">
          {t.blockedMessage}
          <button onClick={() => setRevealed(true)} className="rounded-md px-1.5 py-0.5 font-semibold not-italic text-indigo-700 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">{t.showMessage}</button>
        </p>
      </div>
    );
  }
  return (
    <div className="px-3 md:px-6">
      {newDay && (
        <div data-testid="day-separator" className="flex items-center gap-3 py-3 text-xs font-medium text-slate-500">
          <span className="h-px flex-1 bg-slate-200" aria-hidden="true" />
          {dayLabel(m.createdAt, lang, t)}
          <span className="h-px flex-1 bg-slate-200" aria-hidden="true" />
        </div>
      )}
      {divider && (
        <div data-testid="unread-divider" data-seq={m.seq ?? ""} className="flex items-center gap-3 py-2 text-xs font-semibold text-rose-600">
          <span className="h-px flex-1 bg-rose-300" aria-hidden="true" />
          {t.newMessages}
          <span className="h-px flex-1 bg-rose-300" aria-hidden="true" />
        </div>
      )}
      <div data-testid="message" data-seq={m.seq ?? ""} data-client-id={m.clientId} data-status={m.status} data-mine={mine ? "true" : "false"}
        data-focused={focused ? "true" : undefined}
        className={`relative flex gap-2 pb-1 ${mine ? "justify-end" : "justify-start"} ${grouped ? "" : "pt-3"} ${focused ? "rounded-xl bg-amber-50 ring-2 ring-amber-300" : ""}`}>
        {!mine && (
          <span className="w-8 shrink-0">
            {!grouped && <Avatar id={m.senderId} name={sender?.displayName ?? m.user} url={sender?.avatarUrl ?? null} size="sm" />}
          </span>
        )}
        <div className={`flex max-w-[78%] flex-col md:max-w-[65%] ${mine ? "items-end" : "items-start"}`}>
          {!grouped && (
            <span className="mb-0.5 px-1 text-xs font-medium text-slate-500" data-testid="message-sender">{name}</span>
          )}
          <ReplyQuote m={m} users={users} />
          {!isDeleted(m) && <MessageAttachments list={m.attachments} mine={mine} />}
          {editing ? <EditBox m={m} onDone={() => setEditing(false)} /> : <div className={`flex items-end gap-1.5 ${mine ? "flex-row-reverse" : ""}`}>
            {(isDeleted(m) || m.msg !== "" || !m.attachments?.length) && <p data-testid="message-text" data-deleted={isDeleted(m) ? "true" : "false"}
              className={`whitespace-pre-wrap break-words rounded-2xl px-3.5 py-2 text-[15px] leading-snug shadow-sm [overflow-wrap:anywhere] ${
                mine
                  ? `rounded-br-md ${m.status === "failed" ? "bg-rose-600" : m.status === "pending" ? "bg-indigo-500" : "bg-indigo-600"} text-white`
                  : "rounded-bl-md bg-white text-slate-800 ring-1 ring-slate-200"}`}>
              {isDeleted(m) ? <em data-testid="message-deleted">{t.messageDeleted}</em> : <Linkified text={m.msg} mine={mine} />}
            </p>}
            {showTime && <time className="shrink-0 pb-0.5 text-[11px] text-slate-500" dateTime={new Date(m.createdAt).toISOString()}>{timeOf(m.createdAt, lang)}</time>}
          </div>}
          <MessageTools m={m} meId={meId} mine={mine} users={users} onReply={onReply} onEdit={() => setEditing(true)} />
          {mine && m.status === "pending" && (
            <span className="mt-0.5 flex items-center gap-1 px-1 text-[11px] text-slate-500" data-testid="message-pending">
              <svg viewBox="0 0 24 24" className="h-3 w-3" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M12 6v6l4 2m5-2a9 9 0 1 1-18 0 9 9 0 0 1 18 0Z" strokeLinecap="round" strokeLinejoin="round" /></svg>
              {t.pending}
            </span>
          )}
          {mine && m.status === "failed" && (
            <span className="mt-0.5 flex flex-wrap items-center justify-end gap-2 px-1 text-[11px] text-rose-700" role="alert" data-testid="message-error" data-code={m.error ?? ""}>
              {t.failed}{m.error ? ` — ${errorText(t, m.error)}` : ""}
              <button onClick={() => onRetry(m)} data-testid="retry-button"
                className="rounded-md bg-rose-50 px-2 py-0.5 font-semibold text-rose-700 hover:bg-rose-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-500/50">
                {t.retry}
              </button>
            </span>
          )}
          {mine && read && m.status === "sent" && (
            <span className="mt-0.5 px-1 text-[11px] font-medium text-indigo-600" data-testid="read-receipt">{t.read}</span>
          )}
        </div>
      </div>
    </div>
  );
});

function Composer({ conversationId, meId, onSend, onTyping }: { conversationId: string; meId: string; onSend: (text: string) => void; onTyping: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(() => loadDraft(meId, conversationId));
  const ref = useRef<HTMLTextAreaElement>(null);
  const max = LIMITS.messageChars;
  const length = text.length;
  const tooLong = length > max;
  const showCount = length > max - 500;

  useEffect(() => {
    const h = setTimeout(() => saveDraft(meId, conversationId, text), 250);
    return () => { clearTimeout(h); saveDraft(meId, conversationId, text); };
  }, [meId, conversationId, text]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = Math.min(el.scrollHeight, 160) + "px";
  }, [text]);

  const files = useFiles();
  useDropAnywhere(files.add, files.setDragging);
  const ready = files.list.filter((f) => f.attachment);
  const canSend = !tooLong && !files.busy && (text.trim() !== "" || ready.length > 0);
  const submit = () => {
    if (!canSend) return;
    if (ready.length > 0) {
      // With files the send goes over HTTP at once; the message arrives like any other.
      const ids = ready.map((f) => f.attachment!.id);
      api.send(conversationId, text.trim() === "" ? "" : text, crypto.randomUUID(), ids)
        .then(() => files.clear())
        .catch((e) => files.fail(ids, e instanceof ApiError ? e.code : "unknown"));
    } else {
      onSend(text);
    }
    setText("");
    saveDraft(meId, conversationId, "");
    ref.current?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  };
  return (
    <form onSubmit={(e) => { e.preventDefault(); submit(); }} data-testid="composer-form"
      className={`border-t border-slate-200 px-3 py-3 md:px-5 ${files.dragging ? "bg-indigo-50" : "bg-white"}`}>
      {files.dragging && <p className="mb-2 text-center text-sm text-indigo-700">{t.dropFilesHere}</p>}
      <AttachmentTray files={files.list} onRemove={files.remove} errorText={(code) => errorText(t, code)} />
      <div className="flex items-end gap-2">
        <label className="flex h-11 w-11 shrink-0 cursor-pointer items-center justify-center rounded-full text-slate-500 hover:bg-slate-100 focus-within:ring-4 focus-within:ring-indigo-500/40" title={t.attachFiles}>
          <span className="sr-only">{t.attachFiles}</span>
          <input type="file" multiple className="sr-only" data-testid="attach-input"
            onChange={(e) => { if (e.target.files) files.add(e.target.files); e.target.value = ""; }} />
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="m18.375 12.739-7.693 7.693a4.5 4.5 0 0 1-6.364-6.364l10.94-10.94A3 3 0 1 1 19.5 7.372L8.552 18.32m.009-.01-.01.01m5.699-9.941-7.81 7.81a1.5 1.5 0 0 0 2.112 2.13" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </label>
        <label className="min-w-0 flex-1">
          <span className="sr-only">{t.messagePlaceholder}</span>
          <textarea ref={ref} rows={1} value={text} data-testid="composer" aria-label={t.messagePlaceholder}
            aria-invalid={tooLong || undefined} aria-describedby={showCount ? `count-${conversationId}` : undefined}
            placeholder={t.messagePlaceholder}
            onChange={(e) => { setText(e.target.value); if (e.target.value) onTyping(); }} onKeyDown={onKeyDown}
            onPaste={(e) => { if (e.clipboardData.files.length) { e.preventDefault(); files.add(e.clipboardData.files); } }}
            className={`block max-h-40 w-full resize-none rounded-2xl border bg-slate-50 px-4 py-2.5 text-[15px] leading-snug outline-none transition focus:bg-white focus:ring-4 ${tooLong ? "border-rose-400 focus:border-rose-500 focus:ring-rose-500/15" : "border-slate-200 focus:border-indigo-500 focus:ring-indigo-500/15"}`} />
        </label>
        <button type="submit" disabled={!canSend} data-testid="send-button" aria-label={t.send}
          className="flex h-11 w-11 shrink-0 items-center justify-center rounded-full bg-indigo-600 text-white shadow-md shadow-indigo-600/25 transition hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 disabled:bg-slate-300 disabled:shadow-none">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="currentColor" aria-hidden="true"><path d="M3.478 2.404a.75.75 0 0 0-.926.941l2.432 7.905H13.5a.75.75 0 0 1 0 1.5H4.984l-2.432 7.905a.75.75 0 0 0 .926.94 60.519 60.519 0 0 0 18.445-8.986.75.75 0 0 0 0-1.218A60.517 60.517 0 0 0 3.478 2.404Z" /></svg>
        </button>
      </div>
      {showCount && (
        <p id={`count-${conversationId}`} data-testid="char-count" aria-live="polite"
          className={`mt-1 px-2 text-right text-xs ${tooLong ? "font-semibold text-rose-700" : "text-slate-500"}`}>
          {tooLong ? `${t.tooLong(max)} ` : ""}{t.charCount(length, max)}
        </p>
      )}
    </form>
  );
}

/**
 * Files dropped anywhere on the page while a chat is open are attached to it.
 * A drop that missed a small target would otherwise make the browser open the
 * file in place of the app. Enter/leave pairs are counted because `dragleave`
 * also fires on every move from one element to a child or sibling.
 */
function useDropAnywhere(add: (files: FileList) => void, setDragging: (on: boolean) => void) {
  const addRef = useRef(add);
  useEffect(() => { addRef.current = add; });
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => !!e.dataTransfer?.types.includes("Files");
    const enter = (e: DragEvent) => { if (hasFiles(e)) { depth++; setDragging(true); } };
    const over = (e: DragEvent) => { if (hasFiles(e)) { e.preventDefault(); setDragging(true); } };
    const leave = (e: DragEvent) => { if (hasFiles(e) && --depth <= 0) { depth = 0; setDragging(false); } };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      if (e.dataTransfer?.files.length) addRef.current(e.dataTransfer.files);
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragover", over);
    window.addEventListener("dragleave", leave);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragover", over);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("drop", drop);
    };
  }, [setDragging]);
}

/** Most files on one message (the server's limit). */
const MAX_FILES = 10;

/** The composer's files: each uploads at once, with progress, until sent or removed. */
function useFiles() {
  const [list, setList] = useState<PendingFile[]>([]);
  const [dragging, setDragging] = useState(false);
  const update = (key: string, change: Partial<PendingFile>) =>
    setList((l) => l.map((f) => (f.key === key ? { ...f, ...change } : f)));
  const add = (picked: FileList) => {
    let room = MAX_FILES - list.filter((f) => !f.error).length;
    for (const file of Array.from(picked)) {
      const key = crypto.randomUUID();
      const name = file.name || "image.png";
      // Past the limit a file is shown refused, not left out without a word.
      if (room-- <= 0) {
        setList((l) => [...l, { key, name, progress: 0, error: "too_many_attachments" }]);
        continue;
      }
      setList((l) => [...l, { key, name, progress: 0 }]);
      uploadFile(file, name, (progress) => update(key, { progress }))
        .then((attachment) => update(key, { attachment, progress: 1 }))
        .catch((e) => update(key, e instanceof ApiError ? { error: e.code, limitBytes: e.limitBytes } : { error: "unknown" }));
    }
  };
  return {
    list,
    dragging,
    setDragging,
    add,
    busy: list.some((f) => !f.attachment && !f.error),
    remove: (key: string) => setList((l) => l.filter((f) => f.key !== key)),
    clear: () => setList((l) => l.filter((f) => !f.attachment)),
    fail: (ids: string[], code: string) =>
      setList((l) => l.map((f) => (f.attachment && ids.includes(f.attachment.id) ? { ...f, attachment: undefined, error: code } : f))),
  };
}
