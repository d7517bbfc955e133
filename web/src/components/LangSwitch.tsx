import { useI18n, type Lang } from "../i18n";

export function LangSwitch({ compact = false }: { compact?: boolean }) {
  const { lang, setLang, t } = useI18n();
  return (
    <label className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className={compact ? "sr-only" : ""}>{t.language}</span>
      <select
        data-testid="lang-switch"
        aria-label={t.language}
        value={lang}
        onChange={(e) => setLang(e.target.value as Lang)}
        className="rounded-lg border border-slate-200 bg-white px-2 py-1 text-xs text-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-500/40"
      >
        <option value="en">English</option>
        <option value="ko">한국어</option>
      </select>
    </label>
  );
}
