// HTTP client for the public contract. The session lives only in the HttpOnly
// `natter_session` cookie that register/login set: no token is kept in script-
// readable storage. Every request carries `X-Requested-With`, which the server
// accepts as the CSRF defence for cookie-authenticated writes. Relative paths only.
import type { Attachment, Conversation, MembersAnswer, Message, User } from "./types";

export class ApiError extends Error {
  /** With `payload_too_large`: the server's limit, in bytes. */
  constructor(public status: number, public code: string, message: string, public limitBytes?: number) {
    super(message);
  }
}

/** Network trouble, a timeout, an overloaded or restarting server: worth retrying later. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof ApiError)) return true;
  return e.status === 0 || e.status === 429 || e.status >= 500 || e.code === "network_error" || e.code === "timeout";
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void) { onUnauthorized = fn; }

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", "X-Requested-With": "natter" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network_error", "network error");
  }
  if (res.status === 204) return undefined as T;
  let data: any = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const code = data?.error?.code ?? (res.status >= 500 ? "internal_error" : "http_" + res.status);
    if (res.status === 401 && !path.startsWith("/api/auth/") && path !== "/api/me/password") onUnauthorized();
    throw new ApiError(res.status, code, data?.error?.message ?? res.statusText, data?.error?.limitBytes);
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  register: (username: string, password: string, displayName?: string) =>
    request<{ user: User }>("POST", "/api/auth/register", { username, password, ...(displayName ? { displayName } : {}) }),
  login: (username: string, password: string) =>
    request<{ user: User }>("POST", "/api/auth/login", { username, password }),
  logout: () => request<void>("POST", "/api/auth/logout"),
  /** Ends every session of the user (newer servers; 404 on older ones). */
  logoutAll: () => request<void>("POST", "/api/auth/logout-all"),
  me: () => request<{ user: User }>("GET", "/api/me"),
  updateMe: (patch: { displayName?: string; statusMessage?: string }) => request<{ user: User }>("PATCH", "/api/me", patch),
  changePassword: (currentPassword: string, newPassword: string) =>
    request<void>("POST", "/api/me/password", { currentPassword, newPassword }),
  uploadAvatar: (file: Blob, name = "avatar.png") => {
    const fd = new FormData();
    fd.append("avatar", file, name);
    return request<{ user: User }>("PUT", "/api/me/avatar", fd);
  },
  removeAvatar: () => request<{ user: User }>("DELETE", "/api/me/avatar"),
  users: (q: string, cursor?: string | null, limit = 50) =>
    request<{ users: User[]; nextCursor: string | null }>(
      "GET", `/api/users?q=${enc(q)}&limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  user: (id: string) => request<{ user: User }>("GET", `/api/users/${enc(id)}`),
  blocks: () => request<{ users: User[] }>("GET", "/api/me/blocks"),
  setBlocked: (userId: string, blocked: boolean) =>
    request<void>(blocked ? "PUT" : "DELETE", `/api/me/blocks/${enc(userId)}`),
  startChat: (userId: string) => request<{ conversation: Conversation }>("POST", "/api/conversations", { userId }),
  createGroup: (title: string, userIds: string[]) =>
    request<{ conversation: Conversation }>("POST", "/api/conversations", { kind: "group", title, userIds }),
  rename: (id: string, title: string) =>
    request<{ conversation: Conversation }>("PATCH", `/api/conversations/${enc(id)}`, { title }),
  /** Removes a member (the owner) or, for oneself, leaves the group. */
  removeMember: (id: string, userId: string) =>
    request<void>("DELETE", `/api/conversations/${enc(id)}/members/${enc(userId)}`),
  leave: (id: string, userId: string) => api.removeMember(id, userId),
  members: (id: string) => request<MembersAnswer>("GET", `/api/conversations/${enc(id)}/members`),
  addMembers: (id: string, userIds: string[]) =>
    request<{ conversation: Conversation }>("POST", `/api/conversations/${enc(id)}/members`, { userIds }),
  conversations: () => request<{ conversations: Conversation[] }>("GET", "/api/conversations"),
  conversation: (id: string) => request<{ conversation: Conversation }>("GET", `/api/conversations/${enc(id)}`),
  messages: (id: string, opts: { before?: number; after?: number; sinceRev?: number; limit?: number } = {}) => {
    const q = new URLSearchParams();
    if (opts.sinceRev != null) q.set("sinceRev", String(opts.sinceRev));
    if (opts.before != null) q.set("before", String(opts.before));
    if (opts.after != null) q.set("after", String(opts.after));
    q.set("limit", String(opts.limit ?? 50));
    return request<{ messages: Message[]; hasMore: boolean }>("GET", `/api/conversations/${enc(id)}/messages?${q}`);
  },
  send: (id: string, msg: string, clientId: string, attachments?: string[]) =>
    request<{ message: Message }>("POST", `/api/conversations/${enc(id)}/messages`,
      attachments?.length ? { msg, clientId, attachments } : { msg, clientId }),
  edit: (id: string, seq: number, msg: string) =>
    request<{ message: Message }>("PATCH", `/api/conversations/${enc(id)}/messages/${seq}`, { msg }),
  remove: (id: string, seq: number) =>
    request<{ message: Message }>("DELETE", `/api/conversations/${enc(id)}/messages/${seq}`),
  react: (id: string, seq: number, emoji: string, add: boolean) =>
    request<{ message: Message }>(add ? "PUT" : "DELETE", `/api/conversations/${enc(id)}/messages/${seq}/reactions/${enc(emoji)}`),
  search: (q: string, cursor?: string | null, limit = 20) =>
    request<{ messages: Message[]; nextCursor: string | null }>(
      "GET", `/api/search?q=${enc(q)}&limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  mute: (id: string, muted: boolean) =>
    request<{ conversation: Conversation }>("PUT", `/api/conversations/${enc(id)}/mute`, { muted }),
  read: (id: string, seq: number) => request<void>("POST", `/api/conversations/${enc(id)}/read`, { seq }),
};

/** Everything after `after`, page by page while the server says there is more (at most `maxPages` pages). */
/** Every message changed after `rev` (new, edited, deleted, reacted to), walked to the end. */
export async function fetchSinceRev(id: string, rev: number, maxPages = 1000): Promise<Message[]> {
  const out: Message[] = [];
  let cursor = rev;
  for (let i = 0; i < maxPages; i++) {
    const page = await api.messages(id, { sinceRev: cursor, limit: 100 });
    out.push(...page.messages);
    if (page.messages.length) cursor = page.messages[page.messages.length - 1].rev;
    if (!page.hasMore || page.messages.length === 0) break;
  }
  return out;
}

export async function fetchAfter(id: string, after: number, maxPages = 1000): Promise<{ messages: Message[]; complete: boolean }> {
  const out: Message[] = [];
  let cursor = after;
  for (let i = 0; i < maxPages; i++) {
    const page = await api.messages(id, { after: cursor, limit: 100 });
    out.push(...page.messages);
    if (page.messages.length) cursor = page.messages[page.messages.length - 1].seq;
    if (!page.hasMore || page.messages.length === 0) return { messages: out, complete: true };
  }
  return { messages: out, complete: false };
}

/**
 * Everything in (after, upto], fetched page by page in parallel (seqs have no gaps,
 * so the pages are known in advance), then whatever came after `upto`.
 */
export async function fetchRange(id: string, after: number, upto: number, parallel = 6): Promise<Message[]> {
  const starts: number[] = [];
  for (let s = after; s < upto; s += 100) starts.push(s);
  const pages: Message[][] = new Array(starts.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, starts.length) }, async () => {
    while (next < starts.length) {
      const i = next++;
      pages[i] = (await api.messages(id, { after: starts[i], limit: 100 })).messages;
    }
  }));
  const out = pages.flat();
  const last = out.length ? out[out.length - 1].seq : after;
  return [...out, ...(await fetchAfter(id, last, 5)).messages];
}

/** The small (64 px) variant of an avatar, for spots of 64 CSS px or less. */
export function smallAvatar(url: string | null): string | null {
  if (!url) return null;
  return url + (url.includes("?") ? "&" : "?") + "size=64";
}

/**
 * Uploads one file for a later send. XMLHttpRequest rather than fetch: only it
 * reports upload progress (`onProgress` gets 0–1).
 */
export function uploadFile(file: Blob, name: string, onProgress: (fraction: number) => void): Promise<Attachment> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads");
    xhr.setRequestHeader("X-Requested-With", "natter");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data: any = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 && data?.attachment) resolve(data.attachment as Attachment);
      else reject(new ApiError(xhr.status, data?.error?.code ?? (xhr.status >= 500 ? "internal_error" : "http_" + xhr.status), data?.error?.message ?? xhr.statusText, data?.error?.limitBytes));
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", "network error"));
    const fd = new FormData();
    fd.append("file", file, name);
    xhr.send(fd);
  });
}
