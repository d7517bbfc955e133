// Message text with http(s) links made clickable (linkifyjs finds them). Other
// schemes (javascript:, data:, mailto:, …) stay plain text. Only text nodes and
// anchors are rendered: no HTML from a message ever reaches the DOM.
import { find } from "linkifyjs";
import { memo } from "react";

function parts(text: string) {
  const out: { text: string; href?: string }[] = [];
  let at = 0;
  for (const l of find(text, "url")) {
    if (!/^https?:\/\//i.test(l.href)) continue;
    if (l.start > at) out.push({ text: text.slice(at, l.start) });
    out.push({ text: text.slice(l.start, l.end), href: l.href });
    at = l.end;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

export const Linkified = memo(function Linkified({ text, mine }: { text: string; mine: boolean }) {
  if (!/[.:]/.test(text)) return <>{text}</>;
  return (
    <>
      {parts(text).map((p, i) => p.href ? (
        <a key={i} href={p.href} target="_blank" rel="noopener noreferrer" data-testid="message-link"
          className={`underline underline-offset-2 ${mine ? "text-white decoration-white/60" : "text-indigo-700 decoration-indigo-300"} hover:decoration-2`}>
          {p.text}
        </a>
      ) : <span key={i}>{p.text}</span>)}
    </>
  );
});
