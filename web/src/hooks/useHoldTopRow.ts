// Keeps the row at the top of a Virtuoso list where it is on screen while older rows are
// prepended above it. Virtuoso moves the view by the new rows' estimated height and then
// corrects for their measured height, but only while it believes the user is scrolling up
// (petyosi/react-virtuoso#1405). When the rows are measured after that (a busy machine, an
// answer that came fast), the view stays off by the difference: 9 px here, 135 px on a
// loaded CI host. This notes the top row before the rows come in and, while nobody touches
// the list (the caller releases it on their input; a fling releases it too), puts it back
// wherever it settles elsewhere.
import { useCallback, useEffect, useLayoutEffect, useRef, type RefObject } from "react";

/** Frames, and at least this long since it last moved, the row must sit where it was before
 * the hold ends: Virtuoso's own late correction can come a few frames after ours. */
const SETTLED_FRAMES = 12;
const SETTLED_MS = 1000;
/** The longest a hold lasts, whatever happens. */
const HOLD_MS = 3000;
/** Frames in a row in which the list scrolled: a fling or a smooth scroll, not Virtuoso's
 * corrections (one jump at a time). The view is the user's to move then. */
const MOVING_FRAMES = 8;

interface Hold {
  /** The row's `data-item-index`: with `firstItemIndex` lowered per prepend, it stays the row's. */
  index: string;
  top: number;
  since: number;
  /** When the row was last seen away from where it was. */
  moved: number;
  /** The offset seen in the frame before, when it was not zero. */
  last: number | null;
  settled: number;
  scrollTop: number;
  /** Frames in a row in which scrollTop changed by no doing of ours. */
  moving: number;
}

function topRow(scroller: HTMLElement): HTMLElement | null {
  const top = scroller.getBoundingClientRect().top;
  for (const row of scroller.querySelectorAll<HTMLElement>("[data-item-index]")) {
    if (row.getBoundingClientRect().bottom > top) return row;
  }
  return null;
}

export function useHoldTopRow(scroller: RefObject<HTMLElement | null>) {
  const hold = useRef<Hold | null>(null);
  const frame = useRef(0);
  const armed = useRef(false);

  const release = useCallback(() => {
    hold.current = null;
    cancelAnimationFrame(frame.current);
    frame.current = 0;
  }, []);

  const tick = useCallback(() => {
    frame.current = 0;
    const h = hold.current;
    const el = scroller.current;
    if (!h || !el || performance.now() - h.since > HOLD_MS) return release();
    h.moving = el.scrollTop !== h.scrollTop ? h.moving + 1 : 0;
    if (h.moving >= MOVING_FRAMES) return release();
    h.scrollTop = el.scrollTop;
    const row = el.querySelector<HTMLElement>(`[data-item-index="${h.index}"]`);
    if (row) {
      const off = Math.round(row.getBoundingClientRect().top - h.top);
      if (off === 0) {
        h.last = null;
        if (++h.settled >= SETTLED_FRAMES && performance.now() - h.moved >= SETTLED_MS) return release();
      } else {
        h.moved = performance.now();
        h.settled = 0;
        if (off === h.last) {
          // Off by the same amount two frames running: Virtuoso has left it there.
          el.scrollTop += off;
          h.scrollTop = el.scrollTop;
          h.last = null;
        } else {
          h.last = off;
        }
      }
    }
    frame.current = requestAnimationFrame(tick);
  }, [scroller, release]);

  /** Call while rendering the prepend: the DOM still shows the rows as they were. */
  const capture = useCallback(() => {
    const el = scroller.current;
    const row = el ? topRow(el) : null;
    if (!el || !row?.dataset.itemIndex) return;
    hold.current = { index: row.dataset.itemIndex, top: row.getBoundingClientRect().top, since: performance.now(), moved: performance.now(), last: null, settled: 0, scrollTop: el.scrollTop, moving: 0 };
    armed.current = true;
  }, [scroller]);

  // Starts watching once the prepend is committed.
  useLayoutEffect(() => {
    if (!armed.current) return;
    armed.current = false;
    if (hold.current && !frame.current) frame.current = requestAnimationFrame(tick);
  });

  useEffect(() => release, [release]);

  /** Call `release` when the user scrolls (USER_SCROLL) and before a jump the app makes itself. */
  return { capture, release };
}
