// Formatting of times, durations, distances and ids for the queue. No DOM.
//
// Invariants:
// - durations are written with ASCII digits and colons only (`m:ss`, `h:mm:ss`), the same in
//   both languages; the UI wraps them in <bdi> so right-to-left text never reorders them;
// - clock times are in the site's time zone (./zone.ts), 24-hour `HH:MM:SS`;
// - nothing here throws on a malformed server time: it formats as "—".

import { type Micros, parseWallTime } from './time';
import { fieldsOf } from './zone';

/** Text for a value that cannot be shown. */
export const NOTHING = '—';

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** A non-negative duration in microseconds as `m:ss` (under an hour) or `h:mm:ss`. */
export function formatDuration(us: Micros): string {
  const total = Math.max(0, Math.floor(us / 1_000_000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`;
}

/** How long ago `since` (RFC 3339) was at `now`; "—" when `since` is not a time. */
export function formatAge(since: string, now: Micros): string {
  const t = parseWallTime(since);
  return t === null ? NOTHING : formatDuration(now - t);
}

/** Time left until a deadline. */
export interface Countdown {
  /** Whether the deadline has passed. */
  overdue: boolean;
  /** The time left (or, when overdue, past the deadline), as `formatDuration` writes it. */
  text: string;
}

/** Time left until `deadline` (RFC 3339) at `now`; `null` when it is not a time. A deadline
 * within the current second counts as not yet passed. */
export function countdown(deadline: string, now: Micros): Countdown | null {
  const t = parseWallTime(deadline);
  if (t === null) return null;
  const left = t - now;
  if (left >= 0) return { overdue: false, text: formatDuration(left + 999_999) };
  return { overdue: true, text: formatDuration(-left) };
}

/** A server time as `HH:MM:SS` in the site's zone; "—" when it is not a time. */
export function formatClock(t: string): string {
  const us = parseWallTime(t);
  if (us === null) return NOTHING;
  const f = fieldsOf(Math.floor(us / 1000));
  return `${pad2(f.hour)}:${pad2(f.minute)}:${pad2(f.second)}`;
}

/** A server time as `YYYY-MM-DD HH:MM:SS` in the site's zone; "—" when it is not a time. */
export function formatDateTime(t: string): string {
  const us = parseWallTime(t);
  if (us === null) return NOTHING;
  const f = fieldsOf(Math.floor(us / 1000));
  return `${f.year}-${pad2(f.month)}-${pad2(f.day)} ${formatClock(t)}`;
}

/** The first block of a UUID, enough to tell alerts apart on screen. */
export function shortId(id: string): string {
  const i = id.indexOf('-');
  return i > 0 ? id.slice(0, i) : id.slice(0, 8);
}

/** A distance in metres: whole metres under 1 km, else km with one decimal. Returns the number
 * text and which unit it is in, so the catalog supplies the unit's name. */
export function formatDistance(m: number): { value: string; unit: 'm' | 'km' } {
  if (!Number.isFinite(m) || m < 0) return { value: NOTHING, unit: 'm' };
  if (m < 1000) return { value: String(Math.round(m)), unit: 'm' };
  return { value: (m / 1000).toFixed(1), unit: 'km' };
}

/** `s` wrapped in Unicode first-strong isolate marks (U+2068 … U+2069), for text where <bdi>
 * cannot go (an <option>, an announcement): a name in another script never reorders the
 * sentence around it. */
export function isolate(s: string): string {
  return `\u2068${s}\u2069`;
}
