// The situational picture (`#/stats`): a range of local dates with its interval and a hotspot;
// the totals; a heat grid of hour × weekday; trend lines (uPlot) of incidents in total, per
// hotspot and of the imported external series; the hotspots on the map sized by incidents;
// tables by kind, outcome, source, precision per rule and camera, unit workload and response
// times; the imported files and a CSV upload. Shapes, paths and the charts' data are in
// ../lib/stats.ts.
//
// Invariants:
// - charts and the map run left to right in both languages (time and north do not mirror); the
//   heat grid is a table and mirrors with the page, Monday first;
// - no inline style: the heat grid's colours are the classes heat-0 … heat-6; uPlot sizes its
//   canvas through the CSSOM, which the CSP allows;
// - a refused upload shows the server's message under the upload and keeps the picked file.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ask, upload } from '../actions';
import { formatDateTime, formatDuration, NOTHING } from '../lib/format';
import type { HotspotView } from '../lib/hotspots';
import { RULE_KINDS } from '../lib/hotspots';
import type { MessageKey } from '../lib/i18n';
import { kindKey, severityKey } from '../lib/labels';
import {
  type AlertStats,
  alertsPath,
  bubbleRadius,
  type Chart,
  countOf,
  type Counted,
  defaultRange,
  type DurationStats,
  type ExternalStats,
  externalPath,
  fullGrid,
  gridMax,
  heatClass,
  importPath,
  lastFullWeek,
  parseDate,
  REPORT_FORMATS,
  REPORT_LANGS,
  type ReportFile,
  reportFilePath,
  type ImportView,
  type IncidentStats,
  incidentsPath,
  type Interval,
  INTERVALS,
  percent,
  rangeOk,
  type ResponseTimes,
  responseTimesPath,
  SOURCES,
  splitChart,
  type StatsQuery,
  trendChart,
  weeklyReportPath,
  weekOk,
} from '../lib/stats';
import { fieldsOf } from '../lib/zone';
import { cameraLabel, hotspotLabel } from '../labels';
import { lang, t } from '../store';
import { ErrorText } from './ErrorText';
import { Field, Head } from './Evidence';
import { MapSvg } from './MapSvg';

/** Weekday names, Monday first (the heat grid's rows). */
export const WEEKDAY_KEYS: readonly MessageKey[] = ['day.mon', 'day.tue', 'day.wed', 'day.thu', 'day.fri', 'day.sat', 'day.sun'];

const INTERVAL_KEYS: Record<Interval, MessageKey> = {
  day: 'stats.interval.day',
  week: 'stats.interval.week',
  month: 'stats.interval.month',
};

const OUTCOME_KEYS: Record<string, MessageKey> = {
  resolved: 'stats.outcome.resolved',
  false_alarm: 'stats.outcome.false_alarm',
  escalated: 'stats.outcome.escalated',
  open: 'stats.outcome.open',
  no_alert: 'stats.outcome.no_alert',
};

const ORIGIN_KEYS: Record<string, MessageKey> = {
  detected: 'stats.origin.detected',
  operator: 'stats.origin.operator',
};

export const SOURCE_KEYS: Record<string, MessageKey> = {
  police: 'stats.source.police',
  city: 'stats.source.city',
  survey: 'stats.source.survey',
  other: 'stats.source.other',
};

/** A value's words from `keys`, else the value as it came. */
function label(keys: Record<string, MessageKey>, v: string): string {
  const k = keys[v];
  return k ? t.value(k) : v;
}

const kindLabel = (k: string) => {
  const key = kindKey(k);
  return key ? t.value(key) : k;
};
const severityText = (s: string) => {
  const key = severityKey(s);
  return key ? t.value(key) : s;
};

/** The site's date today (`YYYY-MM-DD`). */
export function today(): string {
  const f = fieldsOf(Date.now());
  return `${f.year}-${String(f.month).padStart(2, '0')}-${String(f.day).padStart(2, '0')}`;
}

// ----- the chart -----

/** Series colours (on the dark surface), in order; the first is the total. */
const COLOURS = ['#eef2f6', '#6cb6ff', '#ffc107', '#7ee2a8', '#ff8a80', '#c39bff', '#4dd0e1', '#f48fb1', '#aed581', '#ffab40'];
/** External series: dashed, in their own colours. */
const EXTERNAL_COLOURS = ['#ffd166', '#b39ddb', '#80cbc4', '#ef9a9a'];

export interface PlotLine {
  label: string;
  values: (number | null)[];
  dashed?: boolean;
  colour?: string;
  /** A thicker line (the chart's main one). */
  bold?: boolean;
}

/** A uPlot chart of `lines` over `periods` (x: the period's index, labelled by the period),
 * left to right in both languages. `shade` marks runs of periods: `[first, last, fill]`. */
export function Plot(props: {
  label: string;
  /** The legend's name of the x value (the period). */
  xLabel: string;
  periods: string[];
  lines: PlotLine[];
  shade?: [number, number, string][];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const periods = props.periods;
    const shade = props.shade ?? [];
    const width = Math.max(320, el.clientWidth || 640);
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 300,
      scales: { x: { time: false, range: (_u, lo, hi) => [lo - 0.5, hi + 0.5] } },
      axes: [
        {
          stroke: '#b4bfcc',
          grid: { stroke: '#3d4856', width: 1 },
          ticks: { stroke: '#3d4856', width: 1 },
          incrs: [1, 2, 4, 8, 13, 26, 52],
          values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? (periods[i] ?? '') : '')),
        },
        { stroke: '#b4bfcc', grid: { stroke: '#3d4856', width: 1 }, ticks: { stroke: '#3d4856', width: 1 } },
      ],
      series: [
        { label: props.xLabel, value: (_u: uPlot, v: number | null) => (v === null ? NOTHING : (periods[v] ?? NOTHING)) },
        ...props.lines.map((l, i) => ({
          label: l.label,
          stroke: l.colour ?? COLOURS[i % COLOURS.length] ?? '#eef2f6',
          width: l.bold ? 3 : 2,
          spanGaps: false,
          points: { show: periods.length <= 60 },
          ...(l.dashed ? { dash: [8, 5] } : {}),
        })),
      ],
      legend: { show: true },
      hooks: {
        drawClear: [
          (u: uPlot) => {
            const ctx = u.ctx;
            for (const [a, b, fill] of shade) {
              const x0 = u.valToPos(a - 0.5, 'x', true);
              const x1 = u.valToPos(b + 0.5, 'x', true);
              ctx.fillStyle = fill;
              ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
            }
          },
        ],
      },
    };
    const data = [periods.map((_, i) => i), ...props.lines.map((l) => l.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, el);
    const ro = typeof ResizeObserver === 'function'
      ? new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: props.height ?? 300 }))
      : null;
    ro?.observe(el);
    return () => {
      ro?.disconnect();
      plot.destroy();
    };
  }, [props.periods, props.lines, props.shade, props.height, props.xLabel]);
  return <div ref={box} class="plot" dir="ltr" role="img" aria-label={props.label} />;
}

/** The trend chart's lines in words; each hotspot keeps its colour whichever part it is drawn in. */
function trendLines(c: Chart): PlotLine[] {
  let ext = 0;
  let spot = 0;
  return c.lines.map((l) => {
    if (l.kind === 'total') return { label: t.value('stats.trend.total'), values: l.values, colour: COLOURS[0] as string, bold: true };
    if (l.kind === 'hotspot') {
      const colour = COLOURS[1 + (spot++ % (COLOURS.length - 1))] as string;
      return { label: l.name, values: l.values, colour };
    }
    const colour = EXTERNAL_COLOURS[ext++ % EXTERNAL_COLOURS.length] as string;
    return {
      label: t.value('stats.trend.external', {
        source: label(SOURCE_KEYS, l.source ?? ''),
        category: l.category ?? '',
        area: l.name,
      }),
      values: l.values,
      dashed: true,
      colour,
    };
  });
}

// ----- small parts -----

function Breakdown(props: { title: MessageKey; rows: Counted[]; name: (k: string) => string; total: number }) {
  return (
    <section class="card stats-card" aria-label={t.value(props.title)}>
      <h3>{t.value(props.title)}</h3>
      {props.rows.length === 0 ? (
        <p class="muted">{t.value('stats.nothing')}</p>
      ) : (
        <table class="ev-table">
          <Head keys={['stats.col.what', 'stats.col.count', 'stats.col.share']} />
          <tbody>
            {props.rows.map((r) => {
              const p = percent(r.count, props.total);
              return (
                <tr key={r.key}>
                  <td>
                    <bdi>{props.name(r.key)}</bdi>
                  </td>
                  <td class="num">{r.count}</td>
                  <td class="num">{p === null ? NOTHING : `${p}%`}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function HeatGrid(props: { grid: number[][]; caption: string }) {
  const grid = fullGrid(props.grid);
  const max = gridMax(grid);
  return (
    <table class="heat">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">
            <span class="visually-hidden">{t.value('stats.heat.day')}</span>
          </th>
          {grid[0]?.map((_, h) => (
            <th key={h} scope="col" class="heat-hour">
              {String(h).padStart(2, '0')}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {grid.map((row, d) => (
          <tr key={d}>
            <th scope="row">{t.value(WEEKDAY_KEYS[d] as MessageKey)}</th>
            {row.map((n, h) => (
              <td key={h} class={`heat-cell ${heatClass(n, max)}`}>
                {n > 0 ? n : ''}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function secs(d: DurationStats | undefined, which: 'median_secs' | 'p90_secs'): string {
  const v = d?.[which];
  return typeof v === 'number' && Number.isFinite(v) ? formatDuration(v * 1_000_000) : NOTHING;
}

// ----- the page -----

type Loaded<T> = T | string | null;
const result = <T,>(r: { ok: T } | { error: string }): T | string => ('ok' in r ? r.ok : r.error);

export function StatsPage() {
  const [range, setRange] = useState(() => defaultRange(today()));
  const [interval, setStep] = useState<Interval>('week');
  const [hotspot, setHotspot] = useState('');
  const [kind, setKind] = useState('');
  const [asked, setAsked] = useState<StatsQuery | null>(null);
  const [formErr, setFormErr] = useState<string | null>(null);
  const [hotspots, setHotspots] = useState<HotspotView[]>([]);
  const [inc, setInc] = useState<Loaded<IncidentStats>>(null);
  const [alerts, setAlerts] = useState<Loaded<AlertStats>>(null);
  const [external, setExternal] = useState<Loaded<ExternalStats>>(null);
  const [times, setTimes] = useState<Loaded<ResponseTimes>>(null);
  const [heatOf, setHeatOf] = useState('');

  const load = (q: StatsQuery) => {
    setAsked(q);
    setInc(null);
    setAlerts(null);
    setExternal(null);
    setTimes(null);
    void ask<IncidentStats>('GET', incidentsPath(q)).then((r) => setInc(result(r)));
    void ask<AlertStats>('GET', alertsPath(q)).then((r) => setAlerts(result(r)));
    void ask<ExternalStats>('GET', externalPath(q)).then((r) => setExternal(result(r)));
    const rt = responseTimesPath(q);
    if (rt) void ask<ResponseTimes>('GET', rt).then((r) => setTimes(result(r)));
  };
  const query = (): StatsQuery => ({
    ...range,
    interval,
    ...(hotspot ? { hotspot } : {}),
    ...(kind ? { kind } : {}),
  });
  /** After an import: the external series again, for the range shown. */
  const reloadExternal = () => {
    if (asked) void ask<ExternalStats>('GET', externalPath(asked)).then((r) => setExternal(result(r)));
  };
  useEffect(() => {
    void ask<HotspotView[]>('GET', '/api/hotspots').then((r) => 'ok' in r && setHotspots(r.ok));
    load(query());
  }, []);

  return (
    <main id="main" class="page evidence-page stats-page" tabIndex={-1} aria-labelledby="stats-title">
      <h1 id="stats-title" class="page-title">
        {t.value('stats.title')}
      </h1>
      <form
        class="card stats-filter"
        aria-label={t.value('stats.filter')}
        onSubmit={(e) => {
          e.preventDefault();
          if (!rangeOk(range)) {
            setFormErr(t.value('stats.badRange'));
            return;
          }
          setFormErr(null);
          load(query());
        }}
      >
        <div class="field-row">
          <Field id="stats-start" label={t.value('stats.start')} error={null}>
            {(a) => (
              <input {...a} type="date" value={range.from} onInput={(e) => setRange({ ...range, from: (e.currentTarget as HTMLInputElement).value })} />
            )}
          </Field>
          <Field id="stats-until" label={t.value('stats.until')} error={null}>
            {(a) => (
              <input {...a} type="date" value={range.to} onInput={(e) => setRange({ ...range, to: (e.currentTarget as HTMLInputElement).value })} />
            )}
          </Field>
          <Field id="stats-interval" label={t.value('stats.interval')} error={null}>
            {(a) => (
              <select {...a} value={interval} onChange={(e) => setStep((e.currentTarget as HTMLSelectElement).value as Interval)}>
                {INTERVALS.map((i) => (
                  <option key={i} value={i}>
                    {t.value(INTERVAL_KEYS[i])}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="stats-hotspot" label={t.value('stats.hotspot')} error={null}>
            {(a) => (
              <select {...a} value={hotspot} onChange={(e) => setHotspot((e.currentTarget as HTMLSelectElement).value)}>
                <option value="">{t.value('stats.allHotspots')}</option>
                {hotspots.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="stats-kind" label={t.value('stats.kind')} error={null}>
            {(a) => (
              <select {...a} value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
                <option value="">{t.value('stats.allKinds')}</option>
                {RULE_KINDS.map((k) => (
                  <option key={k} value={k}>
                    {kindLabel(k)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <button type="submit" class="btn btn-primary" id="stats-show">
          {t.value('stats.show')}
        </button>
        <ErrorText message={formErr} />
      </form>

      {asked && <Totals inc={inc} alerts={alerts} />}

      {typeof inc === 'string' && <ErrorText message={inc} />}
      {inc === null && <p class="muted">{t.value('app.loading')}</p>}
      {inc && typeof inc === 'object' && (
        <>
          <section class="card stats-card" aria-labelledby="stats-heat-title">
            <div class="title-row">
              <h2 id="stats-heat-title">{t.value('stats.heat.title')}</h2>
              {inc.heat.by_hotspot.length > 1 && (
                <Field id="stats-heat-of" label={t.value('stats.heat.of')} error={null}>
                  {(a) => (
                    <select {...a} value={heatOf} onChange={(e) => setHeatOf((e.currentTarget as HTMLSelectElement).value)}>
                      <option value="">{t.value('stats.allHotspots')}</option>
                      {inc.heat.by_hotspot.map((h) => (
                        <option key={h.hotspot} value={h.hotspot}>
                          {inc.by_hotspot.find((b) => b.hotspot === h.hotspot)?.name ?? hotspotLabel(h.hotspot)}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              )}
            </div>
            <div class="heat-scroll">
              <HeatGrid
                key={lang.value}
                caption={t.value('stats.heat.caption', { zone: inc.time_zone })}
                grid={(heatOf && inc.heat.by_hotspot.find((h) => h.hotspot === heatOf)?.grid) || inc.heat.all}
              />
            </div>
          </section>

          <TrendSection inc={inc} external={external} />

          <div class="stats-two">
            <section class="card stats-card hs-map" aria-labelledby="stats-map-title">
              <h2 id="stats-map-title">{t.value('stats.map.title')}</h2>
              <IncidentMap inc={inc} />
            </section>
            <section class="card stats-card" aria-labelledby="stats-where-title">
              <h2 id="stats-where-title">{t.value('stats.byHotspot')}</h2>
              <table class="ev-table">
                <Head keys={['stats.col.hotspot', 'stats.col.incidents', 'stats.col.share']} />
                <tbody>
                  {inc.by_hotspot.map((h) => {
                    const p = percent(h.count, inc.total);
                    return (
                      <tr key={h.hotspot}>
                        <td>
                          <bdi>{h.name}</bdi>
                        </td>
                        <td class="num">{h.count}</td>
                        <td class="num">{p === null ? NOTHING : `${p}%`}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </section>
          </div>

          <div class="stats-grid">
            <Breakdown title={'stats.byKind'} rows={inc.by_kind} name={kindLabel} total={inc.total} />
            <Breakdown title={'stats.byOutcome'} rows={inc.by_outcome} name={(k) => label(OUTCOME_KEYS, k)} total={inc.total} />
            <Breakdown title={'stats.bySeverity'} rows={inc.by_severity} name={severityText} total={inc.total} />
            <Breakdown title={'stats.byOrigin'} rows={inc.by_source} name={(k) => label(ORIGIN_KEYS, k)} total={inc.total} />
          </div>

          {inc.by_camera.length > 0 && (
            <section class="card stats-card" aria-labelledby="stats-cameras-title">
              <h2 id="stats-cameras-title">{t.value('stats.byCamera')}</h2>
              <table class="ev-table">
                <Head keys={['stats.col.camera', 'stats.col.incidents']} />
                <tbody>
                  {inc.by_camera.map((c) => (
                    <tr key={c.camera}>
                      <td>
                        <bdi>{c.name || cameraLabel(c.camera)}</bdi>
                      </td>
                      <td class="num">{c.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
        </>
      )}

      <AlertTables alerts={alerts} />
      <ResponseTable times={times} />
      <WeeklyReport />
      <Imports onImported={reloadExternal} />
    </main>
  );
}

function Totals({ inc, alerts }: { inc: Loaded<IncidentStats>; alerts: Loaded<AlertStats> }) {
  const i = inc && typeof inc === 'object' ? inc : null;
  const a = alerts && typeof alerts === 'object' ? alerts : null;
  const share = a ? percent(countOf(a.by_outcome, 'false_alarm'), a.total) : null;
  return (
    <dl class="stats-totals" aria-label={t.value('stats.totals')}>
      <div class="card stats-total">
        <dt>{t.value('stats.total.incidents')}</dt>
        <dd>{i ? i.total : NOTHING}</dd>
      </div>
      <div class="card stats-total">
        <dt>{t.value('stats.total.alerts')}</dt>
        <dd>{a ? a.total : NOTHING}</dd>
      </div>
      <div class="card stats-total">
        <dt>{t.value('stats.total.falseShare')}</dt>
        <dd>{share === null ? NOTHING : `${share}%`}</dd>
      </div>
    </dl>
  );
}

function TrendSection({ inc, external }: { inc: IncidentStats; external: Loaded<ExternalStats> }) {
  const ext = external && typeof external === 'object' ? external : null;
  const l = lang.value;
  // Three charts, each on its own scale: the total (hundreds to thousands) would flatten the
  // hotspots (tens) and the imported series if they shared one.
  const parts = useMemo(() => {
    const p = splitChart(trendChart(inc, ext));
    return {
      periods: p.total.periods,
      total: trendLines(p.total),
      hotspots: trendLines(p.hotspots),
      external: trendLines(p.external),
    };
  }, [inc, ext, l]);
  return (
    <section class="card stats-card" aria-labelledby="stats-trend-title">
      <h2 id="stats-trend-title">{t.value('stats.trend.title')}</h2>
      {inc.trend.periods.length === 0 ? (
        <p class="muted">{t.value('stats.nothing')}</p>
      ) : (
        <>
          <h3 class="trend-part">{t.value('stats.trend.totalTitle')}</h3>
          <Plot
            label={t.value('stats.trend.totalTitle')}
            xLabel={t.value('stats.period')}
            periods={parts.periods}
            lines={parts.total}
            height={180}
          />
          {parts.hotspots.length > 0 && (
            <>
              <h3 class="trend-part">{t.value('stats.trend.hotspotsTitle')}</h3>
              <Plot
                label={t.value('stats.trend.hotspotsTitle')}
                xLabel={t.value('stats.period')}
                periods={parts.periods}
                lines={parts.hotspots}
              />
            </>
          )}
          {parts.external.length > 0 && (
            <>
              <h3 class="trend-part">{t.value('stats.trend.externalTitle')}</h3>
              <Plot
                label={t.value('stats.trend.externalTitle')}
                xLabel={t.value('stats.period')}
                periods={parts.periods}
                lines={parts.external}
                height={240}
              />
            </>
          )}
        </>
      )}
      {typeof external === 'string' && <ErrorText message={external} />}
      {ext && ext.series.length === 0 && <p class="hint">{t.value('stats.trend.noExternal')}</p>}
      <p class="hint">{t.value('stats.trend.hint')}</p>
    </section>
  );
}

function IncidentMap({ inc }: { inc: IncidentStats }) {
  const placed = inc.by_hotspot.filter((h) => typeof h.lat === 'number' && typeof h.lon === 'number');
  const max = placed.reduce((m, h) => Math.max(m, h.count), 0);
  if (placed.length === 0) return <p class="muted">{t.value('stats.map.none')}</p>;
  return (
    <MapSvg
      width={480}
      height={360}
      label={t.value('stats.map.title')}
      spots={placed.map((h) => ({
        id: h.hotspot,
        name: `${h.name} (${h.count})`,
        at: { lat: h.lat as number, lon: h.lon as number },
        r: bubbleRadius(h.count, max),
      }))}
      alerts={[]}
      units={[]}
    />
  );
}

function AlertTables({ alerts }: { alerts: Loaded<AlertStats> }) {
  if (alerts === null) return null;
  if (typeof alerts === 'string') {
    return (
      <section class="card stats-card" aria-label={t.value('stats.alerts.title')}>
        <h2>{t.value('stats.alerts.title')}</h2>
        <ErrorText message={alerts} />
      </section>
    );
  }
  return (
    <>
      <div class="stats-grid">
        <Breakdown title={'stats.alerts.byOutcome'} rows={alerts.by_outcome} name={(k) => label(OUTCOME_KEYS, k)} total={alerts.total} />
        <Breakdown title={'stats.alerts.bySeverity'} rows={alerts.by_severity} name={severityText} total={alerts.total} />
      </div>
      <section class="card stats-card" aria-labelledby="stats-precision-title">
        <h2 id="stats-precision-title">{t.value('stats.precision.title')}</h2>
        {alerts.precision.length === 0 ? (
          <p class="muted">{t.value('stats.nothing')}</p>
        ) : (
          <table class="ev-table">
            <Head keys={['stats.col.kind', 'stats.col.camera', 'stats.col.confirmed', 'stats.col.falseAlarms', 'stats.col.precision']} />
            <tbody>
              {alerts.precision.map((p) => (
                <tr key={`${p.rule ?? ''}/${p.camera}/${p.kind}`}>
                  <td>
                    <bdi>{p.rule === null ? t.value('stats.precision.byHand') : kindLabel(p.kind)}</bdi>
                  </td>
                  <td>
                    <bdi>{p.camera_name || cameraLabel(p.camera)}</bdi>
                  </td>
                  <td class="num">{p.confirmed}</td>
                  <td class="num">{p.false_alarms}</td>
                  <td class="num">{p.precision === null ? NOTHING : `${Math.round(p.precision * 100)}%`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card stats-card" aria-labelledby="stats-units-title">
        <h2 id="stats-units-title">{t.value('stats.units.title')}</h2>
        {alerts.units.length === 0 ? (
          <p class="muted">{t.value('stats.nothing')}</p>
        ) : (
          <table class="ev-table">
            <Head keys={['stats.col.unit', 'stats.col.dispatches', 'stats.col.arrived']} />
            <tbody>
              {alerts.units.map((u) => (
                <tr key={u.unit}>
                  <td>
                    <bdi>{u.name}</bdi>
                  </td>
                  <td class="num">{u.dispatches}</td>
                  <td class="num">{u.arrived}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function ResponseTable({ times }: { times: Loaded<ResponseTimes> }) {
  if (times === null) return null;
  return (
    <section class="card stats-card" aria-labelledby="stats-times-title">
      <h2 id="stats-times-title">{t.value('stats.times.title')}</h2>
      {typeof times === 'string' ? (
        <ErrorText message={times} />
      ) : times.rows.length === 0 ? (
        <p class="muted">{t.value('stats.nothing')}</p>
      ) : (
        <div class="table-scroll">
          <table class="ev-table stats-times">
            <Head
              keys={[
                'stats.col.hotspot',
                'stats.col.alerts',
                'stats.times.claimMedian',
                'stats.times.claimP90',
                'stats.times.dispatchMedian',
                'stats.times.dispatchP90',
                'stats.times.arriveMedian',
                'stats.times.arriveP90',
              ]}
            />
            <tbody>
              {times.rows.map((r, i) => (
                <tr key={r.hotspot ?? i}>
                  <td>
                    <bdi>{r.hotspot ? hotspotLabel(r.hotspot) : t.value('stats.allHotspots')}</bdi>
                  </td>
                  <td class="num">{r.alerts}</td>
                  <td class="num">
                    <bdi>{secs(r.to_claim, 'median_secs')}</bdi>
                  </td>
                  <td class="num">
                    <bdi>{secs(r.to_claim, 'p90_secs')}</bdi>
                  </td>
                  <td class="num">
                    <bdi>{secs(r.to_dispatch, 'median_secs')}</bdi>
                  </td>
                  <td class="num">
                    <bdi>{secs(r.to_dispatch, 'p90_secs')}</bdi>
                  </td>
                  <td class="num">
                    <bdi>{secs(r.raised_to_arrive, 'median_secs')}</bdi>
                  </td>
                  <td class="num">
                    <bdi>{secs(r.raised_to_arrive, 'p90_secs')}</bdi>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="hint">{t.value('stats.times.hint')}</p>
    </section>
  );
}

function Imports({ onImported }: { onImported: () => void }) {
  const [list, setList] = useState<Loaded<ImportView[]>>(null);
  const [source, setSource] = useState<string>('police');
  const [file, setFile] = useState<File | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState<ImportView | null>(null);
  useEffect(() => {
    void ask<ImportView[]>('GET', '/api/stats/imports').then((r) => setList(result(r)));
  }, []);
  const send = async (e: Event) => {
    e.preventDefault();
    setDone(null);
    if (!file) {
      setErr(t.value('stats.imports.noFile'));
      return;
    }
    setPending(true);
    setErr(null);
    const text = await file.text();
    const r = await upload<ImportView>(importPath(source, file.name), text, 'text/csv');
    setPending(false);
    if ('error' in r) {
      setErr(r.error);
      return;
    }
    setDone(r.ok);
    setList((l) => (Array.isArray(l) ? [r.ok, ...l] : [r.ok]));
    onImported();
  };
  return (
    <section class="card stats-card" aria-labelledby="stats-imports-title">
      <h2 id="stats-imports-title">{t.value('stats.imports.title')}</h2>
      <p class="hint">{t.value('stats.imports.hint')}</p>
      <form class="stats-upload" onSubmit={(e) => void send(e)} aria-label={t.value('stats.imports.upload')}>
        <div class="field-row">
          <Field id="stats-import-source" label={t.value('stats.imports.source')} error={null}>
            {(a) => (
              <select {...a} value={source} onChange={(e) => setSource((e.currentTarget as HTMLSelectElement).value)}>
                {SOURCES.map((s) => (
                  <option key={s} value={s}>
                    {label(SOURCE_KEYS, s)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="stats-import-file" label={t.value('stats.imports.file')} error={err}>
            {(a) => (
              <input
                {...a}
                type="file"
                accept=".csv,text/csv"
                onChange={(e) => {
                  setErr(null);
                  setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null);
                }}
              />
            )}
          </Field>
        </div>
        <button type="submit" class="btn btn-primary" disabled={pending} id="stats-import-send">
          {t.value('stats.imports.upload')}
        </button>
        {done && (
          <p class="ok-text" role="status">
            {t.value('stats.imports.done', { rows: done.rows, name: done.file_name })}
          </p>
        )}
      </form>
      {typeof list === 'string' && <ErrorText message={list} />}
      {Array.isArray(list) &&
        (list.length === 0 ? (
          <p class="muted">{t.value('stats.imports.none')}</p>
        ) : (
          <table class="ev-table">
            <Head keys={['stats.imports.source', 'stats.imports.fileName', 'stats.imports.rows', 'stats.imports.days', 'stats.imports.by', 'stats.imports.at']} />
            <tbody>
              {list.map((i) => (
                <tr key={i.id}>
                  <td>{label(SOURCE_KEYS, i.source)}</td>
                  <td>
                    <bdi>{i.file_name}</bdi>
                  </td>
                  <td class="num">{i.rows}</td>
                  <td>
                    <bdi>{`${i.first_day} – ${i.last_day}`}</bdi>
                  </td>
                  <td>
                    <bdi>{i.imported_by}</bdi>
                  </td>
                  <td>
                    <bdi>{formatDateTime(i.imported_at)}</bdi>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

const REPORT_LANG_KEYS: Record<string, MessageKey> = {
  he: 'stats.report.lang.he',
  en: 'stats.report.lang.en',
};

const REPORT_FORMAT_KEYS: Record<string, MessageKey> = {
  pdf: 'stats.report.pdf',
  csv: 'stats.report.csv',
};

/** The weekly report of a picked week and language (PDF or CSV), and the reports made each week.
 * The console signs in with a cookie session, so plain download links carry it. */
function WeeklyReport() {
  const [week, setWeek] = useState(() => lastFullWeek(parseDate(today()) ?? new Date()));
  const [reportLang, setReportLang] = useState<string>(() => (lang.value === 'en' ? 'en' : 'he'));
  const [made, setMade] = useState<Loaded<ReportFile[]>>(null);
  useEffect(() => {
    void ask<ReportFile[]>('GET', '/api/reports').then((r) => setMade(result(r)));
  }, []);
  const ok = weekOk(week);
  return (
    <section class="card stats-card stats-report" aria-labelledby="stats-report-title">
      <h2 id="stats-report-title">{t.value('stats.report.title')}</h2>
      <p class="hint">{t.value('stats.report.hint')}</p>
      <div class="field-row">
        <Field id="stats-report-week" label={t.value('stats.report.week')} error={ok ? null : t.value('stats.report.badWeek')}>
          {(a) => <input {...a} type="week" value={week} onInput={(e) => setWeek((e.currentTarget as HTMLInputElement).value)} />}
        </Field>
        <Field id="stats-report-lang" label={t.value('stats.report.lang')} error={null}>
          {(a) => (
            <select {...a} value={reportLang} onChange={(e) => setReportLang((e.currentTarget as HTMLSelectElement).value)}>
              {REPORT_LANGS.map((l) => (
                <option key={l} value={l}>
                  {t.value(REPORT_LANG_KEYS[l] as MessageKey)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      {ok && (
        <p class="stats-report-links">
          {REPORT_FORMATS.map((f) => (
            <a
              key={f}
              id={`stats-report-${f}`}
              class="btn"
              href={weeklyReportPath(week, reportLang, f)}
              download={`weekly-${week}-${reportLang}.${f}`}
            >
              {t.value(REPORT_FORMAT_KEYS[f] as MessageKey)}
            </a>
          ))}
        </p>
      )}
      <h3>{t.value('stats.report.made')}</h3>
      {typeof made === 'string' && <ErrorText message={made} />}
      {Array.isArray(made) &&
        (made.length === 0 ? (
          <p class="muted">{t.value('stats.report.none')}</p>
        ) : (
          <ul class="stats-report-files">
            {made.map((r) => (
              <li key={r.name}>
                <a href={reportFilePath(r.name)} download={r.name}>
                  <bdi>{t.value('stats.report.file', { name: r.name, size: Math.max(1, Math.round(r.bytes / 1024)) })}</bdi>
                </a>
              </li>
            ))}
          </ul>
        ))}
    </section>
  );
}
