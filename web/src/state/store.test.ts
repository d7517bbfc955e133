import { describe, expect, it } from "vitest";
import type { Conversation, Message, User } from "../types";
import { initialState, reducer, type State } from "./store";
import { LIFECYCLE } from "./testFixtures";

const me: User = { id: "1", username: "alice", displayName: "Alice", avatarUrl: null, statusMessage: "", online: true, lastSeenAt: null };
const bob: User = { id: "2", username: "bob", displayName: "Bob", avatarUrl: null, statusMessage: "", online: false, lastSeenAt: 5 };
const m = (seq: number, senderId = "2", clientId = `c${seq}`): Message =>
  ({ id: `m${seq}`, conversationId: "d1", seq, senderId, user: senderId === "1" ? "alice" : "bob", msg: `m${seq}`, clientId, createdAt: 1000 + seq, ...LIFECYCLE, rev: seq });
const conv = (over: Partial<Conversation> = {}): Conversation =>
  ({ id: "d1", kind: "direct", peer: bob, lastMessage: null, unreadCount: 0, lastReadSeq: 0, peerLastReadSeq: 0, title: null, ownerId: null, memberCount: 2, rev: 0, muted: false, createdAt: 0, lastActivityAt: 0, ...over });
const lobby: Conversation = { id: "lobby", kind: "lobby", peer: null, lastMessage: null, unreadCount: 0, lastReadSeq: 0, peerLastReadSeq: 0, title: null, ownerId: null, memberCount: 2, rev: 0, muted: false, createdAt: 0, lastActivityAt: 0 };

function start(): State {
  let s = reducer(initialState, { type: "signedIn", me });
  s = reducer(s, { type: "conversations", list: [conv(), lobby] });
  return s;
}

describe("reducer", () => {
  it("live messages update the list and unread counts once", () => {
    let s = start();
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(1)], visible: true });
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(1)], visible: true });
    expect(s.conversations.find((c) => c.id === "d1")!.unreadCount).toBe(1);
    expect(s.conversations[0].id).toBe("lobby");
  });

  it("a message in the open conversation is unread until it is seen on screen", () => {
    let s = start();
    s = reducer(s, { type: "open", conversationId: "d1" });
    s = reducer(s, { type: "history", conversationId: "d1", messages: [], hasMore: false, older: false });
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(1), m(2)], visible: true });
    expect(s.conversations.find((c) => c.id === "d1")!.unreadCount).toBe(2);
    expect(s.logs.d1.messages.map((x) => x.seq)).toEqual([1, 2]);
    // The list shows seq 1: one left.
    s = reducer(s, { type: "markRead", conversationId: "d1", seq: 1 });
    expect(s.conversations.find((c) => c.id === "d1")!.unreadCount).toBe(1);
    s = reducer(s, { type: "markRead", conversationId: "d1", seq: 2 });
    expect(s.conversations.find((c) => c.id === "d1")!.unreadCount).toBe(0);
  });

  it("catch-up after reconnect adds only what is missing", () => {
    let s = start();
    s = reducer(s, { type: "open", conversationId: "d1" });
    s = reducer(s, { type: "history", conversationId: "d1", messages: [m(1), m(2)], hasMore: false, older: false });
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(2), m(3), m(4)], visible: true });
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(4)], visible: true });
    expect(s.logs.d1.messages.map((x) => x.seq)).toEqual([1, 2, 3, 4]);
  });

  it("optimistic send: pending then reconciled by the stored message", () => {
    let s = start();
    s = reducer(s, { type: "open", conversationId: "d1" });
    s = reducer(s, { type: "pending", message: { conversationId: "d1", clientId: "k", msg: "hi", senderId: "1", user: "alice", createdAt: 1 } });
    expect(s.logs.d1.messages[0].status).toBe("pending");
    s = reducer(s, { type: "sendFailed", conversationId: "d1", clientId: "k" });
    expect(s.logs.d1.messages[0].status).toBe("failed");
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(1, "1", "k")], visible: true });
    expect(s.logs.d1.messages).toHaveLength(1);
    expect(s.logs.d1.messages[0]).toMatchObject({ seq: 1, status: "sent" });
  });

  it("read events move the peer's mark forward only", () => {
    let s = start();
    s = reducer(s, { type: "peerRead", conversationId: "d1", userId: "2", seq: 5 });
    s = reducer(s, { type: "peerRead", conversationId: "d1", userId: "2", seq: 3 });
    expect(s.conversations.find((c) => c.id === "d1")!.peerLastReadSeq).toBe(5);
  });

  it("user and presence events update the peer everywhere", () => {
    let s = start();
    s = reducer(s, { type: "user", user: { ...bob, displayName: "Bobby", avatarUrl: "/a/2/1" } });
    expect(s.conversations.find((c) => c.id === "d1")!.peer!.displayName).toBe("Bobby");
    expect(s.users["2"].avatarUrl).toBe("/a/2/1");
    s = reducer(s, { type: "presence", event: { userId: "2", online: true, lastSeenAt: null } });
    expect(s.users["2"].online).toBe(true);
    expect(s.conversations.find((c) => c.id === "d1")!.peer!.online).toBe(true);
  });

  it("typing shows until it expires and ends with a message", () => {
    let s = start();
    s = reducer(s, { type: "typing", conversationId: "d1", userId: "2", until: 3000 });
    expect(s.typing.d1["2"]).toBe(3000);
    s = reducer(s, { type: "typingExpire", now: 2000 });
    expect(s.typing.d1["2"]).toBe(3000);
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(1)], visible: true });
    expect(s.typing.d1["2"]).toBeUndefined();
    s = reducer(s, { type: "typing", conversationId: "d1", userId: "2", until: 3000 });
    s = reducer(s, { type: "typingExpire", now: 4000 });
    expect(s.typing.d1["2"]).toBeUndefined();
  });

  it("live messages during the first page load are kept", () => {
    let s = start();
    s = reducer(s, { type: "open", conversationId: "d1" });
    s = reducer(s, { type: "messages", conversationId: "d1", messages: [m(3)], visible: true });
    s = reducer(s, { type: "history", conversationId: "d1", messages: [m(1), m(2)], hasMore: false, older: false });
    expect(s.logs.d1.messages.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(s.logs.d1.loaded).toBe(true);
  });
});
