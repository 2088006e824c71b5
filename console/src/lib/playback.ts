// Recorded playback without the DOM (tested under Node): which segments a player window holds,
// and the mapping between the window's media time and the wall clock.
//
// Shapes follow `SegmentView` and `GapView` (crates/roeh-api/src/recordings.rs).
//
// Invariants:
// - a window starts at a segment's start (a key frame), so the MP4 of [first.start, last.end)
//   begins exactly at media time 0 = first.start_us;
// - segments are laid end to end in the MP4, gaps closed up: the mapping is piecewise, segment by
//   segment, so a time after a gap maps to the right wall time;
// - `wallAt(mediaAt(t)) == t` for every t inside a segment of the window.

export interface Seg {
  start_us: number;
  end_us: number;
  duration_secs: number;
}

export interface GapInfo {
  start_us: number;
  end_us: number | null;
  reason: string;
}

/** The longest window loaded at once, seconds of media. */
export const WINDOW_SECS = 300;

/** The segments to play from wall time `t` (µs): the one holding `t`, or the first after it, and
 * those that follow, up to `maxSecs` of media. Null when nothing is recorded at or after `t`. */
export function windowAt(segs: readonly Seg[], t: number, maxSecs = WINDOW_SECS): Seg[] | null {
  const sorted = [...segs].sort((a, b) => a.start_us - b.start_us);
  const i = sorted.findIndex((s) => s.end_us > t);
  if (i < 0) return null;
  const out: Seg[] = [];
  let secs = 0;
  for (const s of sorted.slice(i)) {
    if (out.length > 0 && secs + s.duration_secs > maxSecs) break;
    out.push(s);
    secs += s.duration_secs;
  }
  return out;
}

/** The wall time (µs) shown at media time `media` (s) of the window `win`. */
export function wallAt(win: readonly Seg[], media: number): number | null {
  let offset = 0;
  for (const s of win) {
    if (media < offset + s.duration_secs || s === win[win.length - 1]) {
      return s.start_us + Math.max(0, media - offset) * 1e6;
    }
    offset += s.duration_secs;
  }
  return null;
}

/** The media time (s) of wall time `t` (µs) in `win`; a time in a gap maps to the start of the
 * next segment; null outside the window. */
export function mediaAt(win: readonly Seg[], t: number): number | null {
  let offset = 0;
  for (const s of win) {
    if (t < s.start_us) return offset;
    if (t < s.end_us) return offset + (t - s.start_us) / 1e6;
    offset += s.duration_secs;
  }
  return null;
}

/** Parts of [from, to) as fractions 0..1, clipped (for drawing bars on a timeline). */
export function span(from: number, to: number, start: number, end: number): [number, number] | null {
  const a = Math.max(from, start);
  const b = Math.min(to, end);
  if (b <= a) return null;
  return [(a - from) / (to - from), (b - from) / (to - from)];
}

/** Local midnight of the day `date` (`YYYY-MM-DD`) plus `hour` hours, µs; null if not a date. */
export function hourStart(date: string, hour: number): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m || hour < 0 || hour > 23) return null;
  const [y, mo, day] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const d = new Date(y, mo, day, hour, 0, 0, 0);
  // No rolling over: 2026-13-06 or 2026-02-31 are not dates.
  if (Number.isNaN(d.getTime()) || d.getMonth() !== mo || d.getDate() !== day) return null;
  return d.getTime() * 1000;
}
