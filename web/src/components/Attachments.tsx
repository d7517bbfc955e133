// Files in chat: the attachments shown in a message (image previews that open
// the full picture, file cards with name and size) and the composer's tray of
// files being uploaded or ready to send.
import { useI18n } from "../i18n";
import type { Attachment } from "../types";

/** 1536 → "1.5 KB": sizes as people read them. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function MessageAttachments({ list, mine }: { list: Attachment[] | undefined; mine: boolean }) {
  const { t } = useI18n();
  if (!list?.length) return null;
  return (
    <div data-testid="attachments" className={`mb-1 flex max-w-full flex-wrap gap-1.5 ${mine ? "justify-end" : ""}`}>
      {list.map((a) => a.thumbUrl ? (
        <a key={a.id} href={a.url} target="_blank" rel="noopener" data-testid="attachment-image" title={a.name}
          aria-label={t.openFullSize(a.name)}
          className="block overflow-hidden rounded-xl ring-1 ring-slate-200 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
          <img src={a.thumbUrl} alt={a.name} loading="lazy" className="block max-h-60 max-w-[240px] object-cover"
            width={a.width ? Math.min(240, a.width) : undefined} />
        </a>
      ) : (
        <a key={a.id} href={a.url} download={a.name} data-testid="attachment-file" title={t.download(a.name)}
          className="flex max-w-[260px] items-center gap-2 rounded-xl bg-white px-3 py-2 text-left text-sm text-slate-800 ring-1 ring-slate-200 hover:bg-slate-50 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
          <svg viewBox="0 0 24 24" className="h-6 w-6 shrink-0 text-indigo-600" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true"><path d="M19.5 14.25v-2.625a3.375 3.375 0 0 0-3.375-3.375h-1.5A1.125 1.125 0 0 1 13.5 7.125v-1.5a3.375 3.375 0 0 0-3.375-3.375H8.25m2.25 0H5.625c-.621 0-1.125.504-1.125 1.125v17.25c0 .621.504 1.125 1.125 1.125h12.75c.621 0 1.125-.504 1.125-1.125V11.25a9 9 0 0 0-9-9Z" strokeLinecap="round" strokeLinejoin="round" /></svg>
          <span className="min-w-0">
            <span className="block truncate font-medium" data-testid="attachment-name">{a.name}</span>
            <span className="block text-xs text-slate-500" data-testid="attachment-size">{formatSize(a.size)}</span>
          </span>
        </a>
      ))}
    </div>
  );
}

/** A file in the composer: uploading (with progress), ready, or refused. */
export interface PendingFile {
  key: string;
  name: string;
  progress: number;
  attachment?: Attachment;
  error?: string;
  /** The server's limit when the upload was refused as too large. */
  limitBytes?: number;
}

export function AttachmentTray({ files, onRemove, errorText }: { files: PendingFile[]; onRemove: (key: string) => void; errorText: (code: string) => string }) {
  const { t } = useI18n();
  if (files.length === 0) return null;
  return (
    <ul className="mb-2 flex flex-wrap gap-2" data-testid="attachment-tray">
      {files.map((f) => (
        <li key={f.key} data-testid="pending-attachment" data-ready={f.attachment ? "true" : "false"}
          className={`flex max-w-[260px] items-center gap-2 rounded-xl px-3 py-1.5 text-xs ring-1 ${f.error ? "bg-rose-50 text-rose-800 ring-rose-200" : "bg-slate-50 text-slate-700 ring-slate-200"}`}>
          <span className="min-w-0">
            <span className="block truncate font-medium">{f.name}</span>
            {f.error ? <span role="alert" data-testid="attachment-error" data-code={f.error}>{f.error === "payload_too_large" && f.limitBytes ? t.fileTooLarge(formatSize(f.limitBytes)) : errorText(f.error)}</span>
              : f.attachment ? <span>{formatSize(f.attachment.size)}</span>
              : <span aria-live="polite">
                  {t.uploading(Math.round(f.progress * 100))}
                  <progress className="ml-1 h-1 w-16 align-middle" max={1} value={f.progress} />
                </span>}
          </span>
          <button type="button" onClick={() => onRemove(f.key)} aria-label={t.removeAttachment(f.name)}
            className="rounded-full p-1 text-slate-500 hover:bg-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50">
            <svg viewBox="0 0 24 24" className="h-3.5 w-3.5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true"><path d="M6 18 18 6M6 6l12 12" strokeLinecap="round" strokeLinejoin="round" /></svg>
          </button>
        </li>
      ))}
    </ul>
  );
}
