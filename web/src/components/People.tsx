// Other people: someone's profile (/u/<id>) and the lobby's member list.
import { useEffect, useState, type MutableRefObject } from "react";
import type { Socket } from "socket.io-client";
import { api, ApiError } from "../api";
import { usePresenceWatch } from "../hooks/usePresenceWatch";
import { presenceText } from "../format";
import { errorText, useI18n } from "../i18n";
import type { User } from "../types";
import { Avatar } from "./Avatar";
import { ConfirmDialog } from "./Sidebar";

export function UserProfile({ id, users, connected, socketRef, blocked, onBack, onMessage, onLoaded, onBlock }: {
  id: string; users: Record<string, User>; connected: boolean; socketRef: MutableRefObject<Socket | null>; blocked: boolean; onBack: () => void;
  onMessage: (id: string) => Promise<void>; onLoaded: (u: User) => void; onBlock: (id: string, on: boolean) => Promise<void>;
}) {
  const { t, lang } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const fail = (e: unknown) => setError(e instanceof ApiError ? e.code : "unknown");
  const u = users[id];
  usePresenceWatch(socketRef, connected, [id]);
  useEffect(() => {
    let stop = false;
    api.user(id).then((r) => { if (!stop) onLoaded(r.user); }).catch((e) => { if (!stop) setError(e instanceof ApiError ? e.code : "unknown"); });
    return () => { stop = true; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  return (
    <section className="flex min-h-0 flex-1 flex-col" data-testid="user-profile" data-user-id={id} aria-labelledby="user-profile-title">
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-3 py-3 md:px-6">
        <button onClick={onBack} aria-label={t.back} data-testid="user-profile-back"
          className="rounded-lg p-2 text-slate-500 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M15.75 19.5 8.25 12l7.5-7.5" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </button>
        <h2 id="user-profile-title" className="text-lg font-semibold">{t.profile}</h2>
      </header>
      <div className="min-h-0 flex-1 overflow-y-auto px-4 py-8">
        {u ? (
          <div className="mx-auto flex max-w-sm flex-col items-center gap-3 rounded-2xl border border-slate-200 bg-white p-6 text-center shadow-sm">
            <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size="xl" online={connected ? u.online : null} />
            <div>
              <p className="text-xl font-semibold text-slate-900" data-testid="user-profile-name">{u.displayName}</p>
              <p className="text-sm text-slate-500">@{u.username}</p>
            </div>
            {u.statusMessage && <p className="text-sm text-slate-700">{u.statusMessage}</p>}
            <p className="text-xs text-slate-500" data-testid="user-profile-presence">{connected ? presenceText(u, lang, t) : t.waitingForNetwork}</p>
            <div className="mt-2 flex flex-wrap justify-center gap-2">
              <button onClick={() => { setError(null); onMessage(u.id).catch(fail); }} data-testid="user-profile-message"
                className="rounded-xl bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
                {t.startChat}
              </button>
              <button onClick={() => { setError(null); if (blocked) onBlock(u.id, false).catch(fail); else setConfirming(true); }}
                data-testid="user-profile-block" data-blocked={blocked ? "true" : "false"}
                className="rounded-xl border border-slate-200 px-4 py-2 text-sm font-semibold text-rose-700 hover:bg-rose-50 focus:outline-none focus-visible:ring-4 focus-visible:ring-rose-500/30">
                {blocked ? t.unblock : t.block}
              </button>
            </div>
            {error && <p role="alert" className="text-sm text-rose-700">{errorText(t, error)}</p>}
            {confirming && (
              <ConfirmDialog text={t.blockConfirm(u.displayName)} confirm={t.block} onCancel={() => setConfirming(false)}
                onConfirm={() => { setConfirming(false); onBlock(u.id, true).catch(fail); }} />
            )}
          </div>
        ) : error ? (
          <p role="alert" className="text-center text-sm text-rose-700">{error === "not_found" ? t.userNotFound : errorText(t, error)}</p>
        ) : (
          <p role="status" className="text-center text-sm text-slate-500">…</p>
        )}
      </div>
    </section>
  );
}

/** Everyone in the lobby, with presence (from GET /api/users, again after each reconnect;
 * live presence from the store, through a subscription to the users listed). */
export function LobbyMembers({ me, users, connected, socketRef, onLoaded, onOpen }: {
  me: User; users: Record<string, User>; connected: boolean; socketRef: MutableRefObject<Socket | null>;
  onLoaded: (list: User[]) => void; onOpen: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  const [ids, setIds] = useState<string[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  usePresenceWatch(socketRef, connected, ids ?? []);
  useEffect(() => {
    // Presence events missed while disconnected: load again once connected.
    if (!connected && ids !== null) return;
    let stop = false;
    api.users("", null, 100).then((r) => {
      if (stop) return;
      onLoaded(r.users);
      setIds(r.users.map((u) => u.id));
      setMore(!!r.nextCursor);
    }).catch((e) => { if (!stop) setError(e instanceof ApiError ? e.code : "unknown"); });
    return () => { stop = true; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [connected]);
  const list = [me, ...(ids ?? []).map((id) => users[id]).filter((u): u is User => !!u)];
  list.sort((a, b) => Number(b.online) - Number(a.online) || a.displayName.localeCompare(b.displayName));
  return (
    <div data-testid="lobby-members" className="max-h-[40%] overflow-y-auto border-b border-slate-200 bg-white px-3 py-2 scroll-thin md:px-5">
      <p className="px-1 pb-1 text-xs font-semibold text-slate-500">{ids ? t.membersOf(list.length) + (more ? "+" : "") : t.members}</p>
      {error && <p role="alert" className="text-sm text-rose-700">{errorText(t, error)}</p>}
      <ul className="grid grid-cols-1 gap-0.5 sm:grid-cols-2">
        {list.map((u) => (
          <li key={u.id}>
            <button onClick={() => { if (u.id !== me.id) onOpen(u.id); }} data-testid="lobby-member" data-username={u.username} data-online={u.online ? "true" : "false"}
              className="flex w-full items-center gap-2 rounded-lg px-2 py-1.5 text-left hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
              <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size="sm" online={connected ? (u.id === me.id ? true : u.online) : null} />
              <span className="min-w-0 flex-1">
                <span className="block truncate text-sm font-medium">{u.id === me.id ? `${u.displayName} (${t.me})` : u.displayName}</span>
                <span className="block truncate text-[11px] text-slate-500">{connected ? presenceText(u.id === me.id ? { ...u, online: true } : u, lang, t) : ""}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
