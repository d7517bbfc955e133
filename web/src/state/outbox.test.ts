import { describe, expect, it } from "vitest";
import { enqueue, nextToSend, ordered, removeItem } from "./outbox";
import { contiguousSeq, firstUnreadSeq, fromStored, gapBefore, newerThan, type LocalMessage } from "./messages";
import type { Message } from "../types";

const item = (clientId: string, createdAt = 0) => ({ clientId, conversationId: "c", msg: clientId, senderId: "me", user: "me", createdAt });

describe("outbox", () => {
  it("sends strictly in the order written, even when clocks disagree", () => {
    let q = enqueue([], item("a", 300));
    q = enqueue(q, item("b", 100));
    q = enqueue(q, item("c", 200));
    expect(ordered(q).map((x) => x.clientId)).toEqual(["a", "b", "c"]);
    expect(nextToSend(q)?.clientId).toBe("a");
    q = removeItem(q, "a");
    expect(nextToSend(q)?.clientId).toBe("b");
  });
  it("keeps one entry per clientId, in its first place", () => {
    let q = enqueue([], item("a"));
    q = enqueue(q, item("b"));
    q = enqueue(q, item("a"));
    expect(ordered(q).map((x) => x.clientId)).toEqual(["a", "b"]);
  });
  it("orders after a restore from storage (orders continue from the highest)", () => {
    const restored = [{ ...item("x"), order: 7 }, { ...item("y"), order: 3 }];
    const q = enqueue(restored, item("z"));
    expect(ordered(q).map((x) => x.clientId)).toEqual(["y", "x", "z"]);
  });
  it("is empty when everything is sent", () => {
    expect(nextToSend(removeItem(enqueue([], item("a")), "a"))).toBeNull();
  });
});

const msg = (seq: number, senderId = "peer"): LocalMessage =>
  fromStored({ id: `m${seq}`, conversationId: "c", seq, senderId, user: senderId, msg: `#${seq}`, clientId: `k${seq}`, createdAt: seq } as Message);

describe("gap detection", () => {
  it("finds the last contiguous seq", () => {
    expect(contiguousSeq([])).toBe(0);
    expect(contiguousSeq([msg(5), msg(6), msg(7)])).toBe(7);
    expect(contiguousSeq([msg(1), msg(2), msg(4), msg(5)])).toBe(2);
  });
  it("ignores unsent messages", () => {
    const pending: LocalMessage = { ...msg(0), seq: null, id: null, status: "pending" };
    expect(contiguousSeq([msg(1), msg(2), pending])).toBe(2);
  });
  it("asks for the gap when a live message skips seqs", () => {
    const list = [msg(10), msg(11), msg(12)];
    expect(gapBefore(list, 13)).toBeNull(); // the next one
    expect(gapBefore(list, 12)).toBeNull(); // already held
    expect(gapBefore(list, 15)).toBe(12); // 13 and 14 are missing: fetch after=12
    expect(gapBefore([msg(1), msg(3)], 4)).toBe(1); // catch-up asks from the contiguous seq, not the highest
    expect(gapBefore([], 9)).toBeNull(); // nothing loaded: the first page brings it
  });
});

describe("unread divider", () => {
  it("sits at the first message from someone else after my read mark", () => {
    const list = [msg(1), msg(2, "me"), msg(3, "me"), msg(4), msg(5)];
    expect(firstUnreadSeq(list, "me", 1)).toBe(4);
    expect(firstUnreadSeq(list, "me", 0)).toBe(1);
    expect(firstUnreadSeq(list, "me", 5)).toBeNull();
  });
  it("counts the messages below the last visible one for the jump button", () => {
    const list = [msg(1), msg(2), msg(3, "me"), msg(4)];
    expect(newerThan(list, 1, "me")).toBe(1);
    expect(newerThan(list, -1, "me")).toBe(3);
    expect(newerThan(list, 3, "me")).toBe(0);
  });
});
