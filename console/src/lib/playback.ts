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
// - `wallAt(mediaAt(t)) == t` for every t inside a segment of the window;
// - days and hours are the site's (./zone.ts).

import { fieldsOf, msOf } from './zone';

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

/** The start of hour `hour` of the day `date` (`YYYY-MM-DD`) in the site's zone, µs; null if
 * not a date. */
export function hourStart(date: string, hour: number): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m || hour < 0 || hour > 23) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // No rolling over: 2026-13-06 or 2026-02-31 are not dates.
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return msOf({ year, month, day, hour, minute: 0, second: 0 }) * 1000;
}

/** `YYYY-MM-DD` and the hour of the instant `us` in the site's zone. */
export function dayAndHour(us: number): { date: string; hour: number } {
  const f = fieldsOf(Math.floor(us / 1000));
  const p = (n: number) => String(n).padStart(2, '0');
  return { date: `${f.year}-${p(f.month)}-${p(f.day)}`, hour: f.hour };
}
