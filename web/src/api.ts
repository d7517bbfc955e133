// HTTP client for the public contract. The bearer token from register/login is
// kept in localStorage and sent on every call; relative paths only.
import type { Conversation, Message, User } from "./types";

const TOKEN_KEY = "natter.token";

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export const getToken = (): string | null => {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
};
export const setToken = (t: string | null) => {
  try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch { /* private mode */ }
};

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void) { onUnauthorized = fn; }

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
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
    const code = data?.error?.code ?? (res.status >= 500 ? "server_error" : "http_" + res.status);
    if (res.status === 401 && token && !path.startsWith("/api/auth/")) onUnauthorized();
    throw new ApiError(res.status, code, data?.error?.message ?? res.statusText);
  }
  return data as T;
}

export const api = {
  register: (username: string, password: string, displayName?: string) =>
    request<{ user: User; token: string }>("POST", "/api/auth/register", { username, password, ...(displayName ? { displayName } : {}) }),
  login: (username: string, password: string) =>
    request<{ user: User; token: string }>("POST", "/api/auth/login", { username, password }),
  logout: () => request<void>("POST", "/api/auth/logout"),
  me: () => request<{ user: User }>("GET", "/api/me"),
  updateMe: (patch: { displayName?: string; statusMessage?: string }) => request<{ user: User }>("PATCH", "/api/me", patch),
  uploadAvatar: (file: Blob, name = "avatar.png") => {
    const fd = new FormData();
    fd.append("avatar", file, name);
    return request<{ user: User }>("PUT", "/api/me/avatar", fd);
  },
  removeAvatar: () => request<{ user: User }>("DELETE", "/api/me/avatar"),
  users: (q: string, cursor?: string | null, limit = 50) =>
    request<{ users: User[]; nextCursor: string | null }>(
      "GET", `/api/users?q=${encodeURIComponent(q)}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  user: (id: string) => request<{ user: User }>("GET", `/api/users/${encodeURIComponent(id)}`),
  startChat: (userId: string) => request<{ conversation: Conversation }>("POST", "/api/conversations", { userId }),
  conversations: () => request<{ conversations: Conversation[] }>("GET", "/api/conversations"),
  conversation: (id: string) => request<{ conversation: Conversation }>("GET", `/api/conversations/${encodeURIComponent(id)}`),
  messages: (id: string, opts: { before?: number; after?: number; limit?: number } = {}) => {
    const q = new URLSearchParams();
    if (opts.before != null) q.set("before", String(opts.before));
    if (opts.after != null) q.set("after", String(opts.after));
    q.set("limit", String(opts.limit ?? 50));
    return request<{ messages: Message[]; hasMore: boolean }>("GET", `/api/conversations/${encodeURIComponent(id)}/messages?${q}`);
  },
  send: (id: string, msg: string, clientId: string) =>
    request<{ message: Message }>("POST", `/api/conversations/${encodeURIComponent(id)}/messages`, { msg, clientId }),
  read: (id: string, seq: number) => request<void>("POST", `/api/conversations/${encodeURIComponent(id)}/read`, { seq }),
};

/** Everything after `after`, page by page while the server says there is more. */
export async function fetchAfter(id: string, after: number): Promise<Message[]> {
  const out: Message[] = [];
  let cursor = after;
  for (let i = 0; i < 1000; i++) {
    const page = await api.messages(id, { after: cursor, limit: 100 });
    out.push(...page.messages);
    if (page.messages.length) cursor = page.messages[page.messages.length - 1].seq;
    if (!page.hasMore || page.messages.length === 0) break;
  }
  return out;
}
