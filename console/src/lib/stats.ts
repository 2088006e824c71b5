// The situational picture and enforcement operations without DOM: the API's shapes
// (crates/roeh-api/src/stats.rs, crates/roeh-stats; response times from
// crates/roeh-api/src/reports.rs), the default range, query paths, the heat grid's classes, the
// charts' data, a rate ratio in words, and the phenomena an operation offers.
//
// Invariants:
// - dates are the site's local calendar dates (`YYYY-MM-DD`, `to` included), as the API reads
//   them; the response-time report reads RFC 3339 with `to` excluded, so its bounds are the
//   local midnights of `from` and of the day after `to` (./zone.ts);
// - a chart's x is the index of a period (the API's labels: `2026-W01`, …), the same for every
//   series: an external series is aligned by its period labels, a missing one is a gap (null);
// - a rate ratio is "more than noise" only when its 95 % interval lies wholly on one side of 1
//   (`roeh_stats::rate::RateRatio::significant`).

import { msOf } from './zone';

// ----- shapes -----

export interface Counted {
  key: string;
  count: number;
}

export interface HotspotCount {
  hotspot: string;
  name: string;
  lat: number | null;
  lon: number | null;
  count: number;
}

export interface Trend {
  periods: string[];
  total: number[];
  by_hotspot: { hotspot: string; counts: number[] }[];
}

export type Interval = 'day' | 'week' | 'month';
export const INTERVALS: readonly Interval[] = ['day', 'week', 'month'];

/** `GET /api/stats/incidents`. */
export interface IncidentStats {
  from: string;
  to: string;
  time_zone: string;
  interval: Interval;
  total: number;
  by_hotspot: HotspotCount[];
  by_camera: { camera: string; name: string; count: number }[];
  by_kind: Counted[];
  by_severity: Counted[];
  by_outcome: Counted[];
  by_source: Counted[];
  heat: { all: number[][]; by_hotspot: { hotspot: string; grid: number[][] }[] };
  trend: Trend;
}

export interface PrecisionRow {
  rule: string | null;
  camera: string;
  camera_name: string;
  kind: string;
  confirmed: number;
  false_alarms: number;
  precision: number | null;
}

export interface UnitLoad {
  unit: string;
  name: string;
  dispatches: number;
  arrived: number;
}

/** `GET /api/stats/alerts`. */
export interface AlertStats {
  from: string;
  to: string;
  time_zone: string;
  interval: Interval;
  total: number;
  by_hotspot: HotspotCount[];
  by_outcome: Counted[];
  by_severity: Counted[];
  trend: Trend;
  precision: PrecisionRow[];
  units: UnitLoad[];
}

export interface ExternalSeries {
  source: string;
  category: string;
  area: { kind: 'hotspot' | 'district'; value: string };
  area_name: string;
  counts: number[];
}

/** `GET /api/stats/external`. */
export interface ExternalStats {
  periods: string[];
  series: ExternalSeries[];
}

/** One imported file (`GET /api/stats/imports`). */
export interface ImportView {
  id: string;
  source: string;
  file_name: string;
  rows: number;
  first_day: string;
  last_day: string;
  imported_by: string;
  imported_at: string;
}

export const SOURCES = ['police', 'city', 'survey', 'other'] as const;
export type Source = (typeof SOURCES)[number];

/** `roeh_alerts::shifts::DurationStats`. */
export interface DurationStats {
  count: number;
  median_secs: number | null;
  p90_secs: number | null;
}

/** A row of `GET /api/reports/response-times?group=hotspot`. */
export interface ResponseRow {
  hotspot: string | null;
  shift: string | null;
  alerts: number;
  false_alarms: number;
  dispatched: number;
  arrived: number;
  to_claim: DurationStats;
  to_dispatch: DurationStats;
  raised_to_arrive: DurationStats;
}

export interface ResponseTimes {
  from: string;
  to: string;
  time_zone: string;
  group: string;
  rows: ResponseRow[];
}

/** An operation's daily window (local times, `until` may be past midnight). */
export interface OpWindow {
  from: string;
  to: string;
}

/** `GET /api/operations` (one). */
export interface Operation {
  id: string;
  name: string;
  start: string;
  end: string;
  window?: OpWindow | null;
  hotspots: string[];
  kinds: string[];
  comparison: string[];
  created_by: string;
  created_at: string;
}

/** `POST /api/operations`. */
export interface OperationBody {
  name: string;
  start: string;
  end: string;
  window?: OpWindow;
  hotspots: string[];
  kinds: string[];
  comparison: string[];
}

export interface PhaseFigures {
  first_day: string;
  last_day: string;
  hours: number;
  incidents: number;
  comparison_incidents: number;
  rate_per_100h: number;
}

/** `roeh_stats::rate::RateRatio`. */
export interface RateRatio {
  ratio: number | null;
  low: number;
  high: number;
  dispersion: number;
}

export type Phase = 'before' | 'during' | 'after';
export const PHASES: readonly Phase[] = ['before', 'during', 'after'];

export interface EffectWeek {
  first_day: string;
  phase: Phase;
  incidents: number;
  comparison_incidents: number;
}

/** `GET /api/operations/{id}/effect`. */
export interface Effect {
  operation: Operation;
  time_zone: string;
  before: PhaseFigures | null;
  during: PhaseFigures | null;
  after: PhaseFigures | null;
  during_vs_before: RateRatio | null;
  after_vs_before: RateRatio | null;
  during_vs_comparison: RateRatio | null;
  weeks: EffectWeek[];
}

// ----- dates and the range -----

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A calendar date as `YYYY-MM-DD`. */
function dateText(d: Date): string {
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** `YYYY-MM-DD` as a UTC-midnight Date, or null when it is no real date. */
export function parseDate(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const v = new Date(Date.UTC(y, mo - 1, d));
  return v.getUTCMonth() === mo - 1 && v.getUTCDate() === d ? v : null;
}

/** The dates `n` days after `s` (`YYYY-MM-DD`). */
export function addDays(s: string, n: number): string {
  const d = parseDate(s);
  if (!d) return s;
  return dateText(new Date(d.getTime() + n * 86_400_000));
}

export interface DateRange {
  from: string;
  to: string;
}

/** The last 12 full ISO weeks before the week of `today` (`YYYY-MM-DD`, local): Monday to
 * Sunday, both included. */
export function defaultRange(today: string, weeks = 12): DateRange {
  const d = parseDate(today) ?? new Date(0);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const monday = dateText(new Date(d.getTime() - weekday * 86_400_000));
  return { from: addDays(monday, -7 * weeks), to: addDays(monday, -1) };
}

/** The last `months` months up to and including `today` (`YYYY-MM-DD`, local): from the day
 * after the same date `months` months earlier (a day the shorter month lacks is its last day). */
export function lastMonths(today: string, months = 12): DateRange {
  const d = parseDate(today) ?? new Date(0);
  const m = d.getUTCFullYear() * 12 + d.getUTCMonth() - months;
  const [y, mo] = [Math.floor(m / 12), ((m % 12) + 12) % 12];
  const lastDay = new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
  const earlier = dateText(new Date(Date.UTC(y, mo, Math.min(d.getUTCDate(), lastDay))));
  return { from: addDays(earlier, 1), to: dateText(d) };
}

/** Whether `r` is two real dates in order. */
export function rangeOk(r: DateRange): boolean {
  const a = parseDate(r.from);
  const b = parseDate(r.to);
  return a !== null && b !== null && a.getTime() <= b.getTime();
}

/** The instants of a local date range for APIs that read RFC 3339 with the end excluded: the
 * site's midnight starting `from`, and the one ending `to`. */
export function instantsOf(r: DateRange): { from: string; to: string } | null {
  const a = parseDate(r.from);
  const b = parseDate(r.to);
  if (!a || !b) return null;
  const midnight = (d: Date) =>
    new Date(
      msOf({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0 }),
    ).toISOString();
  return { from: midnight(a), to: midnight(new Date(b.getTime() + 86_400_000)) };
}

// ----- paths -----

export interface StatsQuery extends DateRange {
  interval: Interval;
  hotspot?: string;
  kind?: string;
}

// Parameters are object keys, never string literals: the bundle must not hold `from"` (the
// build test takes that for a module import).
function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  return q.toString();
}

export function incidentsPath(q: StatsQuery): string {
  return `/api/stats/incidents?${query({ from: q.from, to: q.to, hotspot: q.hotspot, kind: q.kind, interval: q.interval })}`;
}

export function alertsPath(q: StatsQuery): string {
  return `/api/stats/alerts?${query({ from: q.from, to: q.to, hotspot: q.hotspot, interval: q.interval })}`;
}

export function externalPath(q: StatsQuery): string {
  return `/api/stats/external?${query({ from: q.from, to: q.to, interval: q.interval })}`;
}

/** The response-time report of the same days, per hotspot; null when the range is no range. */
export function responseTimesPath(q: StatsQuery): string | null {
  const i = instantsOf(q);
  if (!i) return null;
  return `/api/reports/response-times?${query({ from: i.from, to: i.to, hotspot: q.hotspot, group: 'hotspot' })}`;
}

export function importPath(source: string, fileName: string): string {
  return `/api/stats/imports?${query({ source, file_name: fileName })}`;
}

export function operationPath(id: string, effect = false): string {
  return `/api/operations/${encodeURIComponent(id)}${effect ? '/effect' : ''}`;
}

// ----- figures -----

/** The count under `key` in a breakdown (0 when absent). */
export function countOf(list: readonly Counted[], key: string): number {
  return list.find((c) => c.key === key)?.count ?? 0;
}

/** The share of `part` in `whole` as a whole percentage (`12 %`), or null when `whole` is 0. */
export function percent(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 100) : null;
}

/** A number with at most `digits` decimals, trailing zeros kept (`0.61`). */
export function fixed(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '∞';
}

/** How many heat classes there are above zero (`heat-1` … `heat-6`). */
export const HEAT_LEVELS = 6;

/** The largest cell of a grid (0 for an empty one). */
export function gridMax(grid: readonly (readonly number[])[]): number {
  return grid.reduce((m, row) => row.reduce((a, b) => Math.max(a, b), m), 0);
}

/** The class of a heat cell: `heat-0` for nothing, else `heat-1` … `heat-6` by its share of the
 * grid's largest cell (the largest is always `heat-6`, any count above zero at least `heat-1`). */
export function heatClass(count: number, max: number): string {
  if (!(count > 0) || !(max > 0)) return 'heat-0';
  const level = Math.min(HEAT_LEVELS, Math.max(1, Math.ceil((count / max) * HEAT_LEVELS)));
  return `heat-${level}`;
}

/** A 7 × 24 grid whatever the server sent (missing cells 0), Monday first. */
export function fullGrid(grid: readonly (readonly number[])[] | undefined): number[][] {
  return Array.from({ length: 7 }, (_, d) => Array.from({ length: 24 }, (_, h) => Number(grid?.[d]?.[h] ?? 0) || 0));
}

/** A map circle's radius for `count` of `max`: area proportional to the count, 5 to 30. */
export function bubbleRadius(count: number, max: number): number {
  if (!(max > 0) || !(count > 0)) return 5;
  return Math.round(5 + 25 * Math.sqrt(Math.min(1, count / max)));
}

// ----- charts -----

/** A series of a chart: its label's parts and one value per period (null: no value). */
export interface Line {
  /** What it counts: `total`, a hotspot's id, or an external series. */
  kind: 'total' | 'hotspot' | 'external';
  /** The hotspot's name, or the external series' area name. */
  name: string;
  /** For an external series: its source and category. */
  source?: string;
  category?: string;
  values: (number | null)[];
}

export interface Chart {
  periods: string[];
  lines: Line[];
}

/** The trend chart: incidents in total and per hotspot, then each external series aligned to
 * the incidents' periods by label (an external period outside them is dropped). */
export function trendChart(inc: Pick<IncidentStats, 'trend' | 'by_hotspot'>, external?: ExternalStats | null): Chart {
  const periods = inc.trend.periods;
  const n = periods.length;
  const fit = (v: readonly number[]) => Array.from({ length: n }, (_, i) => (i < v.length ? (v[i] ?? null) : null));
  const nameOf = new Map(inc.by_hotspot.map((h) => [h.hotspot, h.name]));
  const lines: Line[] = [{ kind: 'total', name: '', values: fit(inc.trend.total) }];
  for (const h of inc.trend.by_hotspot) {
    lines.push({ kind: 'hotspot', name: nameOf.get(h.hotspot) ?? h.hotspot.slice(0, 8), values: fit(h.counts) });
  }
  if (external) {
    const at = new Map(external.periods.map((p, i) => [p, i]));
    for (const s of external.series) {
      lines.push({
        kind: 'external',
        name: s.area_name,
        source: s.source,
        category: s.category,
        values: periods.map((p) => {
          const i = at.get(p);
          return i === undefined ? null : (s.counts[i] ?? null);
        }),
      });
    }
  }
  return { periods, lines };
}

/** uPlot's data of a chart: x the period index, then one array per line. */
export function plotData(c: Chart): [number[], ...(number | null)[][]] {
  return [c.periods.map((_, i) => i), ...c.lines.map((l) => l.values)];
}

/** The trend chart split by what its lines count, each part with its own scale: the total, the
 * hotspots, and the imported series (the periods are the same in all three). */
export function splitChart(c: Chart): { total: Chart; hotspots: Chart; external: Chart } {
  const of = (kind: Line['kind']): Chart => ({ periods: c.periods, lines: c.lines.filter((l) => l.kind === kind) });
  return { total: of('total'), hotspots: of('hotspot'), external: of('external') };
}

/** Per-member averages of summed counts: each value divided by `members`, to one decimal
 * (null where there is no value; all null when there are no members). */
export function averageSeries(values: readonly (number | null)[], members: number): (number | null)[] {
  return values.map((v) => (v === null || !(members > 0) ? null : Math.round((v / members) * 10) / 10));
}

/** The weekly chart of an operation: the target's counts per week, the comparison's as the
 * average comparison hotspot (its sum over `comparisonHotspots`; null without any), and each
 * week's phase. */
export function effectChart(
  weeks: readonly EffectWeek[],
  comparisonHotspots = 1,
): { periods: string[]; phases: Phase[]; target: number[]; comparison: (number | null)[] } {
  return {
    periods: weeks.map((w) => w.first_day),
    phases: weeks.map((w) => w.phase),
    target: weeks.map((w) => w.incidents),
    comparison: averageSeries(
      weeks.map((w) => w.comparison_incidents),
      comparisonHotspots,
    ),
  };
}

// ----- the weekly report -----

/** The ISO week of a calendar date (its UTC fields), as `<input type="week">` writes it:
 * `2026-W49`. */
export function isoWeek(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = (day.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  // The week's Thursday decides its year.
  const thursday = new Date(day.getTime() + (3 - weekday) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  const week = Math.floor((thursday.getTime() - jan1) / (7 * 86_400_000)) + 1;
  return `${year}-W${pad2(week)}`;
}

/** The last full ISO week before the one `d` lies in. */
export function lastFullWeek(d: Date): string {
  return isoWeek(new Date(d.getTime() - 7 * 86_400_000));
}

/** Whether `s` is an ISO week (`2026-W49`, weeks 01 to 53). */
export function weekOk(s: string): boolean {
  const m = /^(\d{4})-W(\d{2})$/.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 53;
}

export const REPORT_LANGS = ['he', 'en'] as const;
export const REPORT_FORMATS = ['pdf', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `GET /api/reports/weekly` of one week, language and format. */
export function weeklyReportPath(week: string, lang: string, format: ReportFormat): string {
  return `/api/reports/weekly?${query({ week, lang, format })}`;
}

/** A report made automatically (`GET /api/reports`). */
export interface ReportFile {
  name: string;
  week: string;
  bytes: number;
}

/** The download of a made report. */
export function reportFilePath(name: string): string {
  return `/api/reports/files/${encodeURIComponent(name)}`;
}

/** The runs of consecutive weeks in one phase: `[phase, first index, last index]`. */
export function phaseRuns(phases: readonly Phase[]): [Phase, number, number][] {
  const out: [Phase, number, number][] = [];
  phases.forEach((p, i) => {
    const last = out[out.length - 1];
    if (last && last[0] === p && last[2] === i - 1) last[2] = i;
    else out.push([p, i, i]);
  });
  return out;
}

// ----- rate ratios in words -----

export type Verdict = 'fell' | 'rose' | 'none' | 'unknown';

/** What a rate ratio says: fell or rose beyond noise (the interval wholly below or above 1), no
 * clear change, or nothing to compare (no ratio). */
export function verdictOf(r: RateRatio | null | undefined): Verdict {
  if (!r || r.ratio === null || !Number.isFinite(r.ratio)) return 'unknown';
  if (r.high < 1) return 'fell';
  if (r.low > 1) return 'rose';
  return 'none';
}

/** A rate ratio with its interval, e.g. `0.61 (0.55–0.68)`; null without a ratio. */
export function ratioText(r: RateRatio | null | undefined): string | null {
  if (!r || r.ratio === null) return null;
  return `${fixed(r.ratio)} (${fixed(r.low)}–${fixed(r.high)})`;
}

/** The change a ratio means, as a signed whole percentage (`-39`), or null. */
export function changePercent(r: RateRatio | null | undefined): number | null {
  if (!r || r.ratio === null || !Number.isFinite(r.ratio)) return null;
  return Math.round((r.ratio - 1) * 100);
}

// ----- the operation form -----

export interface OperationForm {
  name: string;
  start: string;
  end: string;
  windowStart: string;
  windowUntil: string;
  hotspots: string[];
  kinds: string[];
  comparison: string[];
}

export function newOperationForm(): OperationForm {
  return { name: '', start: '', end: '', windowStart: '', windowUntil: '', hotspots: [], kinds: [], comparison: [] };
}

/** What the form lacks before it can be sent: a field name, or null. The server checks the rest. */
export type OperationField = 'name' | 'start' | 'end' | 'window' | 'hotspots';

export function operationProblem(f: OperationForm): OperationField | null {
  if (f.name.trim() === '') return 'name';
  if (!parseDate(f.start)) return 'start';
  if (!parseDate(f.end) || (parseDate(f.end)?.getTime() ?? 0) < (parseDate(f.start)?.getTime() ?? 0)) return 'end';
  const hhmm = /^([01]\d|2[0-3]):[0-5]\d$/;
  const ws = f.windowStart.trim();
  const wu = f.windowUntil.trim();
  if ((ws !== '' || wu !== '') && !(hhmm.test(ws) && hhmm.test(wu))) return 'window';
  if (f.hotspots.length === 0) return 'hotspots';
  return null;
}

/** The body of `POST /api/operations` (the window only when both ends are given; comparison
 * hotspots that are also targets are left out). */
export function operationBody(f: OperationForm): OperationBody {
  const ws = f.windowStart.trim();
  const wu = f.windowUntil.trim();
  return {
    name: f.name.trim(),
    start: f.start.trim(),
    end: f.end.trim(),
    ...(ws !== '' && wu !== '' ? { window: { from: ws, to: wu } } : {}),
    hotspots: [...f.hotspots],
    kinds: [...f.kinds],
    comparison: f.comparison.filter((c) => !f.hotspots.includes(c)),
  };
}

/** Which field a server refusal of an operation names (by the words in its message), else null. */
export function operationFieldOf(message: string): OperationField | null {
  const m = message.toLowerCase();
  if (/\bwindow\b/.test(m)) return 'window';
  if (/\bcomparison\b|\bhotspots?\b/.test(m)) return 'hotspots';
  if (/\bname\b/.test(m)) return 'name';
  if (/\bend\b/.test(m)) return 'end';
  if (/\bstart\b/.test(m)) return 'start';
  return null;
}

/** The phenomena an operation offers: every kind that occurs in `byKind` (an incident
 * breakdown, e.g. of the last 12 months; kinds raised by operators or imported count too), most
 * incidents first (ties by name), then the rule kinds that have none, in their own order. A kind
 * is offered once; empty keys and counts of zero are no occurrence. */
export function operationKinds(ruleKinds: readonly string[], byKind?: readonly Counted[] | null): string[] {
  const counts = new Map<string, number>();
  for (const c of byKind ?? []) {
    const n = Number(c.count);
    if (typeof c.key !== 'string' || c.key === '' || !(n > 0)) continue;
    counts.set(c.key, (counts.get(c.key) ?? 0) + n);
  }
  const seen = [...counts.entries()]
    .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0))
    .map(([k]) => k);
  const rest = ruleKinds.filter((k, i) => !counts.has(k) && ruleKinds.indexOf(k) === i);
  return [...seen, ...rest];
}

/** Toggles `v` in `list` (a new array). */
export function toggle(list: readonly string[], v: string): string[] {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}
