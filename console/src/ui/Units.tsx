// Units and map: the plain coordinate map (hotspots, units, open alerts; no tiles, no internet),
// the units with their kind, status and last report, and the form that raises an alert from a
// resident's call at a place picked on the map (or at a hotspot chosen from a list, from the
// keyboard).

import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { allUnits, liveSources, raiseAlert } from '../actions';
import type { UnitsView } from '../lib/alerts';
import { formatAge } from '../lib/format';
import type { LatLon } from '../lib/map';
import { PHENOMENON_KEYS } from '../lib/labels';
import { MapSvg, type Spot } from './MapSvg';
import { severityLabel, unitKindLabel } from '../labels';
import { go, nowUs, queue, t } from '../store';
import { ErrorText } from './ErrorText';

const W = 800;
const H = 560;
/** How often the units are read again while the page is open, ms. */
const UNITS_EVERY_MS = 10_000;

export const PHENOMENA = [
  'fight',
  'violence',
  'vandalism',
  'drugs',
  'weapon',
  'gathering',
  'noise',
  'other',
] as const;
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;


function unitStatusLabel(s: string): string {
  if (s === 'available') return t.value('unit.available');
  if (s === 'busy') return t.value('unit.busy');
  if (s === 'off_duty') return t.value('unit.offDuty');
  return s;
}

/** The phenomenon choice and the description, shared by the call form and the live tile. */
export function PhenomenonFields(props: {
  idPrefix: string;
  phenomenon: string;
  severity: string;
  description: string;
  onChange: (field: 'phenomenon' | 'severity' | 'description', v: string) => void;
  descriptionLabel: string;
}) {
  const p = props.idPrefix;
  return (
    <>
      <div class="field">
        <label for={`${p}-phenomenon`}>{t.value('raise.phenomenon')}</label>
        <select
          id={`${p}-phenomenon`}
          value={props.phenomenon}
          onChange={(e) => props.onChange('phenomenon', (e.currentTarget as HTMLSelectElement).value)}
        >
          {PHENOMENA.map((k) => (
            <option key={k} value={k}>
              {t.value(PHENOMENON_KEYS[k])}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${p}-severity`}>{t.value('raise.severity')}</label>
        <select
          id={`${p}-severity`}
          value={props.severity}
          onChange={(e) => props.onChange('severity', (e.currentTarget as HTMLSelectElement).value)}
        >
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {severityLabel(s)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${p}-description`}>{props.descriptionLabel}</label>
        <textarea
          id={`${p}-description`}
          dir="auto"
          rows={3}
          maxLength={1000}
          required
          value={props.description}
          onInput={(e) => props.onChange('description', (e.currentTarget as HTMLTextAreaElement).value)}
        />
      </div>
    </>
  );
}

function CallForm({ place, spots, onPlace }: { place: LatLon | null; spots: Spot[]; onPlace: (p: LatLon) => void }) {
  const fields = useSignal({ phenomenon: 'fight', severity: 'high', description: '' });
  const error = useSignal<string | null>(null);
  const pending = useSignal(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!place || pending.value) return;
    pending.value = true;
    const r = await raiseAlert({ source: 'call', lat: place.lat, lon: place.lon, ...fields.value });
    pending.value = false;
    if ('error' in r) {
      error.value = r.error;
      return;
    }
    error.value = null;
    fields.value = { ...fields.value, description: '' };
    go('alerts');
  };
  return (
    <form class="card form call-form" onSubmit={submit} aria-labelledby="call-title" noValidate>
      <h2 id="call-title">{t.value('raise.callTitle')}</h2>
      <p class="hint">{t.value('raise.callHint')}</p>
      <div class="field">
        <label for="call-near">{t.value('raise.near')}</label>
        <select
          id="call-near"
          value=""
          onChange={(e) => {
            const s = spots.find((x) => x.id === (e.currentTarget as HTMLSelectElement).value);
            if (s) onPlace(s.at);
          }}
        >
          <option value="">{t.value('raise.nearPick')}</option>
          {spots.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </div>
      <p class="call-place" aria-live="polite">
        {place ? (
          <>
            {t.value('raise.place')}{' '}
            <bdi class="mono">
              {place.lat.toFixed(5)}, {place.lon.toFixed(5)}
            </bdi>
          </>
        ) : (
          <span class="muted">{t.value('raise.noPlace')}</span>
        )}
      </p>
      <PhenomenonFields
        idPrefix="call"
        {...fields.value}
        descriptionLabel={t.value('raise.callerSaid')}
        onChange={(k, v) => (fields.value = { ...fields.value, [k]: v })}
      />
      <ErrorText message={error.value} />
      <button
        type="submit"
        class="btn btn-primary"
        disabled={!place || pending.value || fields.value.description.trim() === ''}
      >
        {t.value('raise.submit')}
      </button>
    </form>
  );
}

export function UnitsPage() {
  const units = useSignal<UnitsView | string | null>(null);
  const spots = useSignal<Spot[]>([]);
  const place = useSignal<LatLon | null>(null);

  useEffect(() => {
    let live = true;
    const load = () => {
      if (document.visibilityState !== 'visible') return;
      void allUnits().then((u) => {
        if (live) units.value = u;
      });
    };
    load();
    void liveSources().then((s) => {
      if (!live || typeof s === 'string') return;
      spots.value = s.hotspots.flatMap((h) =>
        h.lat !== undefined && h.lon !== undefined ? [{ id: h.id, name: h.name, at: { lat: h.lat, lon: h.lon } }] : [],
      );
    });
    const timer = setInterval(load, UNITS_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);

  const u = typeof units.value === 'object' && units.value !== null ? units.value.units : [];
  const alerts = [...queue.value.values()].flatMap((a) =>
    a.location ? [{ id: a.id, severity: a.severity, location: a.location }] : [],
  );

  return (
    <main id="main" class="page units-page" tabIndex={-1} aria-labelledby="units-title">
      <h1 id="units-title" class="page-title">
        {t.value('units.title')}
      </h1>
      <div class="units-layout">
        <figure class="map-box">
          <MapSvg
            width={W}
            height={H}
            label={t.value('units.mapLabel')}
            spots={spots.value}
            alerts={alerts}
            units={u}
            picked={place.value}
            onPick={(p) => (place.value = p)}
          />
          <figcaption class="hint">{t.value('units.mapHint')}</figcaption>
        </figure>
        <div class="units-side">
          <CallForm place={place.value} spots={spots.value} onPlace={(p) => (place.value = p)} />
          <section class="card" aria-labelledby="units-list-title">
            <h2 id="units-list-title">{t.value('units.list')}</h2>
            {typeof units.value === 'string' && (
              <p class="error" role="alert">
                {units.value}
              </p>
            )}
            <ul class="plain units-list">
              {u.map((x) => (
                <li key={x.id} class={`unit-row status-${x.status}`}>
                  <span class="unit-name">
                    <bdi>{x.name}</bdi>
                  </span>{' '}
                  <span class="muted">{unitKindLabel(x.kind)}</span> ·{' '}
                  <span class="unit-status">{unitStatusLabel(x.status)}</span> ·{' '}
                  <span class="muted">
                    {t.value('units.reported', { age: formatAge(x.updated_at, nowUs.value) })}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        </div>
      </div>
    </main>
  );
}
