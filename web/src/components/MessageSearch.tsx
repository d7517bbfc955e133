// Message search in the sidebar: a search box above the conversation list;
// from two characters on, the results (newest first, grouped by conversation)
// replace the list, and choosing one opens its conversation at that message.
import { useEffect, useRef, useState } from "react";
import { api, ApiError } from "../api";
import { listTime } from "../format";
import { errorText, useI18n } from "../i18n";
import type { Conversation, Message, User } from "../types";

interface Props {
  q: string;
  setQ: (q: string) => void;
}

export function MessageSearchBox({ q, setQ }: Props) {
  const { t } = useI18n();
  return (
    <div className="px-4 pt-3">
      <label className="relative block">
        <span className="sr-only">{t.searchMessages}</span>
        <svg viewBox="0 0 24 24" className="pointer-events-none absolute left-3 top-1/2 h-4 w-4 -translate-y-1/2 text-slate-500" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="m21 21-4.3-4.3M17 10.5a6.5 6.5 0 1 1-13 0 6.5 6.5 0 0 1 13 0Z" strokeLinecap="round" /></svg>
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t.searchMessagesPlaceholder}
          data-testid="message-search" aria-label={t.searchMessages} maxLength={100}
          onKeyDown={(e) => { if (e.key === "Escape") setQ(""); }}
          className="w-full rounded-xl border border-slate-200 bg-slate-50 py-2 pl-9 pr-3 text-sm outline-none transition focus:border-indigo-500 focus:bg-white focus:ring-4 focus:ring-indigo-500/15" />
      </label>
    </div>
  );
}

/** Results in groups of consecutive conversations, in the server's (newest-first) order. */
export function groupByConversation(messages: Message[]): { conversationId: string; messages: Message[] }[] {
  const groups: { conversationId: string; messages: Message[] }[] = [];
  const index = new Map<string, number>();
  for (const m of messages) {
    const i = index.get(m.conversationId);
    if (i == null) { index.set(m.conversationId, groups.length); groups.push({ conversationId: m.conversationId, messages: [m] }); }
    else groups[i].messages.push(m);
  }
  return groups;
}

export function MessageSearchResults({ q, conversations, users, onJump }: {
  q: string; conversations: Conversation[]; users: Record<string, User>;
  onJump: (conversationId: string, seq: number) => void;
}) {
  const { t, lang } = useI18n();
  const [results, setResults] = useState<Message[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const query = q.trim();
  useEffect(() => {
    const n = ++seq.current;
    setError(null);
    const h = setTimeout(() => {
      api.search(query).then((r) => { if (n === seq.current) { setResults(r.messages); setCursor(r.nextCursor); } })
        .catch((e) => { if (n === seq.current) setError(e instanceof ApiError ? e.code : "unknown"); });
    }, 250);
    return () => clearTimeout(h);
  }, [query]);
  const more = () => {
    const n = seq.current;
    api.search(query, cursor).then((r) => {
      if (n !== seq.current) return;
      setResults((old) => [...(old ?? []), ...r.messages]);
      setCursor(r.nextCursor);
    }).catch((e) => setError(e instanceof ApiError ? e.code : "unknown"));
  };
  const name = (id: string) => {
    const c = conversations.find((x) => x.id === id);
    if (!c || c.kind === "lobby") return t.lobby;
    return c.title ?? (c.peer ? users[c.peer.id]?.displayName ?? c.peer.displayName : "?");
  };
  return (
    <section aria-label={t.searchMessages} data-testid="message-search-results" className="px-2 py-2">
      {error && <p role="alert" className="px-4 py-2 text-sm text-rose-600">{errorText(t, error)}</p>}
      {results && results.length === 0 && <p className="px-4 py-6 text-center text-sm text-slate-500">{t.noMessagesFound}</p>}
      <div aria-live="polite">
        {results && groupByConversation(results).map((g) => (
          <div key={g.conversationId} data-testid="search-group" data-conversation-id={g.conversationId} className="mb-2">
            <h3 className="px-3 pb-1 pt-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{name(g.conversationId)}</h3>
            <ul className="space-y-0.5">
              {g.messages.map((m) => (
                <li key={m.id}>
                  <button onClick={() => onJump(m.conversationId, m.seq)} data-testid="search-result" data-seq={m.seq}
                    className="w-full rounded-xl px-3 py-2 text-left transition hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
                    <span className="flex items-baseline gap-2">
                      <span className="min-w-0 flex-1 truncate text-sm font-medium text-slate-800">{users[m.senderId]?.displayName ?? m.user}</span>
                      <time className="shrink-0 text-xs text-slate-500" dateTime={new Date(m.createdAt).toISOString()}>{listTime(m.createdAt, lang)}</time>
                    </span>
                    <span className="mt-0.5 block truncate text-sm text-slate-600"><Highlighted text={m.msg} q={query} /></span>
                  </button>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </div>
      {cursor && (
        <button data-testid="search-more" onClick={more}
          className="w-full rounded-xl py-2 text-sm font-medium text-indigo-600 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          {t.more}
        </button>
      )}
    </section>
  );
}

/** The text with the first case-insensitive occurrence of `q` marked. */
function Highlighted({ text, q }: { text: string; q: string }) {
  const i = text.toLowerCase().indexOf(q.toLowerCase());
  if (i < 0 || !q) return <>{text}</>;
  // Start a little before the match so it stays visible in a truncated line.
  const from = Math.max(0, i - 20);
  return (
    <>{from > 0 ? "…" : ""}{text.slice(from, i)}<mark className="rounded bg-amber-100 px-0.5 text-slate-900">{text.slice(i, i + q.length)}</mark>{text.slice(i + q.length)}</>
  );
}
