import { describe, expect, it } from "vitest";
import { dictionaries } from "../i18n";
import { systemSentence } from "./MessageExtras";

const names: Record<string, string> = { a: "Alice", b: "Bob", c: "민지" };
const name = (id: string) => names[id] ?? "…";

describe("system messages as sentences (history and list preview)", () => {
  it("reads in English", () => {
    expect(systemSentence(dictionaries.en, { action: "members_added", actorId: "a", userIds: ["b", "c"] }, name)).toBe("Alice added Bob, 민지");
    expect(systemSentence(dictionaries.en, { action: "title_changed", actorId: "b", title: "Trip" }, name)).toBe("Bob renamed the group to “Trip”");
  });
  it("reads in Korean", () => {
    expect(systemSentence(dictionaries.ko, { action: "members_added", actorId: "a", userIds: ["c"] }, name)).toBe("Alice님이 민지님을 초대했습니다");
    expect(systemSentence(dictionaries.ko, { action: "member_left", actorId: "c" }, name)).toMatch(/^민지님이/);
  });
});
