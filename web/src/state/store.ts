// The whole client state as one pure reducer: sockets, fetches and timers live
// in the hooks under src/hooks/ and only dispatch actions here.
import type { Conversation, Message, PresenceEvent, User } from "../types";
import {
  addPending, applyHistoryPage, applyMessageToConversation, countUnread, emptyLog, lastStoredSeq, markReadUpTo,
  mergeMessages, setStatus, sortConversations, upsertConversation, type ChatLog, type LocalMessage,
} from "./messages";

export type ConnectionState = "connecting" | "connected" | "disconnected";

export interface State {
  me: User | null;
  users: Record<string, User>;
  conversations: Conversation[];
  logs: Record<string, ChatLog>;
  /** conversationId -> userId -> time (ms) until which "typing" shows */
  typing: Record<string, Record<string, number>>;
  connection: ConnectionState;
  activeId: string | null;
}

export const initialState: State = {
  me: null, users: {}, conversations: [], logs: {}, typing: {}, connection: "connecting", activeId: null,
};

export type Action =
  | { type: "signedIn"; me: User }
  | { type: "signedOut" }
  | { type: "conversations"; list: Conversation[] }
  | { type: "conversation"; conversation: Conversation }
  | { type: "history"; conversationId: string; messages: Message[]; hasMore: boolean; older: boolean }
  | { type: "messages"; conversationId: string; messages: Message[]; visible: boolean }
  | { type: "pending"; message: Omit<LocalMessage, "status" | "seq" | "id"> }
  | { type: "sendFailed"; conversationId: string; clientId: string; code?: string }
  | { type: "peerRead"; conversationId: string; userId: string; seq: number }
  | { type: "markRead"; conversationId: string; seq: number }
  | { type: "typing"; conversationId: string; userId: string; until: number }
  | { type: "typingExpire"; now: number }
  | { type: "presence"; event: PresenceEvent }
  | { type: "user"; user: User }
  | { type: "users"; users: User[] }
  | { type: "connection"; state: ConnectionState }
  | { type: "open"; conversationId: string | null };

function withUsers(users: Record<string, User>, list: User[]): Record<string, User> {
  let next = users;
  for (const u of list) {
    const old = next[u.id];
    if (old && old.displayName === u.displayName && old.avatarUrl === u.avatarUrl && old.online === u.online &&
      old.statusMessage === u.statusMessage && old.lastSeenAt === u.lastSeenAt) continue;
    if (next === users) next = { ...users };
    next[u.id] = u;
  }
  return next;
}

function patchPeer(list: Conversation[], user: User): Conversation[] {
  let changed = false;
  const next = list.map((c) => {
    if (c.peer && c.peer.id === user.id) { changed = true; return { ...c, peer: user }; }
    return c;
  });
  return changed ? next : list;
}

export function reducer(state: State, a: Action): State {
  switch (a.type) {
    case "signedIn":
      return { ...state, me: a.me, users: withUsers(state.users, [a.me]) };
    case "signedOut":
      return { ...initialState };
    case "conversations": {
      let list = state.conversations.filter((c) => a.list.some((x) => x.id === c.id));
      // The server's unread counts win, but for read marks of mine it has not seen yet.
      for (const c of a.list) list = upsertConversation(list, c);
      const peers = a.list.map((c) => c.peer).filter((p): p is User => !!p);
      return { ...state, conversations: sortConversations(list), users: withUsers(state.users, peers) };
    }
    case "conversation": {
      const peers = a.conversation.peer ? [a.conversation.peer] : [];
      return { ...state, conversations: upsertConversation(state.conversations, a.conversation), users: withUsers(state.users, peers) };
    }
    case "history": {
      const log = state.logs[a.conversationId] ?? emptyLog();
      return { ...state, logs: { ...state.logs, [a.conversationId]: applyHistoryPage(log, a.messages, a.hasMore, a.older) } };
    }
    case "messages": {
      if (a.messages.length === 0 || !state.me) return state;
      const meId = state.me.id;
      // Messages from others count as unread until they are actually seen on screen
      // (the chat view reports what it shows; see "markRead").
      const viewing = false;
      const log = state.logs[a.conversationId];
      const logs = log ? { ...state.logs, [a.conversationId]: { ...log, messages: mergeMessages(log.messages, a.messages) } } : state.logs;
      let conversations = state.conversations;
      const i = conversations.findIndex((c) => c.id === a.conversationId);
      if (i >= 0) {
        let c = conversations[i];
        for (const m of [...a.messages].sort((x, y) => x.seq - y.seq)) c = applyMessageToConversation(c, m, meId, viewing);
        if (c !== conversations[i]) {
          conversations = conversations.slice();
          conversations[i] = c;
          conversations = sortConversations(conversations);
        }
      }
      // A message from someone ends their typing indicator.
      let typing = state.typing;
      const t = typing[a.conversationId];
      if (t && a.messages.some((m) => t[m.senderId])) {
        const rest = { ...t };
        for (const m of a.messages) delete rest[m.senderId];
        typing = { ...typing, [a.conversationId]: rest };
      }
      return { ...state, logs, conversations, typing };
    }
    case "pending": {
      const id = a.message.conversationId;
      const log = state.logs[id] ?? emptyLog();
      return { ...state, logs: { ...state.logs, [id]: { ...log, messages: addPending(log.messages, a.message) } } };
    }
    case "sendFailed": {
      const log = state.logs[a.conversationId];
      if (!log) return state;
      return { ...state, logs: { ...state.logs, [a.conversationId]: { ...log, messages: setStatus(log.messages, a.clientId, "failed", a.code) } } };
    }
    case "peerRead": {
      if (state.me && a.userId === state.me.id) {
        return reducer(state, { type: "markRead", conversationId: a.conversationId, seq: a.seq });
      }
      const conversations = state.conversations.map((c) =>
        c.id === a.conversationId && a.seq > c.peerLastReadSeq ? { ...c, peerLastReadSeq: a.seq } : c);
      return { ...state, conversations };
    }
    case "markRead": {
      const log = state.logs[a.conversationId];
      const meId = state.me?.id ?? "";
      const conversations = state.conversations.map((c) => {
        if (c.id !== a.conversationId) return c;
        const seq = Math.max(c.lastReadSeq, a.seq);
        // What is still unread after the mark, when we hold the history up to the latest.
        const held = log && log.loaded && (c.lastMessage?.seq ?? 0) <= lastStoredSeq(log.messages);
        return markReadUpTo(c, a.seq, held ? countUnread(log.messages, meId, seq) : 0);
      });
      return { ...state, conversations };
    }
    case "typing": {
      const cur = state.typing[a.conversationId] ?? {};
      return { ...state, typing: { ...state.typing, [a.conversationId]: { ...cur, [a.userId]: a.until } } };
    }
    case "typingExpire": {
      let changed = false;
      const typing: State["typing"] = {};
      for (const [cid, m] of Object.entries(state.typing)) {
        const rest: Record<string, number> = {};
        for (const [uid, until] of Object.entries(m)) {
          if (until > a.now) rest[uid] = until;
          else changed = true;
        }
        typing[cid] = rest;
      }
      return changed ? { ...state, typing } : state;
    }
    case "presence": {
      const e = a.event;
      const patch = (u: User): User => ({ ...u, online: e.online, lastSeenAt: e.lastSeenAt });
      const old = state.users[e.userId];
      const users = old ? { ...state.users, [e.userId]: patch(old) } : state.users;
      const conversations = state.conversations.map((c) => (c.peer && c.peer.id === e.userId ? { ...c, peer: patch(c.peer) } : c));
      const me = state.me && state.me.id === e.userId ? patch(state.me) : state.me;
      return { ...state, users, conversations, me };
    }
    case "user": {
      const me = state.me && state.me.id === a.user.id ? a.user : state.me;
      return { ...state, me, users: { ...state.users, [a.user.id]: a.user }, conversations: patchPeer(state.conversations, a.user) };
    }
    case "users":
      return { ...state, users: withUsers(state.users, a.users) };
    case "connection":
      return state.connection === a.state ? state : { ...state, connection: a.state };
    case "open": {
      // An open conversation gets a log at once, so live messages that arrive
      // while its first page is loading are kept and merged with that page.
      const id = a.conversationId;
      const logs = id && !state.logs[id] ? { ...state.logs, [id]: emptyLog() } : state.logs;
      return { ...state, activeId: id, logs };
    }
  }
}
