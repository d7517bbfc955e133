import { describe, expect, it } from "vitest";
import type { Conversation, Message } from "../types";
import { LIFECYCLE } from "./testFixtures";
import {
  highestRev,
  addPending, applyHistoryPage, applyMessageToConversation, countUnread, emptyLog, firstStoredSeq,
  lastReadByPeer, lastStoredSeq, markReadUpTo, mergeMessages, setStatus, sortConversations, upsertConversation,
  type LocalMessage,
} from "./messages";

const ME = "1";
const PEER = "2";
let t0 = 1_700_000_000_000;
function msg(seq: number, senderId = PEER, clientId = `c${seq}`, conversationId = "d1"): Message {
  return { id: `m${seq}`, conversationId, seq, senderId, user: senderId === ME ? "me" : "peer", msg: `hello ${seq}`, clientId, createdAt: t0 + seq * 1000, ...LIFECYCLE, rev: seq };
}
function conv(id: string, over: Partial<Conversation> = {}): Conversation {
  return { id, kind: id === "lobby" ? "lobby" : "direct", peer: null, lastMessage: null, unreadCount: 0, lastReadSeq: 0, peerLastReadSeq: 0, title: null, ownerId: null, memberCount: 2, rev: 0, muted: false, createdAt: 0, lastActivityAt: 0, ...over };
}
const seqs = (l: LocalMessage[]) => l.map((m) => m.seq);

describe("mergeMessages", () => {
  it("merges pages and live events without duplicates, ordered by seq", () => {
    let l: LocalMessage[] = [];
    l = mergeMessages(l, [msg(3), msg(4), msg(5)]);
    l = mergeMessages(l, [msg(5), msg(6)]); // live event overlapping the page
    l = mergeMessages(l, [msg(1), msg(2), msg(3)]); // older page
    l = mergeMessages(l, [msg(6)]); // duplicate delivery
    expect(seqs(l)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("orders out-of-order arrivals by seq", () => {
    const l = mergeMessages([], [msg(9), msg(7), msg(8)]);
    expect(seqs(l)).toEqual([7, 8, 9]);
  });

  it("returns the same list for an empty batch", () => {
    const l = mergeMessages([], [msg(1)]);
    expect(mergeMessages(l, [])).toBe(l);
  });

  it("keeps pending messages after stored ones", () => {
    let l = mergeMessages([], [msg(1)]);
    l = addPending(l, { conversationId: "d1", clientId: "x", msg: "hi", senderId: ME, user: "me", createdAt: t0 });
    l = mergeMessages(l, [msg(2)]);
    expect(l.map((m) => m.seq ?? m.clientId)).toEqual([1, 2, "x"]);
  });

  it("appends newer live messages after the stored ones, replacing my unsent copy and keeping other unsent ones last", () => {
    let l = mergeMessages([], [msg(1), msg(2)]);
    l = addPending(l, { conversationId: "d1", clientId: "mine", msg: "hi", senderId: ME, user: "me", createdAt: t0 + 10_000 });
    l = addPending(l, { conversationId: "d1", clientId: "later", msg: "yo", senderId: ME, user: "me", createdAt: t0 + 20_000 });
    const before = l;
    l = mergeMessages(l, [msg(3), msg(4, ME, "mine")]);
    expect(l.map((m) => m.seq ?? m.clientId)).toEqual([1, 2, 3, 4, "later"]);
    expect(l[3].status).toBe("sent");
    // Held messages are the same objects (rows that did not change are not re-rendered), the old list untouched.
    expect(l[0]).toBe(before[0]);
    expect(before.map((m) => m.seq ?? m.clientId)).toEqual([1, 2, "mine", "later"]);
    // A batch that is not strictly newer and in order still merges correctly.
    l = mergeMessages(l, [msg(6), msg(5), msg(6)]);
    expect(l.map((m) => m.seq ?? m.clientId)).toEqual([1, 2, 3, 4, 5, 6, "later"]);
  });

  it("merges a live message into 10,000 held ones like any other", () => {
    const many = mergeMessages([], Array.from({ length: 10_000 }, (_, i) => msg(i + 1)));
    const l = mergeMessages(many, [msg(10_001)]);
    expect(l.length).toBe(10_001);
    expect(l[10_000].seq).toBe(10_001);
    expect(l[9_999]).toBe(many[9_999]);
  });

  it("replaces a held message by a later change of it, never by an older copy", () => {
    let l = mergeMessages([], [msg(1)]);
    const edited = { ...msg(1), msg: "edited", editedAt: t0, rev: 5 };
    l = mergeMessages(l, [edited]);
    expect(l[0]).toMatchObject({ msg: "edited", rev: 5 });
    l = mergeMessages(l, [msg(1)]);
    expect(l[0].msg).toBe("edited");
    const deleted = { ...msg(1), msg: "", deletedAt: t0, rev: 6 };
    expect(highestRev(mergeMessages(l, [deleted]))).toBe(6);
  });
});

describe("optimistic send", () => {
  const pending = { conversationId: "d1", clientId: "abc", msg: "hi", senderId: ME, user: "me", createdAt: t0 };

  it("replaces the pending message with the stored one of the same clientId", () => {
    let l = addPending([], pending);
    expect(l).toHaveLength(1);
    expect(l[0].status).toBe("pending");
    l = mergeMessages(l, [msg(4, ME, "abc")]);
    expect(l).toHaveLength(1);
    expect(l[0]).toMatchObject({ seq: 4, status: "sent", clientId: "abc" });
  });

  it("does not reconcile another sender's message with the same clientId", () => {
    let l = addPending([], pending);
    l = mergeMessages(l, [msg(4, PEER, "abc")]);
    expect(l).toHaveLength(2);
  });

  it("ack and live event both arriving give one message", () => {
    let l = addPending([], pending);
    l = mergeMessages(l, [msg(4, ME, "abc")]); // socket 'message' event
    l = mergeMessages(l, [msg(4, ME, "abc")]); // ack
    expect(l).toHaveLength(1);
  });

  it("failed then retried with the same clientId stays one message", () => {
    let l = addPending([], pending);
    l = setStatus(l, "abc", "failed");
    expect(l[0].status).toBe("failed");
    l = addPending(l, { ...pending, createdAt: t0 + 5 });
    expect(l).toHaveLength(1);
    expect(l[0].status).toBe("pending");
    l = mergeMessages(l, [msg(1, ME, "abc")]);
    expect(l).toHaveLength(1);
    expect(l[0].status).toBe("sent");
  });

  it("a late retry of an already stored message is not added again", () => {
    let l = mergeMessages([], [msg(1, ME, "abc")]);
    l = addPending(l, pending);
    expect(l).toHaveLength(1);
  });
});

describe("seq helpers", () => {
  it("finds first and last stored seq ignoring pending", () => {
    let l = mergeMessages([], [msg(5), msg(6)]);
    l = addPending(l, { conversationId: "d1", clientId: "p", msg: "x", senderId: ME, user: "me", createdAt: t0 });
    expect(firstStoredSeq(l)).toBe(5);
    expect(lastStoredSeq(l)).toBe(6);
    expect(lastStoredSeq([])).toBe(0);
    expect(firstStoredSeq([])).toBeNull();
  });

  it("history pages: the newest sets hasMoreBefore, older pages update it", () => {
    let log = applyHistoryPage(emptyLog(), [msg(51), msg(52)], true, false);
    expect(log).toMatchObject({ loaded: true, hasMoreBefore: true });
    log = applyHistoryPage(log, [msg(1), msg(50)], false, true);
    expect(log.hasMoreBefore).toBe(false);
    expect(seqs(log.messages)).toEqual([1, 50, 51, 52]);
  });

  it("read receipt goes under my last message the peer has read", () => {
    const l = mergeMessages([], [msg(1, ME), msg(2, PEER), msg(3, ME), msg(4, ME)]);
    expect(lastReadByPeer(l, ME, 0)).toBeNull();
    expect(lastReadByPeer(l, ME, 2)).toBe(1);
    expect(lastReadByPeer(l, ME, 3)).toBe(3);
    expect(lastReadByPeer(l, ME, 10)).toBe(4);
  });
});

describe("unread counting", () => {
  it("counts messages from others after the read mark", () => {
    const c = conv("d1");
    const a = applyMessageToConversation(c, msg(1), ME, false);
    const b = applyMessageToConversation(a, msg(2), ME, false);
    expect(b.unreadCount).toBe(2);
    expect(b.lastMessage?.seq).toBe(2);
  });

  it("duplicates and old messages do not count twice", () => {
    let c = conv("d1");
    c = applyMessageToConversation(c, msg(1), ME, false);
    c = applyMessageToConversation(c, msg(1), ME, false);
    expect(c.unreadCount).toBe(1);
  });

  it("my own messages and messages while viewing are read", () => {
    let c = conv("d1", { unreadCount: 3, lastMessage: msg(3), lastReadSeq: 0 });
    c = applyMessageToConversation(c, msg(4, ME), ME, false);
    expect(c).toMatchObject({ unreadCount: 0, lastReadSeq: 4 });
    c = applyMessageToConversation(c, msg(5), ME, true);
    expect(c).toMatchObject({ unreadCount: 0, lastReadSeq: 5 });
  });

  it("marks never move backwards", () => {
    let c = conv("d1", { lastReadSeq: 7, unreadCount: 2 });
    c = markReadUpTo(c, 3);
    expect(c).toMatchObject({ lastReadSeq: 7, unreadCount: 0 });
  });

  it("countUnread over a loaded list", () => {
    const l = mergeMessages([], [msg(1), msg(2, ME), msg(3), msg(4)]);
    expect(countUnread(l, ME, 1)).toBe(2);
    expect(countUnread(l, ME, 4)).toBe(0);
  });
});

describe("conversation list", () => {
  it("pins the lobby and sorts by last activity", () => {
    const list = sortConversations([
      conv("a", { lastMessage: msg(1, PEER, "x", "a") }),
      conv("b", { lastMessage: msg(9, PEER, "y", "b") }),
      conv("lobby", { lastMessage: msg(1, PEER, "z", "lobby") }),
      conv("c", { createdAt: t0 + 5000 }),
    ]);
    expect(list.map((c) => c.id)).toEqual(["lobby", "b", "c", "a"]);
  });

  it("a new message reorders the list", () => {
    let list = sortConversations([conv("lobby"), conv("a", { lastMessage: msg(2, PEER, "1", "a") }), conv("b", { lastMessage: msg(1, PEER, "2", "b") })]);
    expect(list.map((c) => c.id)).toEqual(["lobby", "a", "b"]);
    list = list.map((c) => (c.id === "b" ? applyMessageToConversation(c, { ...msg(2, PEER, "3", "b"), createdAt: t0 + 99_000 }, ME, false) : c));
    expect(sortConversations(list).map((c) => c.id)).toEqual(["lobby", "b", "a"]);
  });

  it("upsert keeps the newer last message", () => {
    let list = [conv("a", { lastMessage: msg(5, PEER, "5", "a") })];
    list = upsertConversation(list, conv("a", { lastMessage: msg(4, PEER, "4", "a"), unreadCount: 1 }));
    expect(list).toHaveLength(1);
    expect(list[0].lastMessage?.seq).toBe(5);
  });

  it("upsert never moves my read mark back, nor counts what I read as unread again", () => {
    let list = [conv("a", { lastMessage: msg(85, PEER, "85", "a"), lastReadSeq: 85, unreadCount: 0 })];
    // A snapshot from before my mark reached the server.
    list = upsertConversation(list, conv("a", { lastMessage: msg(85, PEER, "85", "a"), lastReadSeq: 1, unreadCount: 0, muted: true }));
    expect(list[0]).toMatchObject({ lastReadSeq: 85, unreadCount: 0, muted: true });
    // A newer one wins, count and all.
    list = upsertConversation(list, conv("a", { lastMessage: msg(90, PEER, "90", "a"), lastReadSeq: 87, unreadCount: 3 }));
    expect(list[0]).toMatchObject({ lastReadSeq: 87, unreadCount: 3 });
  });
});
