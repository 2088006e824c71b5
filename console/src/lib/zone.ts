// The site's time zone: every time the console shows is in it (the zone of `[alerts] time_zone`,
// sent by `GET /api/auth/me`), so an operator, a unit and an investigator read the same hour
// wherever their browser is set. Without it (before sign-in), the browser's own zone. No DOM.
//
// Invariants:
// - an unknown zone name is refused and the previous zone kept;
// - `wallOf(partsOf(t)) == t` for every instant (to the second), across daylight-saving changes;
//   a local time that exists twice (autumn) maps to the first instant, one that does not exist
//   (the hour skipped in spring) moves forward by the skipped hour, as a wall clock does.

let zone: string | undefined;
let parts: Intl.DateTimeFormat | undefined;

function formatter(z: string | undefined): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    ...(z ? { timeZone: z } : {}),
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** Uses `z` (an IANA name) from now on; false (and nothing changed) when it is not a zone. */
export function setSiteZone(z: string | undefined): boolean {
  try {
    const f = formatter(z);
    zone = z;
    parts = f;
    return true;
  } catch {
    return false;
  }
}

/** The zone in use (`undefined`: the browser's). */
export function siteZone(): string | undefined {
  return zone;
}

/** Calendar fields of the instant `ms` (milliseconds since 1970) in the site's zone. */
export interface Fields {
  year: number;
  month: number; // 1–12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function fieldsOf(ms: number): Fields {
  return fieldsWith((parts ??= formatter(zone)), ms);
}

/** Calendar fields of the instant `ms` in the zone `z` (an IANA name; a schedule's own zone),
 * or in the site's zone when `z` is not a zone. */
export function fieldsIn(ms: number, z: string): Fields {
  let f: Intl.DateTimeFormat;
  try {
    f = formatter(z);
  } catch {
    return fieldsOf(ms);
  }
  return fieldsWith(f, ms);
}

function fieldsWith(f: Intl.DateTimeFormat, ms: number): Fields {
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return {
    year: out.year ?? 1970,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: out.hour ?? 0,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** The zone's offset from UTC at the instant `ms`, ms. */
function offsetAt(ms: number): number {
  const g = fieldsOf(ms);
  return Date.UTC(g.year, g.month - 1, g.day, g.hour, g.minute, g.second) - Math.floor(ms / 1000) * 1000;
}

/** The instant (ms) whose fields in the site's zone are `f`. */
export function msOf(f: Fields): number {
  const asUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  // The offsets half a day either side cover any change of offset near that time.
  const day = 12 * 3600 * 1000;
  const candidates = [asUtc - offsetAt(asUtc - day), asUtc - offsetAt(asUtc + day)];
  const same = (t: number) => {
    const g = fieldsOf(t);
    return g.year === f.year && g.month === f.month && g.day === f.day && g.hour === f.hour &&
      g.minute === f.minute && g.second === f.second;
  };
  const valid = candidates.filter(same).sort((a, b) => a - b);
  // Twice (autumn): the first; never (the hour skipped in spring): moved forward by the skip.
  return valid[0] ?? (candidates[0] as number);
}
