import { describe, expect, it } from "vitest";
import { groupByConversation } from "./MessageSearch";
import type { Message } from "../types";

const m = (conversationId: string, seq: number) => ({ conversationId, seq, id: `${conversationId}${seq}` }) as Message;

describe("search results", () => {
  it("group by conversation in the order each conversation first appears, newest first within", () => {
    const groups = groupByConversation([m("a", 9), m("b", 4), m("a", 7), m("c", 1), m("b", 2)]);
    expect(groups.map((g) => g.conversationId)).toEqual(["a", "b", "c"]);
    expect(groups[0].messages.map((x) => x.seq)).toEqual([9, 7]);
    expect(groups[1].messages.map((x) => x.seq)).toEqual([4, 2]);
  });
});
