// Small, pure display helpers.
import type { Lang, T } from "./i18n";
import type { User } from "./types";

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return "?";
  if (parts.length === 1) return Array.from(parts[0]).slice(0, 2).join("").toUpperCase();
  return (Array.from(parts[0])[0] + Array.from(parts[parts.length - 1])[0]).toUpperCase();
}

// Dark enough for white initials (WCAG AA contrast).
const COLORS = ["bg-rose-600", "bg-orange-700", "bg-amber-700", "bg-emerald-700", "bg-teal-700", "bg-sky-700", "bg-indigo-600", "bg-violet-600", "bg-fuchsia-700"];
export function colorFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length];
}

const locale = (lang: Lang) => (lang === "ko" ? "ko-KR" : "en-US");

// Making a formatter costs far more than formatting (every row on screen
// formats its time on each render): one per language and style.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(lang: Lang, style: "time" | "day" | "date", options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${lang} ${style}`;
  let f = formatters.get(key);
  if (!f) formatters.set(key, (f = new Intl.DateTimeFormat(locale(lang), options)));
  return f;
}

export function timeOf(ms: number, lang: Lang): string {
  return formatter(lang, "time", { hour: "numeric", minute: "2-digit" }).format(ms);
}

export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ms: number, lang: Lang, t: T, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return t.today;
  if (dayKey(ms) === dayKey(now - 86_400_000)) return t.yesterday;
  return formatter(lang, "day", { year: "numeric", month: "long", day: "numeric", weekday: "long" }).format(ms);
}

export function listTime(ms: number, lang: Lang, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return timeOf(ms, lang);
  return formatter(lang, "date", { month: "short", day: "numeric" }).format(ms);
}

export function presenceText(u: User, lang: Lang, t: T): string {
  if (u.online) return t.online;
  if (u.lastSeenAt) return t.lastSeen(`${listTime(u.lastSeenAt, lang)} ${dayKey(u.lastSeenAt) === dayKey(Date.now()) ? "" : timeOf(u.lastSeenAt, lang)}`.trim());
  return t.offline;
}
