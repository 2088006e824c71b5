// Wall-clock time as the server counts it: integer microseconds since the Unix epoch.
//
// Invariants:
// - `parseWallTime` accepts exactly what `roeh_domain::WallTime::parse` accepts
//   (crates/roeh-domain/src/time.rs): integer microseconds, or RFC 3339
//   `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with `T`, `t` or a space between date and time,
//   fractions cut (not rounded) to microseconds, a leap second `:60` counted as the next second,
//   and day numbers up to 31 in every month (the civil-date arithmetic carries them over);
// - it never throws; `null` is "not a time";
// - microsecond counts of this era (~1.8e15) are exact in a JS number (< 2^53).

/** Microseconds since the Unix epoch. */
export type Micros = number;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Howard Hinnant's days-from-civil, proleptic Gregorian (as in the server). */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Digits only (ASCII), as a number; `null` otherwise. */
function digits(s: string, from: number, to: number): number | null {
  if (to > s.length) return null;
  const t = s.slice(from, to);
  if (!/^[0-9]+$/.test(t)) return null;
  return Number(t);
}

/**
 * Parses a server time: RFC 3339 or integer microseconds. Port of `WallTime::parse`.
 */
export function parseWallTime(s: string): Micros | null {
  // Rust's `str::parse::<i64>`: optional sign, ASCII digits, within i64.
  if (/^[+-]?[0-9]+$/.test(s)) {
    const v = BigInt(s);
    if (v >= I64_MIN && v <= I64_MAX) return Number(v);
    return null;
  }
  // The server measures length in UTF-8 bytes; any non-ASCII byte fails a check below anyway,
  // so text that is not ASCII is refused outright.
  if (!/^[\x00-\x7f]*$/.test(s)) return null;
  if (s.length < 20 || s.length > 40) return null;
  const sep = s[10];
  if (s[4] !== '-' || s[7] !== '-' || !(sep === 'T' || sep === 't' || sep === ' ')) return null;
  if (s[13] !== ':' || s[16] !== ':') return null;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 7);
  const d = digits(s, 8, 10);
  const h = digits(s, 11, 13);
  const mi = digits(s, 14, 16);
  const se = digits(s, 17, 19);
  if (y === null || mo === null || d === null || h === null || mi === null || se === null) {
    return null;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return null;
  let i = 19;
  let micros = 0;
  if (s[i] === '.') {
    i += 1;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i += 1;
    const frac = s.slice(start, i);
    if (frac.length === 0) return null;
    micros = Number(frac.slice(0, 6).padEnd(6, '0'));
  }
  const rest = s.slice(i);
  let offsetSecs: number;
  if (rest === 'Z' || rest === 'z') {
    offsetSecs = 0;
  } else if (rest.length === 6 && (rest[0] === '+' || rest[0] === '-')) {
    if (rest[3] !== ':') return null;
    const oh = digits(s, i + 1, i + 3);
    const om = digits(s, i + 4, i + 6);
    if (oh === null || om === null) return null;
    offsetSecs = (rest[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  } else {
    return null;
  }
  const days = daysFromCivil(y, mo, d);
  const secs = days * 86400 + h * 3600 + mi * 60 + se - offsetSecs;
  return secs * 1_000_000 + micros;
}

/** Milliseconds (as `Date.now()` gives them) to microseconds. */
export function msToMicros(ms: number): Micros {
  return Math.round(ms) * 1000;
}
