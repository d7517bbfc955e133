import { describe, expect, it } from "vitest";
import { shouldNotify, unreadTotal } from "./notifications";
import type { Conversation, Message } from "./types";

const conv = (id: string, unreadCount: number, muted: boolean) => ({ id, unreadCount, muted }) as Conversation;
const msg = (senderId: string, type: "text" | "system" = "text") => ({ senderId, type, conversationId: "c" }) as Message;

describe("notifications", () => {
  it("leaves muted conversations out of the unread total", () => {
    expect(unreadTotal([conv("a", 3, false), conv("b", 5, true), conv("c", 1, false)])).toBe(4);
  });
  it("notifies only of others' text messages in unmuted conversations while hidden", () => {
    expect(shouldNotify(msg("bob"), "me", conv("c", 1, false), true)).toBe(true);
    expect(shouldNotify(msg("bob"), "me", conv("c", 1, false), false)).toBe(false);
    expect(shouldNotify(msg("bob"), "me", conv("c", 1, true), true)).toBe(false);
    expect(shouldNotify(msg("me"), "me", conv("c", 1, false), true)).toBe(false);
    expect(shouldNotify(msg("bob", "system"), "me", conv("c", 1, false), true)).toBe(false);
    expect(shouldNotify(msg("bob"), "me", undefined, true)).toBe(false);
  });
});
