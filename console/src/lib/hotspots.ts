// The supervisor's side of the console, without DOM: hotspot, schedule and rule documents as the
// editor holds them and as the server takes them (crates/roeh-rules: `Hotspot`, `Schedule`,
// `Rule`), points picked on a camera's picture, and which part of the editor a server refusal
// concerns.
//
// Invariants:
// - the documents sent are exactly what the editor shows: nothing is validated or corrected
//   here beyond reading numbers, so every refusal is the server's own message;
// - a point picked on the picture is a fraction of its width and height in [0, 1], from the top
//   left, whatever the page's direction (the picture is never mirrored);
// - `partOf` only names a part the editor has; anything else is the form's own message.

/** A point `[x, y]`: fractions of the picture's width and height. */
export type Pt = [number, number];

export interface ZoneDoc {
  id: string;
  camera: string;
  name: string;
  polygon: Pt[];
}

export type Direction = 'a_to_b' | 'b_to_a' | 'both';

export interface LineDoc {
  id: string;
  camera: string;
  name: string;
  line: Pt[];
  direction: Direction;
}

export interface DateRangeDoc {
  from: string;
  to: string;
  label?: string;
}

export interface WindowDoc {
  days: string[];
  from: string;
  to: string;
}

export interface ScheduleDoc {
  tz: string;
  always?: boolean;
  windows?: WindowDoc[];
  dates?: DateRangeDoc[];
  except?: DateRangeDoc[];
  all_day?: DateRangeDoc[];
}

export interface HotspotDoc {
  id?: string;
  name: string;
  lat: number;
  lon: number;
  priority: number;
  cameras: string[];
  zones: ZoneDoc[];
  lines: LineDoc[];
  schedule: ScheduleDoc;
}

/** `HotspotView`. */
export interface HotspotView {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
  hotspot: HotspotDoc;
  /** Armed by its schedule at the server's time of the answer. */
  armed_now: boolean;
}

/** `RuleView`. */
export interface RuleView {
  id: string;
  hotspot_id: string;
  enabled: boolean;
  rule: Record<string, unknown>;
}

/** `PreviewView` of `POST /api/schedules/preview`. */
export interface PreviewView {
  now: string;
  armed_now: boolean;
  changes: { at: string; armed: boolean }[];
  horizon_days: number;
}

/** The days in the order the editor shows them (the site's week starts on Sunday). */
export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** The editor's schedule: every list present, text as typed. */
export interface ScheduleForm {
  tz: string;
  always: boolean;
  windows: WindowDoc[];
  allDay: DateRangeDoc[];
  dates: DateRangeDoc[];
  except: DateRangeDoc[];
}

/** A new schedule in `tz`: every night 22:00–06:00, the usual start for a hotspot. */
export function newSchedule(tz: string): ScheduleForm {
  return { tz, always: false, windows: [everyNight()], allDay: [], dates: [], except: [] };
}

/** A window on every day from 22:00 to 06:00. */
export function everyNight(): WindowDoc {
  return { days: [...DAYS], from: '22:00', to: '06:00' };
}

/** The editor's form of a stored schedule (days in the editor's order). */
export function scheduleForm(s: ScheduleDoc): ScheduleForm {
  const ranges = (r: DateRangeDoc[] | undefined) => (r ?? []).map((x) => ({ ...x }));
  return {
    tz: s.tz,
    always: s.always === true,
    windows: (s.windows ?? []).map((w) => ({
      days: DAYS.filter((d) => w.days.some((x) => x.toLowerCase().startsWith(d))),
      from: w.from,
      to: w.to,
    })),
    allDay: ranges(s.all_day),
    dates: ranges(s.dates),
    except: ranges(s.except),
  };
}

/** The document sent for the editor's schedule: text trimmed, empty labels and lists left out. */
export function scheduleDoc(f: ScheduleForm): ScheduleDoc {
  const ranges = (r: DateRangeDoc[]) =>
    r.map((x) => {
      const label = x.label?.trim();
      return { from: x.from.trim(), to: x.to.trim(), ...(label ? { label } : {}) };
    });
  const doc: ScheduleDoc = { tz: f.tz.trim() };
  if (f.always) doc.always = true;
  if (f.windows.length) doc.windows = f.windows.map((w) => ({ days: [...w.days], from: w.from.trim(), to: w.to.trim() }));
  if (f.allDay.length) doc.all_day = ranges(f.allDay);
  if (f.dates.length) doc.dates = ranges(f.dates);
  if (f.except.length) doc.except = ranges(f.except);
  return doc;
}

/** A number typed in a field, or NaN (which the server refuses naming the field). */
export function numberOf(s: string): number {
  const t = s.trim().replace(',', '.');
  return t === '' ? NaN : Number(t);
}

/** The point under a click at (`x`, `y`) on a picture drawn in `rect`, rounded to 1/10000. */
export function pointIn(x: number, y: number, rect: { left: number; top: number; width: number; height: number }): Pt | null {
  if (!(rect.width > 0 && rect.height > 0)) return null;
  const f = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
  return [f((x - rect.left) / rect.width), f((y - rect.top) / rect.height)];
}

/** Points as typed: `x,y` pairs separated by spaces or semicolons; null if any is not a pair. */
export function parsePoints(s: string): Pt[] | null {
  const parts = s.split(/[\s;]+/).filter((p) => p !== '');
  const out: Pt[] = [];
  for (const p of parts) {
    const m = /^(-?\d*\.?\d+),(-?\d*\.?\d+)$/.exec(p);
    if (!m) return null;
    out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

/** Points as the editor writes them. */
export function pointsText(ps: readonly Pt[]): string {
  return ps.map(([x, y]) => `${x},${y}`).join(' ');
}

/** An id not yet used among `taken`: `prefix-1`, `prefix-2`, … */
export function freeId(prefix: string, taken: readonly string[]): string {
  for (let i = 1; ; i++) {
    const id = `${prefix}-${i}`;
    if (!taken.includes(id)) return id;
  }
}

/** The part of the hotspot editor a refusal concerns, with the index of the zone or line or
 * schedule row it names. */
export type Part =
  | { part: 'name' | 'lat' | 'lon' | 'priority' | 'cameras' | 'schedule'; index: null }
  | { part: 'zones' | 'lines'; index: number };

/** Which part of the hotspot editor the server's `message` names (see roeh-rules' `Hotspot`:
 * `hotspot "…" (id): zones[0].polygon: …`, `… schedule: schedule.windows[0].from: …`, and the
 * preview's `schedule.…`); null for anything else. */
export function partOf(message: string): Part | null {
  const m = /(?:^|\):\s*|":\s*)(name|lat|lon|priority|cameras|zones|lines|schedule)\b(?:\[(\d+)\])?/.exec(message);
  if (!m) return null;
  const part = m[1] as Part['part'];
  if (part === 'zones' || part === 'lines') return { part, index: m[2] !== undefined ? Number(m[2]) : 0 };
  return { part, index: null } as Part;
}

/** The rule kinds the editor offers, with the fields each needs. */
export const RULE_KINDS = ['intrusion', 'loitering', 'crowding', 'line_crossing', 'tamper'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/** The rule editor's fields, as typed. */
export interface RuleForm {
  name: string;
  kind: RuleKind;
  /** The zone, or for a line crossing the line. */
  target: string;
  dwellSecs: string;
  minCount: string;
  forSecs: string;
  /** Tamper: seconds without frames, seconds of a frozen picture, darkest mean luma (any of
   * them; empty ones are left out). */
  noFramesSecs: string;
  frozenSecs: string;
  darkLumaMax: string;
  severity: string;
  cooldownSecs: string;
  minConfidence: string;
}

export function newRule(): RuleForm {
  return {
    name: '',
    kind: 'intrusion',
    target: '',
    dwellSecs: '60',
    minCount: '5',
    forSecs: '10',
    noFramesSecs: '30',
    frozenSecs: '',
    darkLumaMax: '',
    severity: 'high',
    cooldownSecs: '60',
    minConfidence: '0.5',
  };
}

/** The rule document for `hotspot`: only the fields of its kind. */
export function ruleDoc(hotspot: string, f: RuleForm): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    hotspot,
    name: f.name.trim(),
    kind: f.kind,
    severity: f.severity,
    cooldown_secs: numberOf(f.cooldownSecs),
    min_confidence: numberOf(f.minConfidence),
  };
  if (f.kind === 'line_crossing') doc.line = f.target;
  else if (f.kind !== 'tamper') doc.zone = f.target;
  if (f.kind === 'tamper') {
    if (f.noFramesSecs.trim() !== '') doc.no_frames_secs = numberOf(f.noFramesSecs);
    if (f.frozenSecs.trim() !== '') doc.frozen_secs = numberOf(f.frozenSecs);
    if (f.darkLumaMax.trim() !== '') doc.dark_luma_max = numberOf(f.darkLumaMax);
  }
  if (f.kind === 'loitering') doc.dwell_secs = numberOf(f.dwellSecs);
  if (f.kind === 'crowding') {
    doc.min_count = numberOf(f.minCount);
    doc.for_secs = numberOf(f.forSecs);
  }
  return doc;
}

/** The rule form's fields a refusal can name. */
export const RULE_FIELDS = [
  'name',
  'zone',
  'line',
  'dwell_secs',
  'min_count',
  'for_secs',
  'no_frames_secs',
  'frozen_secs',
  'dark_luma_max',
  'severity',
  'cooldown_secs',
  'min_confidence',
] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

/** Which rule field `message` names (`rule "…" (id): min_confidence: …`); null otherwise. */
export function ruleFieldOf(message: string): RuleField | null {
  const f = (/\):\s*([a-z_]+)\b/.exec(message) ?? /^([a-z_]+):/.exec(message))?.[1];
  return f !== undefined && (RULE_FIELDS as readonly string[]).includes(f) ? (f as RuleField) : null;
}

/** `DetectionsView` of `GET /api/cameras/{id}/detections`. */
export interface DetectionsView {
  analysis_on: boolean;
  decoding: boolean;
  at: string | null;
  width: number | null;
  height: number | null;
  model_id: string;
  objects: { label: string; score: number; bbox: [number, number, number, number] }[];
  /** With `?frame=true`: the frame the objects were found in, as a JPEG `data:` URL. */
  frame?: string;
}

/** Where the rule engine places a detection: the middle of its box's bottom edge (the feet). */
export function footOf(bbox: readonly [number, number, number, number]): Pt {
  return [(bbox[0] + bbox[2]) / 2, bbox[3]];
}

/** Whether `p` lies inside `polygon` (even-odd rule; fewer than three points hold nothing). */
export function inPolygon(p: Pt, polygon: readonly Pt[]): boolean {
  if (polygon.length < 3) return false;
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** How many of `objects` stand in `polygon` (by their feet). */
export function countIn(objects: DetectionsView['objects'], polygon: readonly Pt[]): number {
  return objects.filter((o) => inPolygon(footOf(o.bbox), polygon)).length;
}
