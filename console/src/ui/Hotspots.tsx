// The supervisor's pages: the hotspots on a map and in a table (`#/hotspots`), and one hotspot's
// editor (`#/hotspots/ID`, `#/hotspots/new`): its place, priority and cameras; zones and trip
// lines drawn on each camera's live picture; its schedule with the next moments it arms and
// disarms; and its rules. The documents and the refusals' fields are in ../lib/hotspots.ts.
//
// Invariants:
// - the picture is never mirrored and points are fractions of it (see ../lib/hotspots.ts), so a
//   zone drawn in Hebrew is the zone drawn in English;
// - a refused save keeps everything on screen and shows the server's message next to the part
//   it names (a zone's row, the schedule, a field), else at the form's end;
// - the schedule preview is the server's (`POST /api/schedules/preview`), on the server's clock
//   and zone, asked again after each change; a refusal there is shown under the schedule.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ask } from '../actions';
import {
  countIn,
  DAYS,
  type DateRangeDoc,
  type DetectionsView,
  type Direction,
  everyNight,
  freeId,
  type HotspotDoc,
  type HotspotView,
  type LineDoc,
  newRule,
  newSchedule,
  numberOf,
  type Part,
  partOf,
  pointIn,
  parsePoints,
  pointsText,
  type PreviewView,
  type Pt,
  RULE_KINDS,
  type RuleField,
  ruleDoc,
  ruleFieldOf,
  type RuleForm,
  type RuleKind,
  type RuleView,
  type ScheduleForm,
  scheduleDoc,
  scheduleForm,
  SEVERITIES,
  type ZoneDoc,
} from '../lib/hotspots';
import type { MessageKey } from '../lib/i18n';
import { fieldsIn, siteZone } from '../lib/zone';
import { severityLabel } from '../labels';
import { hotspotOpen, names, t } from '../store';
import { ErrorText, PendingPage } from './ErrorText';
import { Field, Head } from './Evidence';
import { MapSvg } from './MapSvg';
import { LivePlayer, type PlayerState } from './player';

const DAY_KEYS: Record<(typeof DAYS)[number], MessageKey> = {
  sun: 'day.sun',
  mon: 'day.mon',
  tue: 'day.tue',
  wed: 'day.wed',
  thu: 'day.thu',
  fri: 'day.fri',
  sat: 'day.sat',
};

const KIND_KEYS: Record<RuleKind, MessageKey> = {
  intrusion: 'rule.kind.intrusion',
  loitering: 'rule.kind.loitering',
  crowding: 'rule.kind.crowding',
  line_crossing: 'rule.kind.line_crossing',
  tamper: 'rule.kind.tamper',
};

const DIRECTION_KEYS: Record<Direction, MessageKey> = {
  a_to_b: 'zone.dir.a_to_b',
  b_to_a: 'zone.dir.b_to_a',
  both: 'zone.dir.both',
};

/** A moment as the schedule's zone `tz` reads it (the site's when `tz` is not a zone):
 * weekday, date and time. */
function moment(at: string, tz: string): string {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) return at;
  const f = fieldsIn(ms, tz);
  // The weekday of the local calendar date (UTC noon of that date has the same weekday).
  const wd = new Date(Date.UTC(f.year, f.month - 1, f.day, 12)).getUTCDay();
  const day = t.value(DAY_KEYS[DAYS[wd] ?? 'sun']);
  const p2 = (v: number) => String(v).padStart(2, '0');
  return `${day} ${f.year}-${p2(f.month)}-${p2(f.day)} ${p2(f.hour)}:${p2(f.minute)}`;
}

// ----- the list -----

export function HotspotsPage() {
  const open = hotspotOpen.value;
  if (open !== null) return <HotspotEditor key={open} id={open === 'new' ? null : open} />;
  return <HotspotList />;
}

function HotspotList() {
  const [list, setList] = useState<HotspotView[] | string | null>(null);
  const [rules, setRules] = useState<RuleView[]>([]);
  useEffect(() => {
    void ask<HotspotView[]>('GET', '/api/hotspots').then((r) => setList('ok' in r ? r.ok : r.error));
    void ask<RuleView[]>('GET', '/api/rules').then((r) => 'ok' in r && setRules(r.ok));
  }, []);
  if (list === null || typeof list === 'string') return <PendingPage failure={list} pageClass="page evidence-page" />;
  const sorted = [...list].sort((a, b) => b.hotspot.priority - a.hotspot.priority || a.name.localeCompare(b.name));
  return (
    <main id="main" class="page evidence-page" tabIndex={-1} aria-labelledby="hotspots-title">
      <div class="title-row">
        <h1 id="hotspots-title" class="page-title">
          {t.value('hotspots.title')}
        </h1>
        <a class="btn btn-primary" href="#/hotspots/new" id="hotspot-new">
          {t.value('hotspots.new')}
        </a>
      </div>
      <div class="evidence-layout">
        <section class="card hs-map" aria-label={t.value('hotspots.mapLabel')}>
          <MapSvg
            width={480}
            height={360}
            label={t.value('hotspots.mapLabel')}
            spots={sorted.map((h) => ({ id: h.id, name: h.name, at: { lat: h.hotspot.lat, lon: h.hotspot.lon } }))}
            alerts={[]}
            units={[]}
          />
        </section>
        <section aria-labelledby="hotspots-list-title">
          <h2 id="hotspots-list-title">{t.value('hotspots.list', { n: list.length })}</h2>
          {list.length === 0 ? (
            <p class="muted">{t.value('hotspots.none')}</p>
          ) : (
            <table class="ev-table hotspots">
              <Head keys={['hotspots.name', 'hotspots.armed', 'hotspots.priority', 'hotspots.cameras', 'hotspots.zones', 'hotspots.rules']} />
              <tbody>
                {sorted.map((h) => (
                  <tr key={h.id} data-hotspot={h.id}>
                    <td>
                      <a href={`#/hotspots/${encodeURIComponent(h.id)}`}>
                        <bdi>{h.name}</bdi>
                      </a>
                    </td>
                    <td>
                      <span class={h.armed_now ? 'armed-cell is-armed' : 'armed-cell'}>{h.armed_now ? t.value('sched.armedNow') : t.value('sched.disarmedNow')}</span>
                    </td>
                    <td class="num">{h.hotspot.priority}</td>
                    <td>
                      {h.hotspot.cameras.map((c) => (
                        <bdi key={c} class="chip">
                          {names.value.cameras.get(c) ?? c.slice(0, 8)}
                        </bdi>
                      ))}
                    </td>
                    <td class="num">{h.hotspot.zones.length + h.hotspot.lines.length}</td>
                    <td class="num">{rules.filter((r) => r.hotspot_id === h.id).length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </main>
  );
}

// ----- the editor -----

interface Draft {
  name: string;
  lat: string;
  lon: string;
  priority: string;
  cameras: string[];
  zones: ZoneDoc[];
  lines: LineDoc[];
  schedule: ScheduleForm;
}

/** A change of the draft: fields to replace, or a function of the latest draft giving them. */
type Patch = Partial<Draft>;
type Change = Patch | ((d: Draft) => Patch);

function draftOf(h: HotspotDoc | null): Draft {
  if (!h) {
    return {
      name: '',
      lat: '',
      lon: '',
      priority: '1',
      cameras: [],
      zones: [],
      lines: [],
      schedule: newSchedule(siteZone() ?? 'UTC'),
    };
  }
  return {
    name: h.name,
    lat: String(h.lat),
    lon: String(h.lon),
    priority: String(h.priority),
    cameras: [...h.cameras],
    zones: h.zones.map((z) => ({ ...z, polygon: z.polygon.map((p) => [...p] as Pt) })),
    lines: h.lines.map((l) => ({ ...l, line: l.line.map((p) => [...p] as Pt) })),
    schedule: scheduleForm(h.schedule),
  };
}

function docOf(d: Draft, id: string | null): HotspotDoc {
  return {
    ...(id ? { id } : {}),
    name: d.name.trim(),
    lat: numberOf(d.lat),
    lon: numberOf(d.lon),
    priority: numberOf(d.priority),
    cameras: d.cameras,
    zones: d.zones,
    lines: d.lines,
    schedule: scheduleDoc(d.schedule),
  };
}

/** What a click on the picture adds to: a zone or a line, by its index. */
type Target = { kind: 'zone' | 'line'; index: number } | null;

function HotspotEditor({ id }: { id: string | null }) {
  const [loaded, setLoaded] = useState<HotspotView | null | string>(id === null ? null : 'loading');
  const [draft, setDraft] = useState<Draft>(draftOf(null));
  const [err, setErr] = useState<{ message: string; part: Part | null } | null>(null);
  const [saved, setSaved] = useState(false);
  const [pending, setPending] = useState(false);
  const [others, setOthers] = useState<HotspotView[]>([]);
  useEffect(() => {
    void ask<HotspotView[]>('GET', '/api/hotspots').then((r) => 'ok' in r && setOthers(r.ok));
    if (id === null) return;
    void ask<HotspotView>('GET', `/api/hotspots/${encodeURIComponent(id)}`).then((r) => {
      if ('ok' in r) {
        setLoaded(r.ok);
        setDraft(draftOf(r.ok.hotspot));
      } else setLoaded(r.error);
    });
  }, [id]);
  if (loaded === 'loading' || typeof loaded === 'string') {
    return <PendingPage failure={loaded === 'loading' ? null : loaded} pageClass="page evidence-page" />;
  }
  // Changes apply to the latest draft (clicks on the picture can come faster than renders).
  const set = (p: Change) => {
    setSaved(false);
    setDraft((d) => ({ ...d, ...(typeof p === 'function' ? p(d) : p) }));
  };
  const errAt = (part: Part['part'], index: number | null = null) =>
    err && err.part && err.part.part === part && (index === null || err.part.index === index) ? err.message : null;
  const save = async (ev: Event) => {
    ev.preventDefault();
    if (pending) return;
    setPending(true);
    const doc = docOf(draft, id);
    const r =
      id === null
        ? await ask<HotspotView>('POST', '/api/hotspots', doc)
        : await ask<HotspotView>('PUT', `/api/hotspots/${encodeURIComponent(id)}`, doc);
    setPending(false);
    if ('ok' in r) {
      setErr(null);
      setSaved(true);
      if (id === null) location.hash = `#/hotspots/${encodeURIComponent(r.ok.id)}`;
      else setLoaded(r.ok);
    } else {
      setErr({ message: r.error, part: partOf(r.error) });
      setSaved(false);
    }
  };
  const title = id === null ? t.value('hotspot.newTitle') : (loaded?.name ?? '');
  const [lat, lon] = [numberOf(draft.lat), numberOf(draft.lon)];
  const place = Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
  return (
    <main id="main" class="page evidence-page hotspot-page" tabIndex={-1} aria-labelledby="hotspot-title">
      <p class="crumbs">
        <a href="#/hotspots">{t.value('hotspots.title')}</a>
      </p>
      <h1 id="hotspot-title" class="page-title">
        <bdi>{title || t.value('hotspot.newTitle')}</bdi>
      </h1>
      <form id="hotspot-form" noValidate onSubmit={save}>
        <div class="hotspot-layout">
          <div class="hotspot-side">
            <section class="card ev-form" aria-labelledby="hs-details-title">
              <h2 id="hs-details-title">{t.value('hotspot.details')}</h2>
              <Field id="hs-name" label={t.value('hotspots.name')} error={errAt('name')}>
                {(a) => <input {...a} dir="auto" value={draft.name} onInput={(x) => set({ name: (x.currentTarget as HTMLInputElement).value })} />}
              </Field>
              <div class="field-row">
                <Field id="hs-priority" label={t.value('hotspots.priority')} error={errAt('priority')} hint={t.value('hotspot.priorityHint')}>
                  {(a) => (
                    <input {...a} dir="ltr" inputMode="numeric" value={draft.priority} onInput={(x) => set({ priority: (x.currentTarget as HTMLInputElement).value })} />
                  )}
                </Field>
                <Field id="hs-lat" label={t.value('hotspot.lat')} error={errAt('lat')}>
                  {(a) => <input {...a} dir="ltr" inputMode="decimal" value={draft.lat} onInput={(x) => set({ lat: (x.currentTarget as HTMLInputElement).value })} />}
                </Field>
                <Field id="hs-lon" label={t.value('hotspot.lon')} error={errAt('lon')}>
                  {(a) => <input {...a} dir="ltr" inputMode="decimal" value={draft.lon} onInput={(x) => set({ lon: (x.currentTarget as HTMLInputElement).value })} />}
                </Field>
              </div>
              <div class="hs-pick-map">
                <MapSvg
                  width={360}
                  height={200}
                  label={t.value('hotspot.mapPick')}
                  spots={[
                    ...others
                      .filter((o) => o.id !== id)
                      .map((o) => ({ id: o.id, name: o.name, at: { lat: o.hotspot.lat, lon: o.hotspot.lon } })),
                    // This hotspot's own place, unnamed (it is marked with the cross), so the map
                    // shows it even when it is the only one.
                    ...(place ? [{ id: 'this', name: '', at: place }] : []),
                  ]}
                  alerts={[]}
                  units={[]}
                  picked={place}
                  onPick={(p) => set({ lat: p.lat.toFixed(6), lon: p.lon.toFixed(6) })}
                  minSpanM={400}
                />
                <p class="hint">{t.value('hotspot.mapPick')}</p>
              </div>
              <fieldset class={errAt('cameras') ? 'picker field-invalid' : 'picker'} id="hs-cameras">
                <legend>{t.value('hotspots.cameras')}</legend>
                {[...names.value.cameras.entries()].map(([cid, cname]) => (
                  <label key={cid} class="pick">
                    <input
                      type="checkbox"
                      value={cid}
                      checked={draft.cameras.includes(cid)}
                      onChange={(e) => {
                        const on = (e.currentTarget as HTMLInputElement).checked;
                        set((d) => ({ cameras: on ? [...d.cameras.filter((c) => c !== cid), cid] : d.cameras.filter((c) => c !== cid) }));
                      }}
                    />{' '}
                    <bdi>{cname}</bdi>
                  </label>
                ))}
                {errAt('cameras') && <p class="error field-error" role="alert">{errAt('cameras')}</p>}
              </fieldset>
            </section>
            <ScheduleEditor form={draft.schedule} set={(s) => set({ schedule: s })} error={errAt('schedule')} />
          </div>
          <ZoneEditor draft={draft} set={set} errAt={errAt} />
        </div>
        <div class="save-row">
          {err && err.part === null && (
            <p id="hotspot-form-error" class="error" role="alert">
              {err.message}
            </p>
          )}
          {saved && (
            <p class="ok-text" role="status" id="hotspot-saved">
              {t.value('hotspot.saved')}
            </p>
          )}
          <button type="submit" class="btn btn-primary btn-big" id="hotspot-save" disabled={pending}>
            {id === null ? t.value('hotspot.create') : t.value('hotspot.save')}
          </button>
        </div>
      </form>
      {id !== null && loaded && <RulesEditor hotspot={loaded} />}
    </main>
  );
}

// ----- zones and lines on the picture -----

function ZoneEditor(props: {
  draft: Draft;
  set: (p: Change) => void;
  errAt: (part: Part['part'], index?: number | null) => string | null;
}) {
  const { draft, set, errAt } = props;
  const [camera, setCamera] = useState<string | null>(null);
  const [target, setTarget] = useState<Target>(null);
  const cam = camera && draft.cameras.includes(camera) ? camera : (draft.cameras[0] ?? null);
  const [frozen, setFrozen] = useState(false);
  const seen = useDetections(cam, frozen);
  const zones = draft.zones.map((z, i) => [z, i] as const).filter(([z]) => z.camera === cam);
  const lines = draft.lines.map((l, i) => [l, i] as const).filter(([l]) => l.camera === cam);
  const taken = [...draft.zones.map((z) => z.id), ...draft.lines.map((l) => l.id)];
  const addPoint = (p: Pt) => {
    if (!target) return;
    if (target.kind === 'zone') {
      set((d) => ({ zones: d.zones.map((z, i) => (i === target.index ? { ...z, polygon: [...z.polygon, p] } : z)) }));
    } else {
      set((d) => ({ lines: d.lines.map((l, i) => (i === target.index ? { ...l, line: l.line.length >= 2 ? [p] : [...l.line, p] } : l)) }));
    }
  };
  const setZone = (i: number, z: Partial<ZoneDoc>) => set((d) => ({ zones: d.zones.map((x, j) => (j === i ? { ...x, ...z } : x)) }));
  const setLine = (i: number, l: Partial<LineDoc>) => set((d) => ({ lines: d.lines.map((x, j) => (j === i ? { ...x, ...l } : x)) }));
  return (
    <section class="card ev-form zone-editor" aria-labelledby="zones-title">
      <h2 id="zones-title">{t.value('zone.title')}</h2>
      {draft.cameras.length === 0 || cam === null ? (
        <p class="muted">{t.value('zone.pickCamera')}</p>
      ) : (
        <>
          {draft.cameras.length > 1 && (
            <div class="field">
              <label for="zone-camera">{t.value('zone.camera')}</label>
              <select id="zone-camera" value={cam} onChange={(e) => setCamera((e.currentTarget as HTMLSelectElement).value)}>
                {draft.cameras.map((c) => (
                  <option key={c} value={c}>
                    {names.value.cameras.get(c) ?? c}
                  </option>
                ))}
              </select>
            </div>
          )}
          <Picture
            camera={cam}
            zones={zones.map(([z, i]) => ({ z, i }))}
            lines={lines.map(([l, i]) => ({ l, i }))}
            target={target}
            onPoint={addPoint}
            seen={seen}
            frozen={frozen}
            setFrozen={setFrozen}
          />
          <DetectorLine seen={seen} />
          <p class="hint" id="zone-hint">
            {target ? t.value('zone.drawing') : t.value('zone.hint')}
          </p>
          <div class="zone-tools">
            <button
              type="button"
              class="btn"
              id="zone-add"
              onClick={() => {
                const zid = freeId('zone', taken);
                set({ zones: [...draft.zones, { id: zid, camera: cam, name: '', polygon: [] }] });
                setTarget({ kind: 'zone', index: draft.zones.length });
              }}
            >
              {t.value('zone.add')}
            </button>
            <button
              type="button"
              class="btn"
              id="line-add"
              onClick={() => {
                const lid = freeId('line', taken);
                set({ lines: [...draft.lines, { id: lid, camera: cam, name: '', line: [], direction: 'both' }] });
                setTarget({ kind: 'line', index: draft.lines.length });
              }}
            >
              {t.value('zone.addLine')}
            </button>
            {target && (
              <button type="button" class="btn btn-primary" id="zone-done" onClick={() => setTarget(null)}>
                {t.value('zone.done')}
              </button>
            )}
          </div>
        </>
      )}
      {draft.zones.map((z, i) => (
        <ShapeRow
          key={`z${i}`}
          kind="zone"
          index={i}
          id={z.id}
          name={z.name}
          points={z.polygon}
          camera={z.camera}
          inZone={typeof seen === 'object' && seen !== null && z.camera === cam && seen.at !== null ? countIn(seen.objects, z.polygon) : null}
          drawing={target?.kind === 'zone' && target.index === i}
          error={errAt('zones', i)}
          onDraw={() => {
            setCamera(z.camera);
            setTarget({ kind: 'zone', index: i });
          }}
          onChange={(p) => setZone(i, { id: p.id, name: p.name, polygon: p.points })}
          onRemove={() => {
            setTarget(null);
            set({ zones: draft.zones.filter((_, j) => j !== i) });
          }}
        />
      ))}
      {draft.lines.map((l, i) => (
        <ShapeRow
          key={`l${i}`}
          kind="line"
          index={i}
          id={l.id}
          name={l.name}
          points={l.line}
          camera={l.camera}
          direction={l.direction}
          drawing={target?.kind === 'line' && target.index === i}
          error={errAt('lines', i)}
          onDraw={() => {
            setCamera(l.camera);
            setTarget({ kind: 'line', index: i });
          }}
          onChange={(p) => setLine(i, { id: p.id, name: p.name, line: p.points, direction: p.direction ?? l.direction })}
          onRemove={() => {
            setTarget(null);
            set({ lines: draft.lines.filter((_, j) => j !== i) });
          }}
        />
      ))}
    </section>
  );
}

/** One zone's or line's row: id, name, points as text (typed or drawn), direction. */
function ShapeRow(props: {
  kind: 'zone' | 'line';
  index: number;
  id: string;
  name: string;
  points: Pt[];
  camera: string;
  direction?: Direction | undefined;
  /** How many detections stand in the zone now; null when unknown (or a line). */
  inZone?: number | null;
  drawing: boolean;
  error: string | null;
  onDraw: () => void;
  onChange: (p: { id: string; name: string; points: Pt[]; direction?: Direction | undefined }) => void;
  onRemove: () => void;
}) {
  const p = `${props.kind}-${props.index}`;
  const [text, setText] = useState(pointsText(props.points));
  const shown = useRef(pointsText(props.points));
  // Points drawn on the picture replace what was typed.
  if (pointsText(props.points) !== shown.current) {
    shown.current = pointsText(props.points);
    if (text !== shown.current) setText(shown.current);
  }
  const cur = { id: props.id, name: props.name, points: props.points, direction: props.direction };
  return (
    <fieldset class={`shape-row${props.error ? ' shape-invalid' : ''}${props.drawing ? ' shape-drawing' : ''}`} id={p} data-shape={props.id}>
      <legend>
        {props.kind === 'zone' ? t.value('zone.zone') : t.value('zone.line')} <bdi>{props.name || props.id}</bdi>{' '}
        <span class="muted">
          (<bdi>{names.value.cameras.get(props.camera) ?? ''}</bdi>)
        </span>
      </legend>
      <div class="field-row">
        <Field id={`${p}-id`} label={t.value('zone.id')} error={null}>
          {(a) => <input {...a} dir="ltr" value={props.id} onInput={(x) => props.onChange({ ...cur, id: (x.currentTarget as HTMLInputElement).value })} />}
        </Field>
        <Field id={`${p}-name`} label={t.value('zone.name')} error={null}>
          {(a) => <input {...a} dir="auto" value={props.name} onInput={(x) => props.onChange({ ...cur, name: (x.currentTarget as HTMLInputElement).value })} />}
        </Field>
        {props.kind === 'line' && (
          <Field id={`${p}-dir`} label={t.value('zone.direction')} error={null}>
            {(a) => (
              <select {...a} value={props.direction} onChange={(x) => props.onChange({ ...cur, direction: (x.currentTarget as HTMLSelectElement).value as Direction })}>
                {(['both', 'a_to_b', 'b_to_a'] as const).map((d) => (
                  <option key={d} value={d}>
                    {t.value(DIRECTION_KEYS[d])}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </div>
      <Field id={`${p}-points`} label={t.value('zone.points')} error={props.error} hint={t.value('zone.pointsHint')}>
        {(a) => (
          <input
            {...a}
            dir="ltr"
            class="mono"
            value={text}
            onInput={(x) => {
              const v = (x.currentTarget as HTMLInputElement).value;
              setText(v);
              const pts = parsePoints(v);
              if (pts) {
                shown.current = pointsText(pts);
                props.onChange({ ...cur, points: pts });
              }
            }}
          />
        )}
      </Field>
      {props.inZone !== undefined && props.inZone !== null && (
        <p class={props.inZone > 0 ? 'in-zone has-objects' : 'in-zone'} data-in-zone={props.inZone}>
          {t.value('zone.inZoneNow', { n: props.inZone })}
        </p>
      )}
      <div class="zone-tools">
        <button type="button" class="btn btn-small" aria-pressed={props.drawing} onClick={props.onDraw}>
          {t.value('zone.draw')}
        </button>
        <button type="button" class="btn btn-small btn-quiet" onClick={() => props.onChange({ ...cur, points: [] })}>
          {t.value('zone.clear')}
        </button>
        <button type="button" class="btn btn-small btn-quiet" onClick={props.onRemove}>
          {t.value('zone.remove')}
        </button>
      </div>
    </fieldset>
  );
}

/** The camera's live picture with the zones and lines drawn over it; a click adds a point. */
function Picture(props: {
  camera: string;
  zones: { z: ZoneDoc; i: number }[];
  lines: { l: LineDoc; i: number }[];
  target: Target;
  onPoint: (p: Pt) => void;
  seen: DetectionsView | string | null;
  frozen: boolean;
  setFrozen: (f: boolean) => void;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<PlayerState>('connecting');
  const { frozen, setFrozen } = props;
  // The detector's own picture when there is one (its boxes belong to it); else live video.
  const frame = typeof props.seen === 'object' && props.seen !== null ? (props.seen.frame ?? null) : null;
  const showFrame = frame !== null;
  useEffect(() => {
    const v = video.current;
    if (!v || showFrame) return;
    const p = new LivePlayer(v, props.camera, setState, 'main');
    p.start();
    return () => p.stop();
  }, [props.camera, showFrame]);
  useEffect(() => {
    const v = video.current;
    if (!v) return;
    if (frozen) v.pause();
    else void v.play().catch(() => undefined);
  }, [frozen, showFrame]);
  const click = (e: MouseEvent) => {
    const p = pointIn(e.clientX, e.clientY, (e.currentTarget as SVGSVGElement).getBoundingClientRect());
    if (p) props.onPoint(p);
  };
  const pts = (ps: Pt[]) => ps.map(([x, y]) => `${x},${y}`).join(' ');
  return (
    <div class="picture-wrap" dir="ltr">
      <div class="picture" data-state={showFrame ? 'detector' : state}>
        {showFrame ? (
          <img class="picture-video" src={frame} alt={t.value('zone.frameLabel')} />
        ) : (
          <video ref={video} class="picture-video" muted playsInline aria-label={t.value('zone.pictureLabel')} />
        )}
        <svg
          class={`picture-overlay${props.target ? ' picture-drawing' : ''}`}
          viewBox="0 0 1 1"
          preserveAspectRatio="none"
          onClick={click}
          role="img"
          aria-label={t.value('zone.overlayLabel')}
        >
          {typeof props.seen === 'object' &&
            props.seen !== null &&
            props.seen.objects.map((o, k) => (
              <rect
                key={`d${k}`}
                class="det"
                x={o.bbox[0]}
                y={o.bbox[1]}
                width={Math.max(0, o.bbox[2] - o.bbox[0])}
                height={Math.max(0, o.bbox[3] - o.bbox[1])}
                vector-effect="non-scaling-stroke"
              />
            ))}
          {props.zones.map(({ z, i }) => (
            <g key={`z${i}`} class={`shape zone${props.target?.kind === 'zone' && props.target.index === i ? ' active' : ''}`}>
              <polygon points={pts(z.polygon)} vector-effect="non-scaling-stroke" />
              {z.polygon.map(([x, y], k) => (
                <circle key={k} cx={x} cy={y} r="0.008" />
              ))}
            </g>
          ))}
          {props.lines.map(({ l, i }) => (
            <g key={`l${i}`} class={`shape line${props.target?.kind === 'line' && props.target.index === i ? ' active' : ''}`}>
              {l.line.length === 2 && (
                <line x1={l.line[0]![0]} y1={l.line[0]![1]} x2={l.line[1]![0]} y2={l.line[1]![1]} vector-effect="non-scaling-stroke" />
              )}
              {l.line.map(([x, y], k) => (
                <circle key={k} cx={x} cy={y} r="0.01" />
              ))}
              {l.line.length === 2 && (
                <>
                  <text x={l.line[0]![0]} y={l.line[0]![1] - 0.02} class="line-end">
                    1
                  </text>
                  <text x={l.line[1]![0]} y={l.line[1]![1] - 0.02} class="line-end">
                    2
                  </text>
                </>
              )}
            </g>
          ))}
        </svg>
        {showFrame ? (
          <span class="tile-state tile-state-playing picture-state">{t.value('zone.frameBadge')}</span>
        ) : (
          <span class={`tile-state tile-state-${state} picture-state`}>{t.value(`live.state.${state}` as MessageKey)}</span>
        )}
      </div>
      <button type="button" class="btn btn-small" id="picture-freeze" aria-pressed={frozen} onClick={() => setFrozen(!frozen)}>
        {frozen ? t.value('zone.resume') : t.value('zone.freeze')}
      </button>
    </div>
  );
}

/** What the detector sees on `camera` now, asked every second while shown (each look keeps the
 * camera decoded for a minute on the server); a string is the server's refusal. */
function useDetections(camera: string | null, frozen: boolean): DetectionsView | string | null {
  const [seen, setSeen] = useState<DetectionsView | string | null>(null);
  // Another camera: nothing of the previous one stays on screen.
  useEffect(() => setSeen(null), [camera]);
  useEffect(() => {
    if (camera === null) return;
    // Frozen: the picture and its boxes stay as they are.
    if (frozen) return;
    let stopped = false;
    let timer: number | undefined;
    const look = async () => {
      let wait = DETECTIONS_EVERY_MS;
      if (document.visibilityState === 'visible') {
        const r = await ask<DetectionsView>('GET', `/api/cameras/${encodeURIComponent(camera)}/detections?frame=true`);
        if (stopped) return;
        if ('ok' in r) setSeen(r.ok);
        else {
          // A refusal is shown only while there is no picture yet (a passing failure keeps the
          // last one), and asked again less often.
          setSeen((old) => (typeof old === 'object' && old !== null ? old : r.error));
          wait = DETECTIONS_RETRY_MS;
        }
      }
      timer = window.setTimeout(() => void look(), wait);
    };
    void look();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [camera, frozen]);
  return seen;
}

/** How often the zone editor asks what the detector sees. */
const DETECTIONS_EVERY_MS = 1000;
/** How often after a refusal. */
const DETECTIONS_RETRY_MS = 10_000;

/** One line under the picture: what the detector sees, or why it sees nothing. */
function DetectorLine({ seen }: { seen: DetectionsView | string | null }) {
  if (seen === null) return null;
  if (typeof seen === 'string') {
    return (
      <p class="detector-line muted" id="detector-line">
        {seen}
      </p>
    );
  }
  let text: string;
  if (!seen.analysis_on) text = t.value('zone.detectorOff');
  else if (seen.at === null) text = t.value('zone.detectorWaiting');
  else text = t.value('zone.detectorSees', { n: seen.objects.length, at: moment(seen.at, siteZone() ?? 'UTC') });
  return (
    <p class="detector-line" id="detector-line" data-objects={seen.objects.length}>
      {text}
    </p>
  );
}

// ----- schedule -----

function RangeRows(props: { id: string; legend: string; rows: DateRangeDoc[]; set: (r: DateRangeDoc[]) => void; addLabel: string }) {
  const setRow = (i: number, r: Partial<DateRangeDoc>) => props.set(props.rows.map((x, j) => (j === i ? { ...x, ...r } : x)));
  return (
    <fieldset class="sched-group" id={props.id}>
      <legend>{props.legend}</legend>
      {props.rows.map((r, i) => (
        <div class="sched-row" key={i}>
          <label>
            {t.value('sched.fromDate')}{' '}
            <input dir="ltr" class="date-in" value={r.from} id={`${props.id}-${i}-from`} onInput={(x) => setRow(i, { from: (x.currentTarget as HTMLInputElement).value })} />
          </label>
          <label>
            {t.value('sched.toDate')}{' '}
            <input dir="ltr" class="date-in" value={r.to} id={`${props.id}-${i}-to`} onInput={(x) => setRow(i, { to: (x.currentTarget as HTMLInputElement).value })} />
          </label>
          <label>
            {t.value('sched.label')}{' '}
            <input dir="auto" value={r.label ?? ''} id={`${props.id}-${i}-label`} onInput={(x) => setRow(i, { label: (x.currentTarget as HTMLInputElement).value })} />
          </label>
          <button type="button" class="btn btn-small btn-quiet" onClick={() => props.set(props.rows.filter((_, j) => j !== i))}>
            {t.value('zone.remove')}
          </button>
        </div>
      ))}
      <button type="button" class="btn btn-small" id={`${props.id}-add`} onClick={() => props.set([...props.rows, { from: '', to: '', label: '' }])}>
        {props.addLabel}
      </button>
    </fieldset>
  );
}

function ScheduleEditor(props: { form: ScheduleForm; set: (f: ScheduleForm) => void; error: string | null }) {
  const f = props.form;
  const [preview, setPreview] = useState<PreviewView | null>(null);
  const [previewErr, setPreviewErr] = useState<string | null>(null);
  const doc = JSON.stringify(scheduleDoc(f));
  useEffect(() => {
    // An answer for a schedule edited since is dropped.
    let stale = false;
    const timer = window.setTimeout(() => {
      void ask<PreviewView>('POST', '/api/schedules/preview', { schedule: JSON.parse(doc), count: 6 }).then((r) => {
        if (stale) return;
        if ('ok' in r) {
          setPreview(r.ok);
          setPreviewErr(null);
        } else {
          setPreview(null);
          setPreviewErr(r.error);
        }
      });
    }, 300);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [doc]);
  const setWindow = (i: number, w: Partial<ScheduleForm['windows'][number]>) =>
    props.set({ ...f, windows: f.windows.map((x, j) => (j === i ? { ...x, ...w } : x)) });
  const message = props.error ?? previewErr;
  return (
    <section class={`card ev-form schedule${message ? ' schedule-invalid' : ''}`} aria-labelledby="sched-title" id="schedule">
      <h2 id="sched-title">{t.value('sched.title')}</h2>
      {preview && (
        <div class="sched-preview" id="sched-preview" aria-live="polite">
          <p class={`armed-now ${preview.armed_now ? 'is-armed' : 'is-disarmed'}`}>
            {preview.armed_now ? t.value('sched.armedNow') : t.value('sched.disarmedNow')}
          </p>
          {preview.changes.length === 0 ? (
            <p class="muted">{t.value('sched.noChange', { days: preview.horizon_days })}</p>
          ) : (
            <ol class="changes">
              {preview.changes.map((c) => (
                <li key={c.at} class={c.armed ? 'arms' : 'disarms'}>
                  <span class="change-what">{c.armed ? t.value('sched.arms') : t.value('sched.disarms')}</span>{' '}
                  <bdi class="mono">{moment(c.at, f.tz.trim())}</bdi>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
      <Field id="sched-tz" label={t.value('sched.tz')} error={null}>
        {(a) => <input {...a} dir="ltr" value={f.tz} onInput={(x) => props.set({ ...f, tz: (x.currentTarget as HTMLInputElement).value })} />}
      </Field>
      <label class="sched-always">
        <input type="checkbox" id="sched-always" checked={f.always} onChange={(x) => props.set({ ...f, always: (x.currentTarget as HTMLInputElement).checked })} />{' '}
        {t.value('sched.always')}
      </label>
      <fieldset class="sched-group" id="sched-windows">
        <legend>{t.value('sched.windows')}</legend>
        {f.windows.map((w, i) => (
          <div class="sched-window" key={i} id={`sched-window-${i}`}>
            <div class="days" role="group" aria-label={t.value('sched.days')}>
              {DAYS.map((d) => (
                <label key={d} class="day">
                  <input
                    type="checkbox"
                    checked={w.days.includes(d)}
                    onChange={(x) => {
                      const on = (x.currentTarget as HTMLInputElement).checked;
                      setWindow(i, { days: DAYS.filter((y) => (y === d ? on : w.days.includes(y))) });
                    }}
                  />
                  {t.value(DAY_KEYS[d])}
                </label>
              ))}
            </div>
            <div class="sched-row">
              <label>
                {t.value('sched.starts')}{' '}
                <input dir="ltr" class="time-in" id={`sched-window-${i}-from`} value={w.from} onInput={(x) => setWindow(i, { from: (x.currentTarget as HTMLInputElement).value })} />
              </label>
              <label>
                {t.value('sched.ends')}{' '}
                <input dir="ltr" class="time-in" id={`sched-window-${i}-to`} value={w.to} onInput={(x) => setWindow(i, { to: (x.currentTarget as HTMLInputElement).value })} />
              </label>
              <button type="button" class="btn btn-small btn-quiet" onClick={() => props.set({ ...f, windows: f.windows.filter((_, j) => j !== i) })}>
                {t.value('zone.remove')}
              </button>
            </div>
          </div>
        ))}
        <button type="button" class="btn btn-small" id="sched-window-add" onClick={() => props.set({ ...f, windows: [...f.windows, everyNight()] })}>
          {t.value('sched.addWindow')}
        </button>
        <p class="hint">{t.value('sched.windowHint')}</p>
      </fieldset>
      <RangeRows id="sched-allday" legend={t.value('sched.allDay')} rows={f.allDay} set={(r) => props.set({ ...f, allDay: r })} addLabel={t.value('sched.addAllDay')} />
      <RangeRows id="sched-dates" legend={t.value('sched.dates')} rows={f.dates} set={(r) => props.set({ ...f, dates: r })} addLabel={t.value('sched.addDates')} />
      <RangeRows id="sched-except" legend={t.value('sched.except')} rows={f.except} set={(r) => props.set({ ...f, except: r })} addLabel={t.value('sched.addExcept')} />
      {message && (
        <p class="error field-error" role="alert" id="sched-error">
          {message}
        </p>
      )}
    </section>
  );
}

// ----- rules -----

function RulesEditor({ hotspot }: { hotspot: HotspotView }) {
  const [rules, setRules] = useState<RuleView[] | null>(null);
  const [form, setForm] = useState<RuleForm>(newRule());
  const [err, setErr] = useState<{ message: string; field: RuleField | null } | null>(null);
  const [pending, setPending] = useState(false);
  const [rowErr, setRowErr] = useState<string | null>(null);
  const reload = () => {
    void ask<RuleView[]>('GET', `/api/rules?hotspot=${encodeURIComponent(hotspot.id)}`).then((r) => setRules('ok' in r ? r.ok : []));
  };
  useEffect(reload, [hotspot.id]);
  const targets = form.kind === 'line_crossing' ? hotspot.hotspot.lines.map((l) => [l.id, l.name || l.id]) : hotspot.hotspot.zones.map((z) => [z.id, z.name || z.id]);
  const target = targets.some(([tid]) => tid === form.target) ? form.target : (targets[0]?.[0] ?? '');
  const e = (f: RuleField) => (err?.field === f ? err.message : null);
  const upd = (p: Partial<RuleForm>) => setForm({ ...form, ...p });
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (pending) return;
    setPending(true);
    const r = await ask<RuleView>('POST', '/api/rules', ruleDoc(hotspot.id, { ...form, target }));
    setPending(false);
    if ('ok' in r) {
      setErr(null);
      setForm(newRule());
      reload();
    } else {
      const field = ruleFieldOf(r.error);
      setErr({ message: r.error, field: field === 'line' ? 'zone' : field });
    }
  };
  const num = (id: string, label: string, field: RuleField, key: keyof RuleForm) => (
    <Field id={id} label={label} error={e(field)}>
      {(a) => <input {...a} dir="ltr" inputMode="decimal" value={form[key]} onInput={(x) => upd({ [key]: (x.currentTarget as HTMLInputElement).value })} />}
    </Field>
  );
  return (
    <section class="rules-section" aria-labelledby="rules-title">
      <h2 id="rules-title">{t.value('rules.title')}</h2>
      <div class="evidence-layout">
        <form class="card ev-form" id="rule-form" noValidate onSubmit={submit} aria-labelledby="rule-form-title">
          <h3 id="rule-form-title">{t.value('rules.new')}</h3>
          <Field id="rule-name" label={t.value('rules.name')} error={e('name')}>
            {(a) => <input {...a} dir="auto" value={form.name} onInput={(x) => upd({ name: (x.currentTarget as HTMLInputElement).value })} />}
          </Field>
          <div class="field-row">
            <Field id="rule-kind" label={t.value('rules.kind')} error={null}>
              {(a) => (
                <select {...a} value={form.kind} onChange={(x) => upd({ kind: (x.currentTarget as HTMLSelectElement).value as RuleKind, target: '' })}>
                  {RULE_KINDS.map((k) => (
                    <option key={k} value={k}>
                      {t.value(KIND_KEYS[k])}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {form.kind !== 'tamper' && (
              <Field id="rule-target" label={form.kind === 'line_crossing' ? t.value('zone.line') : t.value('zone.zone')} error={e('zone')}>
                {(a) => (
                  <select {...a} value={target} onChange={(x) => upd({ target: (x.currentTarget as HTMLSelectElement).value })}>
                    {targets.map(([tid, tname]) => (
                      <option key={tid} value={tid}>
                        {tname}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )}
          </div>
          {form.kind === 'loitering' && num('rule-dwell', t.value('rules.dwell'), 'dwell_secs', 'dwellSecs')}
          {form.kind === 'tamper' && (
            <>
              <div class="field-row">
                {num('rule-no-frames', t.value('rules.noFrames'), 'no_frames_secs', 'noFramesSecs')}
                {num('rule-frozen', t.value('rules.frozen'), 'frozen_secs', 'frozenSecs')}
                {num('rule-dark', t.value('rules.dark'), 'dark_luma_max', 'darkLumaMax')}
              </div>
              <p class="hint">{t.value('rules.tamperHint')}</p>
            </>
          )}
          {form.kind === 'crowding' && (
            <div class="field-row">
              {num('rule-min-count', t.value('rules.minCount'), 'min_count', 'minCount')}
              {num('rule-for', t.value('rules.forSecs'), 'for_secs', 'forSecs')}
            </div>
          )}
          <div class="field-row">
            <Field id="rule-severity" label={t.value('rules.severity')} error={e('severity')}>
              {(a) => (
                <select {...a} value={form.severity} onChange={(x) => upd({ severity: (x.currentTarget as HTMLSelectElement).value })}>
                  {SEVERITIES.map((s) => (
                    <option key={s} value={s}>
                      {severityLabel(s)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {num('rule-cooldown', t.value('rules.cooldown'), 'cooldown_secs', 'cooldownSecs')}
            {num('rule-confidence', t.value('rules.minConfidence'), 'min_confidence', 'minConfidence')}
          </div>
          {err && err.field === null && (
            <p class="error" role="alert" id="rule-form-error">
              {err.message}
            </p>
          )}
          <button type="submit" class="btn btn-primary" id="rule-create" disabled={pending}>
            {t.value('rules.create')}
          </button>
        </form>
        <div>
          {rowErr && <ErrorText message={rowErr} />}
          {rules === null ? (
            <p class="muted">{t.value('app.loading')}</p>
          ) : rules.length === 0 ? (
            <p class="muted">{t.value('rules.none')}</p>
          ) : (
            <table class="ev-table rules">
              <Head keys={['rules.name', 'rules.kind', 'rules.target', 'rules.severity', 'rules.state', 'search.col.actions']} />
              <tbody>
                {rules.map((r) => {
                  const kind = String(r.rule.kind ?? '');
                  return (
                    <tr key={r.id} data-rule={r.id}>
                      <td>
                        <bdi>{String(r.rule.name ?? '')}</bdi>
                      </td>
                      <td>{kind in KIND_KEYS ? t.value(KIND_KEYS[kind as RuleKind]) : kind}</td>
                      <td>
                        <bdi>{String(r.rule.zone ?? r.rule.line ?? '')}</bdi>
                      </td>
                      <td>{severityLabel(String(r.rule.severity ?? ''))}</td>
                      <td>
                        <button
                          type="button"
                          class="btn btn-small btn-toggle rule-enabled"
                          aria-pressed={r.enabled}
                          onClick={async () => {
                            const d = await ask<RuleView>('PUT', `/api/rules/${encodeURIComponent(r.id)}`, { ...r.rule, enabled: !r.enabled });
                            setRowErr('error' in d ? d.error : null);
                            reload();
                          }}
                        >
                          {r.enabled ? t.value('rules.on') : t.value('rules.off')}
                        </button>
                      </td>
                      <td>
                        <button
                          type="button"
                          class="btn btn-small btn-quiet"
                          onClick={async () => {
                            const d = await ask<unknown>('DELETE', `/api/rules/${encodeURIComponent(r.id)}`);
                            setRowErr('error' in d ? d.error : null);
                            reload();
                          }}
                        >
                          {t.value('zone.remove')}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </section>
  );
}
