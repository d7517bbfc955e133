import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError } from "../api";
import { errorText, LIMITS, useI18n } from "../i18n";
import { ConfirmDialog } from "./Sidebar";
import type { User } from "../types";
import { Avatar } from "./Avatar";

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

export function ProfilePanel({ me, onBack, onUpdated, onSignOutEverywhere }: {
  me: User; onBack: () => void; onUpdated: (u: User) => void; onSignOutEverywhere: () => Promise<void>;
}) {
  const { t } = useI18n();
  const [displayName, setDisplayName] = useState(me.displayName);
  const [statusMessage, setStatusMessage] = useState(me.statusMessage);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string; code?: string } | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [photoBusy, setPhotoBusy] = useState(false);
  const [photoError, setPhotoError] = useState<string | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!file) { setPreview(null); return; }
    const url = URL.createObjectURL(file);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setSaving(true);
    setNotice(null);
    try {
      const { user } = await api.updateMe({ displayName, statusMessage });
      onUpdated(user);
      setDisplayName(user.displayName);
      setNotice({ kind: "ok", text: t.saved });
    } catch (err) {
      const code = err instanceof ApiError ? err.code : "unknown";
      setNotice({ kind: "error", code, text: errorText(t, code) });
    } finally {
      setSaving(false);
    }
  }

  /** Check the file before any preview or upload: a non-image or an oversized file never gets a broken preview. */
  function choose(f: File | null) {
    setPhotoError(null);
    if (f && !IMAGE_TYPES.includes(f.type)) { setPhotoError("unsupported_media_type"); setFile(null); if (fileRef.current) fileRef.current.value = ""; return; }
    if (f && f.size > LIMITS.avatarBytes) { setPhotoError("payload_too_large"); setFile(null); if (fileRef.current) fileRef.current.value = ""; return; }
    setFile(f);
  }

  async function upload() {
    if (!file) return;
    setPhotoBusy(true);
    setPhotoError(null);
    try {
      const { user } = await api.uploadAvatar(file, file.name || "avatar");
      onUpdated(user);
      setFile(null);
      if (fileRef.current) fileRef.current.value = "";
    } catch (err) {
      setPhotoError(err instanceof ApiError ? err.code : "unknown");
    } finally {
      setPhotoBusy(false);
    }
  }

  async function remove() {
    setPhotoBusy(true);
    setPhotoError(null);
    try { onUpdated((await api.removeAvatar()).user); } catch (err) { setPhotoError(err instanceof ApiError ? err.code : "unknown"); } finally { setPhotoBusy(false); }
  }

  const field = "mt-1 block w-full rounded-xl border border-slate-200 bg-white px-3.5 py-2.5 text-[15px] outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-500/15";
  const btn = "rounded-xl px-4 py-2 text-sm font-semibold transition focus:outline-none focus-visible:ring-4 disabled:opacity-50";
  return (
    <section className="flex min-h-0 flex-1 flex-col" data-testid="profile-panel" aria-labelledby="profile-title">
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-3 py-3 md:px-6">
        <button onClick={onBack} aria-label={t.back} data-testid="profile-back"
          className="rounded-lg p-2 text-slate-500 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
          <svg viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M15.75 19.5 8.25 12l7.5-7.5" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </button>
        <h2 id="profile-title" className="text-lg font-semibold">{t.editProfile}</h2>
      </header>
      <div className="min-h-0 flex-1 overflow-y-auto px-4 py-6 md:px-10">
        <div className="mx-auto max-w-lg space-y-6">
          <div className="rounded-2xl border border-slate-200 bg-white p-5 shadow-sm">
            <h3 className="mb-4 text-sm font-semibold text-slate-700">{t.photo}</h3>
            <div className="flex flex-wrap items-center gap-5">
              {preview ? (
                <img src={preview} alt={t.photoPreview} data-testid="avatar-preview"
                  onError={() => { setFile(null); setPhotoError("invalid_image"); if (fileRef.current) fileRef.current.value = ""; }} className="h-24 w-24 rounded-full object-cover ring-4 ring-indigo-100" />
              ) : (
                <span data-testid="avatar-current"><Avatar id={me.id} name={me.displayName} url={me.avatarUrl} size="xl" /></span>
              )}
              <div className="flex flex-col gap-2">
                <input ref={fileRef} type="file" accept="image/png,image/jpeg,image/webp,image/gif" className="sr-only" id="avatar-file"
                  data-testid="avatar-input" onChange={(e) => choose(e.target.files?.[0] ?? null)} />
                <div className="flex flex-wrap gap-2">
                  <label htmlFor="avatar-file" tabIndex={0}
                    onKeyDown={(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileRef.current?.click(); } }}
                    className={`${btn} cursor-pointer border border-slate-200 bg-white text-slate-700 hover:bg-slate-50 focus-visible:ring-indigo-500/30`}>
                    {t.choosePhoto}
                  </label>
                  {file && (
                    <button onClick={upload} disabled={photoBusy} data-testid="avatar-upload" className={`${btn} bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-500/40`}>
                      {t.uploadPhoto}
                    </button>
                  )}
                  {file && (
                    <button onClick={() => { setFile(null); if (fileRef.current) fileRef.current.value = ""; }} className={`${btn} text-slate-500 hover:bg-slate-100 focus-visible:ring-indigo-500/30`}>
                      {t.cancel}
                    </button>
                  )}
                  {!file && me.avatarUrl && (
                    <button onClick={remove} disabled={photoBusy} data-testid="avatar-remove" className={`${btn} text-rose-600 hover:bg-rose-50 focus-visible:ring-rose-500/30`}>
                      {t.removePhoto}
                    </button>
                  )}
                </div>
                {photoError && <p role="alert" data-testid="avatar-error" data-code={photoError} className="text-sm text-rose-700">{errorText(t, photoError)}</p>}
              </div>
            </div>
          </div>
          <form onSubmit={save} noValidate className="space-y-4 rounded-2xl border border-slate-200 bg-white p-5 shadow-sm">
            <div className="text-sm text-slate-500">@{me.username}</div>
            <label className="block text-sm font-medium text-slate-700">
              {t.displayName}
              <input name="displayName" value={displayName} maxLength={64} onChange={(e) => setDisplayName(e.target.value)} className={field}
                aria-invalid={notice?.code === "invalid_displayName" || undefined} />
            </label>
            <label className="block text-sm font-medium text-slate-700">
              {t.statusMessage}
              <input name="statusMessage" value={statusMessage} maxLength={140} onChange={(e) => setStatusMessage(e.target.value)} className={field}
                aria-invalid={notice?.code === "invalid_statusMessage" || undefined} />
            </label>
            <div className="flex items-center gap-3">
              <button type="submit" disabled={saving} data-testid="profile-save" className={`${btn} bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-500/40`}>
                {t.save}
              </button>
              {notice && (
                <p role={notice.kind === "error" ? "alert" : "status"} data-testid="profile-notice"
                  className={`text-sm ${notice.kind === "ok" ? "text-emerald-600" : "text-rose-600"}`}>{notice.text}</p>
              )}
            </div>
          </form>
          <SecuritySection onSignOutEverywhere={onSignOutEverywhere} />
        </div>
      </div>
    </section>
  );
}

function SecuritySection({ onSignOutEverywhere }: { onSignOutEverywhere: () => Promise<void> }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string; code?: string } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [allError, setAllError] = useState<string | null>(null);
  const field = "mt-1 block w-full rounded-xl border border-slate-200 bg-white px-3.5 py-2.5 text-[15px] outline-none transition focus:border-indigo-500 focus:ring-4 focus:ring-indigo-500/15";
  const btn = "rounded-xl px-4 py-2 text-sm font-semibold transition focus:outline-none focus-visible:ring-4 disabled:opacity-50";

  async function change(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    try {
      await api.changePassword(current, next);
      setCurrent(""); setNext("");
      setNotice({ kind: "ok", text: t.passwordChanged });
    } catch (err) {
      let code = err instanceof ApiError ? err.code : "unknown";
      if (err instanceof ApiError && (err.status === 401 || err.status === 403) && code !== "too_many_requests") code = "wrong_current_password";
      setNotice({ kind: "error", code, text: errorText(t, code) });
    } finally {
      setBusy(false);
    }
  }

  async function everywhere() {
    setConfirming(false);
    setAllError(null);
    try { await onSignOutEverywhere(); } catch (err) {
      const e = err instanceof ApiError ? err : null;
      setAllError(e && (e.status === 404 || e.status === 405) ? "logout_all_unsupported" : e?.code ?? "unknown");
    }
  }

  return (
    <div className="space-y-4 rounded-2xl border border-slate-200 bg-white p-5 shadow-sm" data-testid="security">
      <h3 className="text-sm font-semibold text-slate-700">{t.security}</h3>
      <form onSubmit={change} noValidate className="space-y-3" data-testid="password-form">
        <input type="text" name="username" autoComplete="username" className="hidden" aria-hidden="true" tabIndex={-1} readOnly />
        <label className="block text-sm font-medium text-slate-700">
          {t.currentPassword}
          <input type="password" name="currentPassword" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} className={field}
            aria-invalid={notice?.code === "wrong_current_password" || undefined} />
        </label>
        <label className="block text-sm font-medium text-slate-700">
          {t.newPassword}
          <input type="password" name="newPassword" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} className={field}
            aria-invalid={notice?.code === "invalid_password" || undefined} />
          <span className="mt-1 block text-xs font-normal text-slate-500">{t.passwordHint}</span>
        </label>
        <div className="flex flex-wrap items-center gap-3">
          <button type="submit" disabled={busy || !current || !next} data-testid="password-save" className={`${btn} bg-indigo-600 text-white hover:bg-indigo-700 focus-visible:ring-indigo-500/40`}>
            {t.changePassword}
          </button>
          {notice && (
            <p role={notice.kind === "error" ? "alert" : "status"} data-testid="password-notice" data-code={notice.code ?? ""}
              className={`text-sm ${notice.kind === "ok" ? "text-emerald-700" : "text-rose-700"}`}>{notice.text}</p>
          )}
        </div>
      </form>
      <div className="border-t border-slate-100 pt-4">
        <p className="mb-2 text-xs text-slate-500">{t.signOutEverywhereHint}</p>
        <button onClick={() => setConfirming(true)} data-testid="sign-out-everywhere" className={`${btn} border border-rose-200 text-rose-700 hover:bg-rose-50 focus-visible:ring-rose-500/30`}>
          {t.signOutEverywhere}
        </button>
        {allError && <p role="alert" data-testid="sign-out-everywhere-error" data-code={allError} className="mt-2 text-sm text-rose-700">{errorText(t, allError)}</p>}
      </div>
      {confirming && <ConfirmDialog text={t.signOutEverywhereConfirm} confirm={t.signOutEverywhere} onCancel={() => setConfirming(false)} onConfirm={() => void everywhere()} />}
    </div>
  );
}
