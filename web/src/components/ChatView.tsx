import { Fragment, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { dayKey, dayLabel, presenceText, timeOf } from "../format";
import { useI18n } from "../i18n";
import { lastReadByPeer, type ChatLog, type LocalMessage } from "../state/messages";
import type { Conversation, User } from "../types";
import { Avatar } from "./Avatar";

interface Props {
  conversation: Conversation;
  log: ChatLog | undefined;
  me: User;
  users: Record<string, User>;
  typing: Record<string, number>;
  onSend: (msg: string, clientId?: string) => void;
  onTyping: () => void;
  onLoadOlder: () => Promise<void>;
  onBack: () => void;
  ensureUser: (id: string) => void;
}

const keyOf = (m: LocalMessage) => `${m.senderId}:${m.clientId}`;

export function ChatView({ conversation: c, log, me, users, typing, onSend, onTyping, onLoadOlder, onBack, ensureUser }: Props) {
  const { t, lang } = useI18n();
  const lobby = c.kind === "lobby";
  const peer = c.peer ? users[c.peer.id] ?? c.peer : null;
  const title = lobby ? t.lobby : peer?.displayName ?? "?";
  const messages = log?.messages ?? [];
  const listRef = useRef<HTMLDivElement>(null);
  const anchor = useRef({ fromBottom: 0, nearBottom: true });
  const edges = useRef<{ first: string | null; last: string | null }>({ first: null, last: null });
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [awayFromBottom, setAwayFromBottom] = useState(false);
  const loadingRef = useRef(false);

  const now = Date.now();
  const typers = Object.entries(typing).filter(([uid, until]) => uid !== me.id && until > now).map(([uid]) => users[uid]?.displayName ?? (peer?.id === uid ? peer.displayName : "…"));
  const readSeq = !lobby ? lastReadByPeer(messages, me.id, c.peerLastReadSeq) : null;

  // Names of lobby senders we have not seen yet.
  useEffect(() => {
    for (const m of messages) if (m.senderId !== me.id && !users[m.senderId]) ensureUser(m.senderId);
  }, [messages, users, me.id, ensureUser]);

  const loadOlder = async () => {
    if (loadingRef.current || !log?.hasMoreBefore) return;
    loadingRef.current = true;
    setLoadingOlder(true);
    try { await onLoadOlder(); } catch { /* try again on the next scroll */ } finally {
      loadingRef.current = false;
      setLoadingOlder(false);
    }
  };

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    anchor.current = { fromBottom: el.scrollHeight - el.scrollTop, nearBottom: el.scrollHeight - el.scrollTop - el.clientHeight < 120 };
    setAwayFromBottom(el.scrollHeight - el.scrollTop - el.clientHeight > 400);
    if (el.scrollTop < 150) void loadOlder();
  };
  const toBottom = () => {
    const el = listRef.current;
    if (el) el.scrollTo({ top: el.scrollHeight, behavior: "smooth" });
  };

  // Keep the view steady when older pages are prepended; follow new messages at the bottom.
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const first = messages.length ? keyOf(messages[0]) : null;
    const lastMsg = messages.length ? messages[messages.length - 1] : null;
    const last = lastMsg ? keyOf(lastMsg) : null;
    const prev = edges.current;
    if (prev.first !== first && prev.last === last && prev.first !== null) {
      el.scrollTop = el.scrollHeight - anchor.current.fromBottom;
    } else if (prev.last !== last || prev.first === null) {
      if (anchor.current.nearBottom || lastMsg?.senderId === me.id) el.scrollTop = el.scrollHeight;
    } else if (anchor.current.nearBottom) {
      el.scrollTop = el.scrollHeight;
    }
    edges.current = { first, last };
    anchor.current = { fromBottom: el.scrollHeight - el.scrollTop, nearBottom: el.scrollHeight - el.scrollTop - el.clientHeight < 120 };
    // A first page that does not fill the screen: fetch more right away.
    if (log?.loaded && log.hasMoreBefore && el.scrollHeight <= el.clientHeight + 20) void loadOlder();
  });

  return (
    <section className="flex min-h-0 flex-1 flex-col" data-testid="chat-view" data-conversation-id={c.id} aria-label={title}
      onKeyDown={(e) => { if (e.key === "Escape") onBack(); }}>
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white/90 px-3 py-2.5 backdrop-blur md:px-5">
        <button onClick={onBack} aria-label={t.back} data-testid="chat-back"
          className="rounded-lg p-2 text-slate-500 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 md:hidden">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M15.75 19.5 8.25 12l7.5-7.5" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </button>
        <Avatar id={peer?.id ?? c.id} name={title} url={peer?.avatarUrl ?? null} lobby={lobby} online={peer ? peer.online : null} />
        <div className="min-w-0 flex-1">
          <h2 className="truncate font-semibold text-slate-900" data-testid="chat-title">{title}</h2>
          <p className="truncate text-xs text-slate-500" aria-live="polite">
            {typers.length > 0 ? (
              <span className="text-indigo-600">{t.typing(typers.join(", "))}</span>
            ) : lobby ? t.lobbyDesc : peer ? (peer.statusMessage ? `${presenceText(peer, lang, t)} · ${peer.statusMessage}` : presenceText(peer, lang, t)) : ""}
          </p>
        </div>
      </header>

      <div ref={listRef} onScroll={onScroll} data-testid="message-list" role="log" aria-live="polite" aria-relevant="additions" aria-label={title}
        tabIndex={0} className="min-h-0 flex-1 overflow-y-auto px-3 py-4 scroll-thin focus:outline-none md:px-6">
        {log?.loaded && !log.hasMoreBefore && messages.length > 0 && (
          <p className="mb-4 text-center text-xs text-slate-500">{t.beginning}</p>
        )}
        {loadingOlder && <p role="status" className="mb-3 text-center text-xs text-slate-500" data-testid="loading-older">{t.loadingOlder}</p>}
        {log?.loaded && messages.length === 0 && (
          <div data-testid="empty-chat" className="flex h-full flex-col items-center justify-center gap-2 text-slate-500">
            <svg viewBox="0 0 24 24" className="h-10 w-10" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true"><path d="M8.625 12a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0Zm4.125 0a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0Zm4.125 0a.375.375 0 1 1-.75 0 .375.375 0 0 1 .75 0ZM21 12c0 4.556-4.03 8.25-9 8.25a9.764 9.764 0 0 1-2.555-.337A5.972 5.972 0 0 1 5.41 20.97a5.969 5.969 0 0 1-.474-.065 4.48 4.48 0 0 0 .978-2.025c.09-.457-.133-.901-.467-1.226C3.93 16.178 3 14.189 3 12c0-4.556 4.03-8.25 9-8.25s9 3.694 9 8.25Z" strokeLinecap="round" strokeLinejoin="round" /></svg>
            <p className="text-sm">{t.emptyChat}</p>
          </div>
        )}
        <ol className="space-y-1">
          {messages.map((m, i) => {
            const prev = messages[i - 1];
            const newDay = !prev || dayKey(prev.createdAt) !== dayKey(m.createdAt);
            const grouped = !newDay && prev && prev.senderId === m.senderId && m.createdAt - prev.createdAt < 5 * 60_000;
            const next = messages[i + 1];
            const endsGroup = !next || next.senderId !== m.senderId || next.createdAt - m.createdAt >= 5 * 60_000 || dayKey(next.createdAt) !== dayKey(m.createdAt);
            return (
              <Fragment key={keyOf(m)}>
                {newDay && (
                  <li data-testid="day-separator" className="flex items-center gap-3 py-3 text-xs font-medium text-slate-500">
                    <span className="h-px flex-1 bg-slate-200" aria-hidden="true" />
                    {dayLabel(m.createdAt, lang, t)}
                    <span className="h-px flex-1 bg-slate-200" aria-hidden="true" />
                  </li>
                )}
                <MessageRow m={m} mine={m.senderId === me.id} grouped={!!grouped} showTime={endsGroup || m.status !== "sent"} sender={users[m.senderId]}
                  read={readSeq != null && m.seq === readSeq} onRetry={() => onSend(m.msg, m.clientId)} />
              </Fragment>
            );
          })}
        </ol>
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
      {awayFromBottom && (
        <div className="relative">
          <button onClick={toBottom} data-testid="jump-to-latest" aria-label={t.jumpToLatest} title={t.jumpToLatest}
            className="absolute -top-14 right-5 flex h-10 w-10 items-center justify-center rounded-full bg-white text-slate-600 shadow-lg ring-1 ring-slate-200 transition hover:text-indigo-600 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
            <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M19.5 13.5 12 21m0 0-7.5-7.5M12 21V3" strokeLinecap="round" strokeLinejoin="round" /></svg>
          </button>
        </div>
      )}
      <Composer onSend={(text) => onSend(text)} onTyping={onTyping} />
    </section>
  );
}

function MessageRow({ m, mine, grouped, showTime, sender, read, onRetry }: {
  m: LocalMessage; mine: boolean; grouped: boolean; showTime: boolean; sender: User | undefined; read: boolean; onRetry: () => void;
}) {
  const { t, lang } = useI18n();
  const name = mine ? t.me : sender?.displayName ?? m.user;
  return (
    <li data-testid="message" data-seq={m.seq ?? ""} data-client-id={m.clientId} data-status={m.status} data-mine={mine ? "true" : "false"}
      className={`flex gap-2 ${mine ? "justify-end" : "justify-start"} ${grouped ? "" : "pt-3"}`}>
      {!mine && (
        <span className="w-8 shrink-0">
          {!grouped && <Avatar id={m.senderId} name={sender?.displayName ?? m.user} url={sender?.avatarUrl ?? null} size="sm" />}
        </span>
      )}
      <div className={`flex max-w-[78%] flex-col md:max-w-[65%] ${mine ? "items-end" : "items-start"}`}>
        {!grouped && (
          <span className="mb-0.5 px-1 text-xs font-medium text-slate-500" data-testid="message-sender">{name}</span>
        )}
        <div className={`flex items-end gap-1.5 ${mine ? "flex-row-reverse" : ""}`}>
          <p data-testid="message-text"
            className={`whitespace-pre-wrap break-words rounded-2xl px-3.5 py-2 text-[15px] leading-snug shadow-sm [overflow-wrap:anywhere] ${
              mine
                ? `rounded-br-md bg-indigo-600 text-white ${m.status === "pending" ? "opacity-70" : ""} ${m.status === "failed" ? "bg-rose-500" : ""}`
                : "rounded-bl-md bg-white text-slate-800 ring-1 ring-slate-200"}`}>
            {m.msg}
          </p>
          <time className={`shrink-0 pb-0.5 text-[11px] text-slate-500 ${showTime ? "" : "sr-only"}`} dateTime={new Date(m.createdAt).toISOString()}>{timeOf(m.createdAt, lang)}</time>
        </div>
        {mine && m.status === "pending" && (
          <span className="mt-0.5 px-1 text-[11px] text-slate-500" data-testid="message-pending">{t.pending}</span>
        )}
        {mine && m.status === "failed" && (
          <span className="mt-0.5 flex items-center gap-2 px-1 text-[11px] text-rose-600" role="alert">
            {t.failed}
            <button onClick={onRetry} data-testid="retry-button"
              className="rounded-md bg-rose-50 px-2 py-0.5 font-semibold text-rose-700 hover:bg-rose-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-rose-500/50">
              {t.retry}
            </button>
          </span>
        )}
        {mine && read && m.status === "sent" && (
          <span className="mt-0.5 px-1 text-[11px] font-medium text-indigo-600" data-testid="read-receipt">{t.read}</span>
        )}
      </div>
    </li>
  );
}

function Composer({ onSend, onTyping }: { onSend: (text: string) => void; onTyping: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = Math.min(el.scrollHeight, 160) + "px";
  }, [text]);

  const submit = () => {
    if (!text.trim()) return;
    onSend(text);
    setText("");
    ref.current?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  };
  return (
    <form onSubmit={(e) => { e.preventDefault(); submit(); }} className="flex items-end gap-2 border-t border-slate-200 bg-white px-3 py-3 md:px-5">
      <label className="min-w-0 flex-1">
        <span className="sr-only">{t.messagePlaceholder}</span>
        <textarea ref={ref} rows={1} value={text} maxLength={4000} data-testid="composer" aria-label={t.messagePlaceholder}
          placeholder={t.messagePlaceholder} autoFocus
          onChange={(e) => { setText(e.target.value); if (e.target.value) onTyping(); }} onKeyDown={onKeyDown}
          className="block max-h-40 w-full resize-none rounded-2xl border border-slate-200 bg-slate-50 px-4 py-2.5 text-[15px] leading-snug outline-none transition focus:border-indigo-500 focus:bg-white focus:ring-4 focus:ring-indigo-500/15" />
      </label>
      <button type="submit" disabled={!text.trim()} data-testid="send-button" aria-label={t.send}
        className="flex h-11 w-11 shrink-0 items-center justify-center rounded-full bg-indigo-600 text-white shadow-md shadow-indigo-600/25 transition hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 disabled:bg-slate-300 disabled:shadow-none">
        <svg viewBox="0 0 24 24" className="h-5 w-5" fill="currentColor" aria-hidden="true"><path d="M3.478 2.404a.75.75 0 0 0-.926.941l2.432 7.905H13.5a.75.75 0 0 1 0 1.5H4.984l-2.432 7.905a.75.75 0 0 0 .926.94 60.519 60.519 0 0 0 18.445-8.986.75.75 0 0 0 0-1.218A60.517 60.517 0 0 0 3.478 2.404Z" /></svg>
      </button>
    </form>
  );
}
