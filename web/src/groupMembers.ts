// Group member lists for the conversation list (avatars, names in system-line
// previews): one GET per group, shared by every row, fetched again only when the
// member count moves or a newer membership change shows up as the last message.
import { useEffect, useState } from "react";
import { api } from "./api";
import type { Conversation, Member } from "./types";

interface Entry { count: number; systemSeq: number; members: Promise<Member[]> }
const cache = new Map<string, Entry>();

function systemSeqOf(c: Conversation): number {
  return c.lastMessage?.type === "system" ? c.lastMessage.seq : 0;
}

/** The members of group `c`, from the cache while it is still current. */
export function loadMembers(c: Conversation): Promise<Member[]> {
  const systemSeq = systemSeqOf(c);
  const hit = cache.get(c.id);
  if (hit && hit.count === c.memberCount && hit.systemSeq >= systemSeq) return hit.members;
  const entry: Entry = { count: c.memberCount, systemSeq, members: api.members(c.id).then((r) => r.members) };
  // A failed load is not remembered: the next render tries again.
  entry.members.catch(() => { if (cache.get(c.id) === entry) cache.delete(c.id); });
  cache.set(c.id, entry);
  return entry.members;
}

/** Forget a group's members (after this tab changed them). */
export function dropMembers(id: string) {
  cache.delete(id);
}

export function useGroupMembers(c: Conversation): Member[] | null {
  const [got, setGot] = useState<{ id: string; members: Member[] } | null>(null);
  const group = c.kind === "group";
  const systemSeq = systemSeqOf(c);
  useEffect(() => {
    if (!group) return;
    let stop = false;
    loadMembers(c).then((members) => { if (!stop) setGot({ id: c.id, members }); }).catch(() => {});
    return () => { stop = true; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [group, c.id, c.memberCount, systemSeq]);
  return got && got.id === c.id ? got.members : null;
}
