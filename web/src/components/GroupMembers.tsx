// A group's members panel, opened from the chat header: everyone with avatar and
// presence, the owner marked, "add people" (a directory search with the same
// multi-select as group creation) and, for the owner, removing a member.
import { useEffect, useState } from "react";
import { api, ApiError } from "../api";
import { presenceText } from "../format";
import { dropMembers, useGroupMembers } from "../groupMembers";
import { errorText, useI18n } from "../i18n";
import type { Conversation, User } from "../types";
import { Avatar } from "./Avatar";
import { ConfirmDialog } from "./Sidebar";

const codeOf = (e: unknown) => (e instanceof ApiError ? e.code : "unknown");

export function GroupMembers({ c, me, users, connected, onLoaded, onOpen }: {
  c: Conversation; me: User; users: Record<string, User>; connected: boolean;
  onLoaded: (list: User[]) => void; onOpen: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  const members = useGroupMembers(c);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<User | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Into the store, where live presence keeps them current.
  useEffect(() => { if (members) onLoaded(members.map((m) => m.user)); }, [members, onLoaded]);
  const iOwn = c.ownerId === me.id;
  const list = (members ?? []).map((m) => (m.user.id === me.id ? { ...me, online: true } : users[m.user.id] ?? m.user));
  list.sort((a, b) => Number(b.id === c.ownerId) - Number(a.id === c.ownerId) || Number(b.online) - Number(a.online) || a.displayName.localeCompare(b.displayName));
  const remove = (u: User) => {
    api.removeMember(c.id, u.id).then(() => { dropMembers(c.id); setError(null); }).catch((e) => setError(codeOf(e)));
  };
  return (
    <div data-testid="group-members" className="max-h-[45%] overflow-y-auto border-b border-slate-200 bg-white px-3 py-2 scroll-thin md:px-5">
      <div className="flex items-center gap-2 px-1 pb-1">
        <p className="flex-1 text-xs font-semibold text-slate-500">{t.membersOf(c.memberCount)}</p>
        <button type="button" onClick={() => setAdding((v) => !v)} aria-expanded={adding} data-testid="group-add-people"
          className="rounded-lg bg-indigo-50 px-2 py-1 text-xs font-semibold text-indigo-700 hover:bg-indigo-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">{t.addPeople}</button>
      </div>
      {adding && <AddPeople c={c} memberIds={list.map((u) => u.id)} onDone={() => setAdding(false)} />}
      {error && <p role="alert" className="px-1 text-sm text-rose-700">{errorText(t, error)}</p>}
      <ul className="grid grid-cols-1 gap-0.5 sm:grid-cols-2">
        {list.map((u) => (
          <li key={u.id} data-testid="group-member" data-username={u.username} data-owner={u.id === c.ownerId ? "true" : "false"}
            className="flex items-center gap-2 rounded-lg px-2 py-1.5 hover:bg-slate-50">
            <button type="button" onClick={() => { if (u.id !== me.id) onOpen(u.id); }}
              className="flex min-w-0 flex-1 items-center gap-2 text-left focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
              <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size="sm" online={connected ? u.online : null} />
              <span className="min-w-0 flex-1">
                <span className="block truncate text-sm font-medium">
                  {u.id === me.id ? `${u.displayName} (${t.me})` : u.displayName}
                  {u.id === c.ownerId && <span data-testid="member-owner" className="ml-1.5 rounded bg-amber-100 px-1 py-0.5 text-[10px] font-semibold text-amber-800">{t.owner}</span>}
                </span>
                <span className="block truncate text-[11px] text-slate-500">{connected ? presenceText(u, lang, t) : ""}</span>
              </span>
            </button>
            {iOwn && u.id !== me.id && (
              <button type="button" onClick={() => setRemoving(u)} data-testid="group-member-remove" aria-label={`${t.removeMember}: ${u.displayName}`}
                className="shrink-0 rounded-lg px-2 py-1 text-xs text-rose-700 hover:bg-rose-50">{t.removeMember}</button>
            )}
          </li>
        ))}
      </ul>
      {removing && (
        <ConfirmDialog text={t.removeConfirm(removing.displayName)} confirm={t.removeMember} onCancel={() => setRemoving(null)}
          onConfirm={() => { const u = removing; setRemoving(null); remove(u); }} />
      )}
    </div>
  );
}

/** Picking people who are not members yet, and adding them in one request. */
function AddPeople({ c, memberIds, onDone }: { c: Conversation; memberIds: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const [results, setResults] = useState<User[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const h = setTimeout(() => {
      api.users(q.trim(), null, 20).then((r) => { if (!stop) { setResults(r.users); setError(null); } }).catch((e) => { if (!stop) setError(codeOf(e)); });
    }, q ? 200 : 0);
    return () => { stop = true; clearTimeout(h); };
  }, [q]);
  const add = () => {
    api.addMembers(c.id, picked).then(() => { dropMembers(c.id); onDone(); }).catch((e) => setError(codeOf(e)));
  };
  const candidates = results.filter((u) => !memberIds.includes(u.id));
  return (
    <form data-testid="group-add-form" className="mb-2 rounded-xl bg-indigo-50 p-2" onSubmit={(e) => { e.preventDefault(); if (picked.length) add(); }}>
      <div className="flex items-center gap-2">
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder={t.searchPlaceholder} aria-label={t.searchPeople}
          data-testid="group-add-search" className="min-w-0 flex-1 rounded-lg border border-slate-200 px-2 py-1 text-sm" />
        <button type="submit" disabled={picked.length === 0} data-testid="group-add-submit"
          className="rounded-lg bg-indigo-600 px-3 py-1 text-xs font-semibold text-white disabled:opacity-50">{t.addPicked(picked.length)}</button>
      </div>
      {error && <p role="alert" className="pt-1 text-xs text-rose-700">{errorText(t, error)}</p>}
      <ul className="mt-1 max-h-40 overflow-y-auto scroll-thin">
        {candidates.map((u) => (
          <li key={u.id}>
            <label data-testid="group-add-result" data-username={u.username} className="flex items-center gap-2 rounded-lg px-2 py-1 hover:bg-white">
              <input type="checkbox" data-testid="group-pick" checked={picked.includes(u.id)}
                onChange={(e) => setPicked((p) => (e.target.checked ? [...p, u.id] : p.filter((x) => x !== u.id)))}
                className="h-4 w-4 shrink-0 accent-indigo-600" />
              <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size="sm" />
              <span className="min-w-0 flex-1 truncate text-sm">{u.displayName} <span className="text-xs text-slate-500">@{u.username}</span></span>
            </label>
          </li>
        ))}
      </ul>
    </form>
  );
}

/** Up to three member avatars, overlapping, for a group's row in the list. */
export function GroupAvatars({ c, users }: { c: Conversation; users: Record<string, User> }) {
  const members = useGroupMembers(c);
  const shown = (members ?? []).slice(0, 3).map((m) => users[m.user.id] ?? m.user);
  if (shown.length === 0) return <Avatar id={c.id} name={c.title ?? "?"} url={null} />;
  return (
    <span data-testid="group-avatars" data-count={shown.length} className="relative flex h-11 w-11 shrink-0 items-center" aria-hidden="true">
      {shown.map((u, i) => (
        <span key={u.id} className="absolute rounded-full ring-2 ring-white" style={{ left: i * 6, top: i % 2 === 0 ? 2 : 10, zIndex: 3 - i }}>
          <Avatar id={u.id} name={u.displayName} url={u.avatarUrl} size="sm" />
        </span>
      ))}
    </span>
  );
}
