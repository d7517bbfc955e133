// Drafts per conversation, in localStorage under `natter.draft.<userId>.<conversationId>`.
// They survive switching chats, Esc and reloads; sending clears the draft.
const key = (userId: string, conversationId: string) => `natter.draft.${userId}.${conversationId}`;

export function loadDraft(userId: string, conversationId: string): string {
  try { return localStorage.getItem(key(userId, conversationId)) ?? ""; } catch { return ""; }
}

export function saveDraft(userId: string, conversationId: string, text: string) {
  try {
    if (text) localStorage.setItem(key(userId, conversationId), text);
    else localStorage.removeItem(key(userId, conversationId));
  } catch { /* storage full or private mode: the draft lives until the tab closes */ }
}
