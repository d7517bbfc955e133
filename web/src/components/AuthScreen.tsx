import { useState, type FormEvent } from "react";
import { api, ApiError } from "../api";
import { errorText, useI18n } from "../i18n";
import type { User } from "../types";
import { LangSwitch } from "./LangSwitch";

export function AuthScreen({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const { t } = useI18n();
  const [mode, setMode] = useState<"signin" | "signup">("signin");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = mode === "signin"
        ? await api.login(username.trim(), password)
        : await api.register(username.trim(), password, displayName.trim() || undefined);
      onSignedIn(r.user);
    } catch (err) {
      const e2 = err instanceof ApiError ? err : new ApiError(0, "unknown", String(err));
      setError({ code: e2.code, message: e2.message });
    } finally {
      setBusy(false);
    }
  }

  const field = "mt-1 block w-full rounded-xl border border-slate-200 bg-white px-3.5 py-2.5 text-[15px] shadow-sm outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-500/15";
  const errId = "auth-error";
  return (
    <main className="relative flex h-full items-center justify-center overflow-y-auto bg-gradient-to-br from-indigo-50 via-white to-violet-50 px-4 py-10">
      <div className="w-full max-w-sm">
        <div className="mb-8 flex flex-col items-center text-center">
          <div className="mb-3 flex h-14 w-14 items-center justify-center rounded-2xl bg-indigo-600 shadow-lg shadow-indigo-600/30">
            <svg viewBox="0 0 32 32" className="h-8 w-8" aria-hidden="true"><path d="M7 9h18v11H14l-5 4v-4H7z" fill="white" /></svg>
          </div>
          <h1 className="text-3xl font-bold tracking-tight text-slate-900">{t.appName}</h1>
          <p className="mt-1 text-sm text-slate-500">{t.tagline}</p>
        </div>
        <form
          onSubmit={submit}
          noValidate
          data-testid="auth-form"
          data-mode={mode}
          aria-labelledby="auth-title"
          className="rounded-2xl border border-slate-200/70 bg-white/90 p-6 shadow-xl shadow-slate-200/60 backdrop-blur"
        >
          <h2 id="auth-title" className="mb-4 text-lg font-semibold">{mode === "signin" ? t.signIn : t.createAccount}</h2>
          <label className="mb-3 block text-sm font-medium text-slate-700">
            {t.username}
            <input name="username" autoComplete="username" autoCapitalize="none" spellCheck={false} value={username}
              onChange={(e) => setUsername(e.target.value)} className={field} aria-describedby={error ? errId : undefined}
              aria-invalid={error?.code === "invalid_username" || error?.code === "username_taken" || undefined} />
            {mode === "signup" && <span className="mt-1 block text-xs font-normal text-slate-500">{t.usernameHint}</span>}
          </label>
          {mode === "signup" && (
            <label className="mb-3 block text-sm font-medium text-slate-700">
              {t.displayNameOptional}
              <input name="displayName" autoComplete="nickname" value={displayName} onChange={(e) => setDisplayName(e.target.value)} className={field} />
            </label>
          )}
          <label className="mb-4 block text-sm font-medium text-slate-700">
            {t.password}
            <input name="password" type="password" autoComplete={mode === "signin" ? "current-password" : "new-password"} value={password}
              onChange={(e) => setPassword(e.target.value)} className={field} aria-describedby={error ? errId : undefined}
              aria-invalid={error?.code === "invalid_password" || error?.code === "invalid_credentials" || undefined} />
            {mode === "signup" && <span className="mt-1 block text-xs font-normal text-slate-500">{t.passwordHint}</span>}
          </label>
          {error && (
            <p id={errId} role="alert" data-testid="auth-error" data-code={error.code} className="mb-4 rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700">
              {errorText(t, error.code)}
            </p>
          )}
          <button type="submit" disabled={busy} data-testid="auth-submit"
            className="w-full rounded-xl bg-indigo-600 px-4 py-2.5 font-semibold text-white shadow-md shadow-indigo-600/25 transition hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 disabled:opacity-60">
            {busy ? t.working : mode === "signin" ? t.signIn : t.signUp}
          </button>
          <p className="mt-4 text-center text-sm text-slate-500">
            {mode === "signin" ? t.noAccount : t.haveAccount}{" "}
            <button type="button" data-testid="auth-toggle" onClick={() => { setMode(mode === "signin" ? "signup" : "signin"); setError(null); }}
              className="font-semibold text-indigo-600 hover:underline focus:outline-none focus-visible:underline">
              {mode === "signin" ? t.signUp : t.signIn}
            </button>
          </p>
        </form>
        <div className="mt-6 flex justify-center"><LangSwitch /></div>
      </div>
    </main>
  );
}
