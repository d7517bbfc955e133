// Desktop notifications and the unread total: which messages deserve a
// notification (someone else's, while the tab is hidden, in a conversation the
// user has not muted) and the count shown in the tab title.
import type { Conversation, Message } from "./types";

export type Permission = NotificationPermission | "unsupported";

export function notificationPermission(): Permission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** Unread messages of every conversation that is not muted. */
export function unreadTotal(conversations: Conversation[]): number {
  return conversations.reduce((n, c) => n + (c.muted ? 0 : c.unreadCount), 0);
}

export function shouldNotify(m: Message, meId: string, conversation: Conversation | undefined, hidden: boolean): boolean {
  return hidden && m.senderId !== meId && m.type === "text" && !!conversation && !conversation.muted;
}

/** Shows one notification per conversation (a newer one replaces it); a click focuses the tab and opens the chat. */
export function notify(title: string, body: string, conversationId: string, open: (id: string) => void) {
  if (notificationPermission() !== "granted") return;
  try {
    const n = new Notification(title, { body: body.slice(0, 200), tag: `natter-${conversationId}` });
    n.onclick = () => { window.focus(); open(conversationId); n.close(); };
  } catch { /* some browsers only allow notifications from a service worker */ }
}
