// A stored message's lifecycle in the chat view: the quote of the message it
// replies to, the "edited" mark, the tombstone text, reactions with counts and
// who reacted, and the sender's edit and delete actions. Changes go over HTTP;
// the result arrives for every tab as `message:update`.
import { useState, type KeyboardEvent } from "react";
import { api } from "../api";
import { errorText, useI18n, type T } from "../i18n";
import type { LocalMessage } from "../state/messages";
import type { Conversation, SystemInfo, User } from "../types";
import { ConfirmDialog } from "./Sidebar";

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

/** The inline editor that takes a message's bubble while its sender edits it:
 * Enter saves, Shift+Enter is a new line, Esc cancels. */
export function EditBox({ m, onDone }: { m: LocalMessage; onDone: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(m.msg);
  const [error, setError] = useState<string | null>(null);
  const save = () => {
    if (m.seq == null || text.trim() === "" || text === m.msg) { onDone(); return; }
    api.edit(m.conversationId, m.seq, text).then(onDone).catch((e: { code?: string }) => setError(e.code ?? "unknown"));
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Esc must not also close the chat around it.
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); onDone(); }
    else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) { e.preventDefault(); save(); }
  };
  return (
    <div className="flex w-full min-w-[16rem] flex-col gap-1" data-testid="edit-box">
      <textarea autoFocus value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} rows={2}
        aria-label={t.editMessage} data-testid="edit-input"
        className="block w-full resize-y rounded-xl border border-indigo-300 bg-white px-3 py-2 text-[15px] leading-snug outline-none focus:ring-4 focus:ring-indigo-500/15" />
      <div className="flex items-center justify-end gap-2 text-[11px] text-slate-500">
        <span className="mr-auto">{t.editHint}</span>
        <button type="button" onClick={onDone} data-testid="edit-cancel" className="rounded px-2 py-0.5 hover:bg-slate-100">{t.cancel}</button>
        <button type="button" onClick={save} data-testid="edit-save" className="rounded bg-indigo-600 px-2 py-0.5 font-semibold text-white hover:bg-indigo-700">{t.save}</button>
      </div>
      {error && <span role="alert" className="text-[11px] text-rose-700">{errorText(t, error)}</span>}
    </div>
  );
}

/** Reactions, the "edited" mark and the actions under a stored message. */
export function MessageTools({ m, meId, mine, users, onReply, onEdit }: {
  m: LocalMessage; meId: string; mine: boolean; users: Record<string, User>; onReply?: (m: LocalMessage) => void; onEdit?: () => void;
}) {
  const { t } = useI18n();
  const [picking, setPicking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (m.seq == null || m.type === "system") return null;
  const seq = m.seq;
  const run = (p: Promise<unknown>) => p.then(() => setError(null)).catch((e: { code?: string }) => setError(e.code ?? "unknown"));
  const toggle = (emoji: string) => {
    const held = m.reactions?.find((r) => r.emoji === emoji)?.userIds.includes(meId) ?? false;
    setPicking(false);
    void run(api.react(m.conversationId, seq, emoji, !held));
  };
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
          {mine && onEdit && <button type="button" onClick={onEdit} data-testid="edit-button" className="text-slate-500 hover:underline">{t.edit}</button>}
          {mine && <button type="button" onClick={() => setConfirming(true)} data-testid="delete-button" className="text-slate-500 hover:underline">{t.delete}</button>}
        </>
      )}
      {confirming && (
        <ConfirmDialog text={t.deleteConfirm} confirm={t.delete} onCancel={() => setConfirming(false)}
          onConfirm={() => { setConfirming(false); void run(api.remove(m.conversationId, seq)); }} />
      )}
      {error && <span role="alert" className="text-rose-700">{errorText(t, error)}</span>}
    </div>
  );
}

/** "Alice added Bob": a system message as a sentence, for the history and the list's preview. */
export function systemSentence(t: T, s: SystemInfo, name: (id: string) => string): string {
  return t.systemMessage(name(s.actorId), s.action, (s.userIds ?? []).map(name).join(", "), s.title ?? "");
}

/** A group's membership or title change, as one centred line. */
export function SystemLine({ m, users }: { m: LocalMessage; users: Record<string, User> }) {
  const { t } = useI18n();
  const s = m.system;
  if (!s) return null;
  const text = systemSentence(t, s, (id) => users[id]?.displayName ?? "…");
  return (
    <div data-testid="system-message" data-seq={m.seq ?? ""} data-action={s.action}
      className="px-3 py-2 text-center text-xs text-slate-500 md:px-6">{text}</div>
  );
}

/** Rename (an inline title field), members and leave (asked first), in a group's header. */
export function GroupActions({ c, onLeave, onMembers, membersOpen }: {
  c: Conversation; onLeave: () => Promise<void>; onMembers: () => void; membersOpen: boolean;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [title, setTitle] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const fail = (e: { code?: string }) => setError(e.code ?? "unknown");
  const rename = () => {
    if (title == null || title.trim() === "" || title === c.title) { setTitle(null); return; }
    api.rename(c.id, title).then(() => { setError(null); setTitle(null); }).catch(fail);
  };
  const button = "rounded-lg px-2 py-1 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50";
  return (
    <div className="flex shrink-0 flex-wrap items-center justify-end gap-1 text-xs">
      {title == null ? (
        <button type="button" onClick={() => setTitle(c.title ?? "")} data-testid="group-rename" className={`${button} text-slate-600`}>{t.renameGroup}</button>
      ) : (
        <form className="flex items-center gap-1" data-testid="group-rename-form" onSubmit={(e) => { e.preventDefault(); rename(); }}>
          <input autoFocus value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} aria-label={t.groupName} data-testid="group-rename-input"
            onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); setTitle(null); } }}
            className="w-40 rounded-lg border border-slate-200 px-2 py-1 text-sm" />
          <button type="submit" data-testid="group-rename-save" className="rounded-lg bg-indigo-600 px-2 py-1 font-semibold text-white">{t.save}</button>
          <button type="button" onClick={() => setTitle(null)} className={`${button} text-slate-600`}>{t.cancel}</button>
        </form>
      )}
      <button type="button" onClick={onMembers} aria-expanded={membersOpen} data-testid="group-members-toggle" className={`${button} text-slate-600`}>{t.members}</button>
      <button type="button" onClick={() => setConfirming(true)} data-testid="group-leave" className={`${button} text-rose-700 hover:bg-rose-50`}>{t.leaveGroup}</button>
      {confirming && (
        <ConfirmDialog text={t.leaveConfirm(c.title ?? "")} confirm={t.leaveGroup} onCancel={() => setConfirming(false)}
          onConfirm={() => { setConfirming(false); onLeave().catch(fail); }} />
      )}
      {error && <span role="alert" className="text-rose-700">{errorText(t, error)}</span>}
    </div>
  );
}
