// Enforcement operations (`#/operations`): the list, a form that creates one (name, first and
// last day, an optional daily window, target hotspots, phenomena, comparison hotspots), and per
// operation its effect: before / during / after figures, rate ratios with their 95 % interval
// and a verdict in words, and a weekly chart with the operation's weeks shaded. The phenomena
// offered are the kinds that occurred in the last 12 months, most first (operators' and imported
// ones too), then the rule kinds without incidents. Shapes, the body, the verdict and the kinds'
// order are in ../lib/stats.ts.
//
// Invariants:
// - a refused create keeps what was typed and shows the server's message next to the part it
//   names, else at the form's end;
// - "more than noise" only when the interval lies wholly below or above 1 (`verdictOf`);
// - deleting asks for a second press.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { ask } from '../actions';
import { NOTHING } from '../lib/format';
import { type HotspotView, RULE_KINDS } from '../lib/hotspots';
import type { MessageKey } from '../lib/i18n';
import { kindKey } from '../lib/labels';
import {
  changePercent,
  type Counted,
  type Effect,
  effectChart,
  fixed,
  type IncidentStats,
  incidentsPath,
  lastMonths,
  newOperationForm,
  type Operation,
  operationBody,
  type OperationField,
  operationFieldOf,
  type OperationForm,
  operationKinds,
  operationPath,
  operationProblem,
  type Phase,
  type PhaseFigures,
  PHASES,
  phaseRuns,
  type RateRatio,
  ratioText,
  toggle,
  type Verdict,
  verdictOf,
} from '../lib/stats';
import { hotspotLabel } from '../labels';
import { lang, t } from '../store';
import { ErrorText, PendingPage } from './ErrorText';
import { Field, Head } from './Evidence';
import { Plot, type PlotLine, today } from './Stats';

const PHASE_KEYS: Record<Phase, MessageKey> = {
  before: 'ops.phase.before',
  during: 'ops.phase.during',
  after: 'ops.phase.after',
};

const VERDICT_KEYS: Record<Verdict, MessageKey> = {
  fell: 'ops.verdict.fell',
  rose: 'ops.verdict.rose',
  none: 'ops.verdict.none',
  unknown: 'ops.verdict.unknown',
};

const PROBLEM_KEYS: Record<OperationField, MessageKey> = {
  name: 'ops.need.name',
  start: 'ops.need.start',
  end: 'ops.need.end',
  window: 'ops.need.window',
  hotspots: 'ops.need.hotspots',
};

/** Shading of the weekly chart: the operation's weeks, then the weeks after. */
const SHADE: Record<Phase, string | null> = {
  before: null,
  during: 'rgba(108, 182, 255, 0.18)',
  after: 'rgba(126, 226, 168, 0.10)',
};

const kindLabel = (k: string) => {
  const key = kindKey(k);
  return key ? t.value(key) : k;
};

export function OperationsPage() {
  const [list, setList] = useState<Operation[] | string | null>(null);
  const [hotspots, setHotspots] = useState<HotspotView[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    void ask<Operation[]>('GET', '/api/operations').then((r) => setList('ok' in r ? r.ok : r.error));
    void ask<HotspotView[]>('GET', '/api/hotspots').then((r) => 'ok' in r && setHotspots(r.ok));
  }, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  const nameOf = (id: string) => hotspots.find((h) => h.id === id)?.name ?? hotspotLabel(id);
  const sorted = [...list].sort((a, b) => b.start.localeCompare(a.start) || a.name.localeCompare(b.name));
  return (
    <main id="main" class="page evidence-page ops-page" tabIndex={-1} aria-labelledby="ops-title">
      <h1 id="ops-title" class="page-title">
        {t.value('ops.title')}
      </h1>
      <div class="evidence-layout">
        <NewOperation hotspots={hotspots} onCreated={(o) => setList([o, ...list])} />
        <section aria-labelledby="ops-list-title">
          <h2 id="ops-list-title">{t.value('ops.list', { n: list.length })}</h2>
          {list.length === 0 && <p class="muted">{t.value('ops.none')}</p>}
          {sorted.map((o) => (
            <OperationCard
              key={o.id}
              op={o}
              nameOf={nameOf}
              open={open === o.id}
              toggle={() => setOpen(open === o.id ? null : o.id)}
              onDeleted={() => setList(list.filter((x) => x.id !== o.id))}
            />
          ))}
        </section>
      </div>
    </main>
  );
}

// ----- the form -----

function Picker(props: { id: string; legend: string; items: [string, string][]; picked: string[]; set: (p: string[]) => void; error?: string | null }) {
  return (
    <fieldset class={props.error ? 'picker field-invalid' : 'picker'} id={props.id}>
      <legend>{props.legend}</legend>
      {props.items.length === 0 && <p class="hint">{t.value('ops.noneToPick')}</p>}
      {props.items.map(([id, name]) => (
        <label key={id} class="pick">
          <input type="checkbox" value={id} checked={props.picked.includes(id)} onChange={() => props.set(toggle(props.picked, id))} />{' '}
          <bdi>{name}</bdi>
        </label>
      ))}
      {props.error && (
        <p class="error field-error" role="alert">
          {props.error}
        </p>
      )}
    </fieldset>
  );
}

function NewOperation(props: { hotspots: HotspotView[]; onCreated: (o: Operation) => void }) {
  const [f, setF] = useState<OperationForm>(newOperationForm());
  const [err, setErr] = useState<{ message: string; field: OperationField | null } | null>(null);
  const [pending, setPending] = useState(false);
  const [made, setMade] = useState<string | null>(null);
  // The kinds that occurred in the last 12 months (operators' and imported ones too); until they
  // come, or when they cannot, the rule kinds alone.
  const [counted, setCounted] = useState<Counted[] | null>(null);
  useEffect(() => {
    const q = { ...lastMonths(today()), interval: 'month' as const };
    void ask<IncidentStats>('GET', incidentsPath(q)).then((r) => 'ok' in r && setCounted(r.ok.by_kind));
  }, []);
  const kinds = useMemo(() => operationKinds(RULE_KINDS, counted), [counted]);
  const set = (p: Partial<OperationForm>) => {
    setMade(null);
    setF({ ...f, ...p });
  };
  const errOf = (field: OperationField) => (err && err.field === field ? err.message : null);
  const send = async (e: Event) => {
    e.preventDefault();
    const problem = operationProblem(f);
    if (problem) {
      setErr({ message: t.value(PROBLEM_KEYS[problem]), field: problem });
      return;
    }
    setErr(null);
    setPending(true);
    const r = await ask<Operation>('POST', '/api/operations', operationBody(f));
    setPending(false);
    if ('error' in r) {
      setErr({ message: r.error, field: operationFieldOf(r.error) });
      return;
    }
    props.onCreated(r.ok);
    setMade(r.ok.name);
    setF(newOperationForm());
  };
  const spots: [string, string][] = props.hotspots.map((h) => [h.id, h.name]);
  return (
    <form class="card ev-form ops-form" onSubmit={(e) => void send(e)} aria-labelledby="ops-new-title" noValidate>
      <h2 id="ops-new-title">{t.value('ops.new')}</h2>
      <Field id="ops-name" label={t.value('ops.name')} error={errOf('name')}>
        {(a) => <input {...a} type="text" value={f.name} onInput={(e) => set({ name: (e.currentTarget as HTMLInputElement).value })} />}
      </Field>
      <div class="field-row">
        <Field id="ops-start" label={t.value('ops.start')} error={errOf('start')}>
          {(a) => <input {...a} type="date" value={f.start} onInput={(e) => set({ start: (e.currentTarget as HTMLInputElement).value })} />}
        </Field>
        <Field id="ops-end" label={t.value('ops.end')} error={errOf('end')}>
          {(a) => <input {...a} type="date" value={f.end} onInput={(e) => set({ end: (e.currentTarget as HTMLInputElement).value })} />}
        </Field>
      </div>
      <fieldset class="target">
        <legend>{t.value('ops.window')}</legend>
        <p class="hint">{t.value('ops.window.hint')}</p>
        <div class="field-row">
          <Field id="ops-window-start" label={t.value('ops.window.start')} error={errOf('window')}>
            {(a) => (
              <input {...a} type="time" value={f.windowStart} onInput={(e) => set({ windowStart: (e.currentTarget as HTMLInputElement).value })} />
            )}
          </Field>
          <Field id="ops-window-until" label={t.value('ops.window.until')} error={null}>
            {(a) => (
              <input {...a} type="time" value={f.windowUntil} onInput={(e) => set({ windowUntil: (e.currentTarget as HTMLInputElement).value })} />
            )}
          </Field>
        </div>
      </fieldset>
      <Picker id="ops-hotspots" legend={t.value('ops.hotspots')} items={spots} picked={f.hotspots} set={(p) => set({ hotspots: p })} error={errOf('hotspots')} />
      <Picker
        id="ops-kinds"
        legend={t.value('ops.kinds')}
        items={kinds.map((k) => [k, kindLabel(k)] as [string, string])}
        picked={f.kinds}
        set={(p) => set({ kinds: p })}
      />
      <p class="hint">{t.value('ops.kinds.hint')}</p>
      <Picker
        id="ops-comparison"
        legend={t.value('ops.comparison')}
        items={spots.filter(([id]) => !f.hotspots.includes(id))}
        picked={f.comparison}
        set={(p) => set({ comparison: p })}
      />
      <p class="hint">{t.value('ops.comparison.hint')}</p>
      {err && err.field === null && <ErrorText message={err.message} />}
      <button type="submit" class="btn btn-primary" disabled={pending} id="ops-create">
        {t.value('ops.create')}
      </button>
      {made !== null && (
        <p class="ok-text" role="status">
          {t.value('ops.created', { name: made })}
        </p>
      )}
    </form>
  );
}

// ----- one operation -----

function OperationCard(props: { op: Operation; nameOf: (id: string) => string; open: boolean; toggle: () => void; onDeleted: () => void }) {
  const o = props.op;
  const [armed, setArmed] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const del = async () => {
    if (!armed) {
      setArmed(true);
      return;
    }
    const r = await ask<void>('DELETE', operationPath(o.id));
    if ('error' in r) {
      setErr(r.error);
      setArmed(false);
    } else props.onDeleted();
  };
  return (
    <article class="card ops-card" data-operation={o.id} aria-labelledby={`op-${o.id}`}>
      <h3 id={`op-${o.id}`}>
        <bdi>{o.name}</bdi>
      </h3>
      <dl class="ops-facts">
        <dt>{t.value('ops.days')}</dt>
        <dd>
          <bdi>{`${o.start} – ${o.end}`}</bdi>
        </dd>
        <dt>{t.value('ops.window')}</dt>
        <dd>{o.window ? <bdi>{`${o.window.from}–${o.window.to}`}</bdi> : t.value('ops.allDay')}</dd>
        <dt>{t.value('ops.hotspots')}</dt>
        <dd class="scope-list">
          {o.hotspots.map((h) => (
            <bdi key={h} class="chip">
              {props.nameOf(h)}
            </bdi>
          ))}
        </dd>
        <dt>{t.value('ops.kinds')}</dt>
        <dd class="scope-list">
          {o.kinds.length === 0
            ? t.value('ops.allKinds')
            : o.kinds.map((k) => (
                <span key={k} class="chip">
                  {kindLabel(k)}
                </span>
              ))}
        </dd>
        <dt>{t.value('ops.comparison')}</dt>
        <dd class="scope-list">
          {o.comparison.length === 0
            ? t.value('ops.noComparison')
            : o.comparison.map((h) => (
                <bdi key={h} class="chip">
                  {props.nameOf(h)}
                </bdi>
              ))}
        </dd>
      </dl>
      <div class="save-row">
        <button type="button" class="btn" aria-expanded={props.open} onClick={props.toggle}>
          {t.value(props.open ? 'ops.hideEffect' : 'ops.showEffect')}
        </button>
        <button type="button" class={armed ? 'btn btn-danger action-delete' : 'btn action-delete'} onClick={() => void del()} onBlur={() => setArmed(false)}>
          {t.value(armed ? 'ops.deleteConfirm' : 'ops.delete')}
        </button>
      </div>
      <ErrorText message={err} />
      {props.open && <EffectView id={o.id} />}
    </article>
  );
}

function EffectView({ id }: { id: string }) {
  const [e, setE] = useState<Effect | string | null>(null);
  useEffect(() => {
    void ask<Effect>('GET', operationPath(id, true)).then((r) => setE('ok' in r ? r.ok : r.error));
  }, [id]);
  if (e === null) return <p class="muted">{t.value('app.loading')}</p>;
  if (typeof e === 'string') return <ErrorText message={e} />;
  const figures: Record<Phase, PhaseFigures | null> = { before: e.before, during: e.during, after: e.after };
  return (
    <div class="ops-effect">
      <table class="ev-table">
        <caption>{t.value('ops.effect.caption', { zone: e.time_zone })}</caption>
        <Head keys={['ops.col.phase', 'ops.col.days', 'ops.col.hours', 'ops.col.incidents', 'ops.col.rate', 'ops.col.comparison']} />
        <tbody>
          {PHASES.map((p) => {
            const f = figures[p];
            return (
              <tr key={p}>
                <th scope="row">{t.value(PHASE_KEYS[p])}</th>
                <td class="ops-days">
                  <bdi>{f ? `${f.first_day} – ${f.last_day}` : NOTHING}</bdi>
                </td>
                <td class="num">{f ? Math.round(f.hours) : NOTHING}</td>
                <td class="num">{f ? f.incidents : NOTHING}</td>
                <td class="num">{f ? fixed(f.rate_per_100h) : NOTHING}</td>
                <td class="num">{f ? f.comparison_incidents : NOTHING}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ul class="ops-ratios">
        <Ratio what={'ops.ratio.during'} r={e.during_vs_before} />
        <Ratio what={'ops.ratio.after'} r={e.after_vs_before} />
        <Ratio what={'ops.ratio.comparison'} r={e.during_vs_comparison} />
      </ul>
      <p class="hint">{t.value('ops.ratio.hint')}</p>
      <WeekChart e={e} />
    </div>
  );
}

function Ratio({ what, r }: { what: MessageKey; r: RateRatio | null }) {
  const v = verdictOf(r);
  const text = ratioText(r);
  const change = changePercent(r);
  return (
    <li class={`ops-ratio verdict-${v}`}>
      <span class="ops-ratio-what">{t.value(what)}</span>{' '}
      <bdi class="ops-ratio-value" dir="ltr">
        {text ?? NOTHING}
      </bdi>{' '}
      <strong class="ops-verdict">{t.value(VERDICT_KEYS[v])}</strong>
      {change !== null && (
        <>
          {' '}
          <bdi class="muted ops-change" dir="ltr">{`(${change > 0 ? '+' : ''}${change}%)`}</bdi>
        </>
      )}
      {r && r.dispersion > 1 && (
        <>
          {' '}
          <span class="muted">{t.value('ops.dispersion', { phi: fixed(r.dispersion, 1) })}</span>
        </>
      )}
    </li>
  );
}

function WeekChart({ e }: { e: Effect }) {
  const l = lang.value;
  const data = useMemo(() => {
    // The comparison as its average hotspot, so that it shares the target's scale.
    const c = effectChart(e.weeks, e.operation.comparison.length);
    const lines: PlotLine[] = [{ label: t.value('ops.chart.target'), values: c.target, colour: '#eef2f6', bold: true }];
    if (e.operation.comparison.length > 0) {
      lines.push({ label: t.value('ops.chart.comparisonAverage'), values: c.comparison, dashed: true, colour: '#ffc107' });
    }
    const shade = phaseRuns(c.phases).flatMap(([p, a, b]) => {
      const fill = SHADE[p];
      return fill ? [[a, b, fill] as [number, number, string]] : [];
    });
    return { periods: c.periods, lines, shade };
  }, [e, l]);
  if (e.weeks.length === 0) return <p class="muted">{t.value('stats.nothing')}</p>;
  return (
    <figure class="ops-chart">
      <Plot label={t.value('ops.chart.title')} xLabel={t.value('ops.chart.week')} periods={data.periods} lines={data.lines} shade={data.shade} height={240} />
      <figcaption class="hint">
        <span class="shade-key shade-during" aria-hidden="true" /> {t.value('ops.chart.during')}{' '}
        <span class="shade-key shade-after" aria-hidden="true" /> {t.value('ops.chart.after')}
      </figcaption>
    </figure>
  );
}
