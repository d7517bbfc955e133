import { useState } from "react";
import { smallAvatar } from "../api";
import { colorFor, initials } from "../format";

interface Props {
  id: string;
  name: string;
  url: string | null;
  size?: "sm" | "md" | "lg" | "xl";
  online?: boolean | null;
  lobby?: boolean;
}

const SIZES = { sm: "h-8 w-8 text-xs", md: "h-11 w-11 text-sm", lg: "h-14 w-14 text-base", xl: "h-24 w-24 text-2xl" };
const DOT = { sm: "h-2.5 w-2.5", md: "h-3 w-3", lg: "h-3.5 w-3.5", xl: "h-5 w-5" };

/** A round picture, or the initials on a colour derived from the id when there is none. */
export function Avatar({ id, name, url, size = "md", online = null, lobby = false }: Props) {
  const [broken, setBroken] = useState<string | null>(null);
  if (url && broken === url) url = null; // a picture that fails to load falls back to initials
  // Spots of 64 CSS px or less get the 64 px variant instead of the full picture.
  const src = size === "sm" || size === "md" ? smallAvatar(url) : url;
  return (
    <span className={`relative inline-flex shrink-0 ${SIZES[size]}`}>
      {lobby ? (
        <span aria-hidden="true" className={`flex h-full w-full items-center justify-center rounded-full bg-gradient-to-br from-indigo-500 to-violet-500 font-semibold text-white`}>
          <svg viewBox="0 0 24 24" className="h-1/2 w-1/2" fill="none" stroke="currentColor" strokeWidth="2"><path d="M17 20h5v-2a4 4 0 0 0-5-3.9M9 20H2v-2a4 4 0 0 1 4-4h3a4 4 0 0 1 4 4v2H9Zm3-11a3 3 0 1 1-6 0 3 3 0 0 1 6 0Zm8 1a2.5 2.5 0 1 1-5 0 2.5 2.5 0 0 1 5 0Z" strokeLinecap="round" strokeLinejoin="round" /></svg>
        </span>
      ) : url ? (
        <img src={src ?? undefined} alt="" loading="lazy" width={size === "xl" ? 96 : undefined} data-testid="avatar-img" onError={() => setBroken(url)} className="h-full w-full rounded-full object-cover ring-1 ring-black/5" />
      ) : (
        <span aria-hidden="true" data-testid="avatar-initials" className={`flex h-full w-full select-none items-center justify-center rounded-full font-semibold text-white ${colorFor(id)}`}>
          {initials(name)}
        </span>
      )}
      {online != null && (
        <span
          data-testid="presence-dot"
          data-online={online ? "true" : "false"}
          aria-hidden="true"
          className={`absolute bottom-0 right-0 rounded-full ring-2 ring-white ${DOT[size]} ${online ? "bg-emerald-500" : "bg-slate-300"}`}
        />
      )}
    </span>
  );
}
