// A stored message's lifecycle in the chat view: the quote of the message it
// replies to, the "edited" mark, the tombstone text, reactions with counts and
// who reacted, and the sender's edit and delete actions. Changes go over HTTP;
// the result arrives for every tab as `message:update`.
import { useState } from "react";
import { api } from "../api";
import { errorText, useI18n } from "../i18n";
import type { LocalMessage } from "../state/messages";
import type { Conversation, User } from "../types";

const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/** The quote above a reply; a click scrolls to the original when it is loaded. */
export function ReplyQuote({ m, users }: { m: LocalMessage; users: Record<string, User> }) {
  const { t } = useI18n();
  const r = m.replyTo;
  if (!r) return null;
  const jump = () => document.querySelector(`[data-testid="message"][data-seq="${r.seq}"]`)?.scrollIntoView({ block: "center" });
  return (
    <button type="button" onClick={jump} data-testid="reply-quote" data-seq={r.seq}
      className="mb-0.5 max-w-full truncate rounded-lg border-l-4 border-indigo-300 bg-slate-100 px-2 py-1 text-left text-xs text-slate-600">
      <span className="font-semibold">{users[r.senderId]?.displayName ?? "…"}</span>{" "}
      {r.msg === "" ? <em>{t.messageDeleted}</em> : r.msg}
    </button>
  );
}

export function isDeleted(m: LocalMessage): boolean {
  return m.deletedAt != null;
}

/** Reactions, the "edited" mark and the actions under a stored message. */
export function MessageTools({ m, meId, mine, users, onReply }: {
  m: LocalMessage; meId: string; mine: boolean; users: Record<string, User>; onReply?: (m: LocalMessage) => void;
}) {
  const { t } = useI18n();
  const [picking, setPicking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (m.seq == null || m.type === "system") return null;
  const seq = m.seq;
  const run = (p: Promise<unknown>) => p.then(() => setError(null)).catch((e: { code?: string }) => setError(e.code ?? "unknown"));
  const toggle = (emoji: string) => {
    const held = m.reactions?.find((r) => r.emoji === emoji)?.userIds.includes(meId) ?? false;
    setPicking(false);
    void run(api.react(m.conversationId, seq, emoji, !held));
  };
  const edit = () => {
    const text = window.prompt(t.editMessage, m.msg);
    if (text != null && text !== m.msg) void run(api.edit(m.conversationId, seq, text));
  };
  const remove = () => { if (window.confirm(t.deleteConfirm)) void run(api.remove(m.conversationId, seq)); };
  const deleted = isDeleted(m);
  return (
    <div className={`flex flex-wrap items-center gap-1 px-1 text-[11px] ${mine ? "justify-end" : ""}`}>
      {m.editedAt != null && !deleted && <span className="text-slate-500" data-testid="message-edited">{t.edited}</span>}
      {(m.reactions ?? []).map((r) => (
        <button key={r.emoji} type="button" onClick={() => toggle(r.emoji)} data-testid="reaction" data-emoji={r.emoji}
          title={r.userIds.map((id) => users[id]?.displayName ?? "…").join(", ")}
          className={`rounded-full px-1.5 py-0.5 ring-1 ${r.userIds.includes(meId) ? "bg-indigo-50 ring-indigo-300" : "bg-white ring-slate-200"}`}>
          {r.emoji} <span data-testid="reaction-count">{r.userIds.length}</span>
        </button>
      ))}
      {!deleted && (
        <>
          <button type="button" onClick={() => setPicking((p) => !p)} data-testid="react-button" aria-label={t.react}
            className="rounded-full px-1.5 py-0.5 text-slate-500 hover:bg-slate-100">☺︎+</button>
          {picking && QUICK_REACTIONS.map((e) => (
            <button key={e} type="button" onClick={() => toggle(e)} data-testid="reaction-choice" data-emoji={e}
              className="rounded-full px-1 py-0.5 hover:bg-slate-100">{e}</button>
          ))}
          {onReply && <button type="button" onClick={() => onReply(m)} data-testid="reply-button" className="text-slate-500 hover:underline">{t.reply}</button>}
          {mine && <button type="button" onClick={edit} data-testid="edit-button" className="text-slate-500 hover:underline">{t.edit}</button>}
          {mine && <button type="button" onClick={remove} data-testid="delete-button" className="text-slate-500 hover:underline">{t.delete}</button>}
        </>
      )}
      {error && <span role="alert" className="text-rose-700">{errorText(t, error)}</span>}
    </div>
  );
}

/** A group's membership or title change, as one centred line. */
export function SystemLine({ m, users }: { m: LocalMessage; users: Record<string, User> }) {
  const { t } = useI18n();
  const s = m.system;
  if (!s) return null;
  const name = (id: string) => users[id]?.displayName ?? "…";
  const text = t.systemMessage(name(s.actorId), s.action, (s.userIds ?? []).map(name).join(", "), s.title ?? "");
  return (
    <div data-testid="system-message" data-seq={m.seq ?? ""} data-action={s.action}
      className="px-3 py-2 text-center text-xs text-slate-500 md:px-6">{text}</div>
  );
}

/** Rename and leave, in a group's header. */
export function GroupActions({ c, meId, onLeft }: { c: Conversation; meId: string; onLeft: () => void }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const fail = (e: { code?: string }) => setError(e.code ?? "unknown");
  const rename = () => {
    const title = window.prompt(t.renameGroup, c.title ?? "");
    if (title != null && title.trim() !== "" && title !== c.title) api.rename(c.id, title).then(() => setError(null)).catch(fail);
  };
  const leave = () => { if (window.confirm(t.leaveGroup + "?")) api.leave(c.id, meId).then(onLeft).catch(fail); };
  return (
    <div className="flex shrink-0 items-center gap-1 text-xs">
      <button type="button" onClick={rename} data-testid="group-rename" className="rounded-lg px-2 py-1 text-slate-600 hover:bg-slate-100">{t.renameGroup}</button>
      <button type="button" onClick={leave} data-testid="group-leave" className="rounded-lg px-2 py-1 text-rose-700 hover:bg-rose-50">{t.leaveGroup}</button>
      {error && <span role="alert" className="text-rose-700">{errorText(t, error)}</span>}
    </div>
  );
}
