// The details of one alert: what the queue shows plus its snapshot, incidents, dispatches and
// history (notes included), from `GET /api/alerts/{id}`, refreshed when a pushed event concerns it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { allUnits, closeDetail, liveSources, loadDetail } from '../actions';
import type { AlertSummary, Unit } from '../lib/alerts';
import { formatClock, formatDateTime, isolate, shortId } from '../lib/format';
import { cameraLabel, eventLabel, hotspotLabel, severityLabel, stateLabel } from '../labels';
import { detail, detailError, detailId, t } from '../store';
import { focusCard } from './ids';
import { distanceM } from '../lib/map';
import { parseWallTime } from '../lib/time';
import { MapSvg } from './MapSvg';
import { ErrorText } from './ErrorText';

/** Units shown on an alert's map: those this close to it, metres. */
const NEAR_M = 3000;
/** Recorded playback of an incident starts this long before it opened, µs. */
const PLAY_BEFORE_US = 10_000_000;

/** The text of a note in an event's detail (`{"text": …}` for notes, `{"note": …}` with a
 * state change). */
function noteOf(detailValue: unknown): string | null {
  if (typeof detailValue !== 'object' || detailValue === null) return null;
  const d = detailValue as { text?: unknown; note?: unknown };
  if (typeof d.text === 'string') return d.text;
  if (typeof d.note === 'string') return d.note;
  return null;
}

/** The alert's evidence window from the recorded footage. Footage is served once its segment
 * is sealed (a few seconds after recording): until then the player says so and offers a retry,
 * which reads the alert again for a fresh link. */
function EvidenceClip({ id, src }: { id: string; src: string }) {
  const [failed, setFailed] = useState(false);
  const [open, setOpen] = useState(false);
  return (
    <details class="evidence" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{t.value('details.clip')}</summary>
      {failed ? (
        <p class="hint evidence-wait">
          {t.value('details.clipWait')}{' '}
          <button
            type="button"
            class="btn btn-quiet btn-small evidence-retry"
            onClick={() => {
              setFailed(false);
              void loadDetail(id);
            }}
          >
            {t.value('details.clipRetry')}
          </button>
        </p>
      ) : (
        <video class="evidence-video" controls preload="none" src={src} onError={() => setFailed(true)} />
      )}
    </details>
  );
}

/** The alert's place and the patrol units around it, on the plain coordinate map. */
function AlertMap({ a }: { a: AlertSummary }) {
  const [units, setUnits] = useState<Unit[]>([]);
  useEffect(() => {
    let live = true;
    void allUnits().then((u) => {
      if (live && typeof u === 'object') setUnits(u.units);
    });
    return () => {
      live = false;
    };
  }, [a.id]);
  const at = a.location;
  if (!at) return null;
  const name = a.place ?? hotspotLabel(a.hotspot);
  // The units that could get there: the ones within a few kilometres (a far one would shrink
  // the place to a dot).
  const near = units.filter((u) => u.position && distanceM(u.position, at) <= NEAR_M);
  return (
    <figure class="map-box details-map">
      <MapSvg
        width={480}
        height={260}
        label={t.value('details.map', { place: name })}
        spots={[{ id: a.hotspot, name: '', at }]}
        alerts={[{ id: a.id, severity: a.severity, location: at }]}
        units={near}
        minSpanM={1000}
      />
      <figcaption class="hint">
        <bdi>{name}</bdi> · {t.value('details.mapUnits', { n: near.length })}
      </figcaption>
    </figure>
  );
}

/** The hotspot's cameras that recorded no incident of the alert, each a link to its recording
 * at the moment the alert began (10 s before), to see the same moment from another side. */
function OtherCameras({ a }: { a: AlertSummary }) {
  const [cams, setCams] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    void liveSources().then((s) => {
      if (!live || typeof s === 'string') return;
      setCams(s.hotspots.find((h) => h.id === a.hotspot)?.cameras ?? []);
    });
    return () => {
      live = false;
    };
  }, [a.id, a.hotspot]);
  const starts = a.incidents.map((i) => parseWallTime(i.opened_at)).filter((x): x is number => x !== null);
  if (starts.length === 0) return null;
  const seen = new Set(a.incidents.map((i) => i.camera));
  const others = cams.filter((c) => !seen.has(c));
  if (others.length === 0) return null;
  const at = Math.min(...starts) - PLAY_BEFORE_US;
  return (
    <>
      <h3>{t.value('details.otherCameras')}</h3>
      <ul class="plain other-cameras">
        {others.map((c) => (
          <li key={c}>
            <a class="play-moment" data-camera={c} href={`#/playback/${encodeURIComponent(c)}/${at}`}>
              <bdi>{cameraLabel(c)}</bdi>
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}

export function Details() {
  const id = detailId.value;
  const d = detail.value;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, [id]);
  if (id === null) return null;
  const close = () => {
    closeDetail();
    focusCard(id);
  };
  const a = d?.alert;
  // Only the server's own snapshot route is loaded (same origin, the session cookie).
  const snapshot = a?.snapshot && a.snapshot.startsWith('/api/') ? a.snapshot : null;
  const clip = a?.clip && a.clip.startsWith('/api/') ? a.clip : null;
  return (
    <aside class="details card" aria-labelledby="details-title">
      <div class="details-head">
        <h2 id="details-title" tabIndex={-1} ref={heading}>
          {t.value('details.title')} <bdi class="mono">{shortId(id)}</bdi>
        </h2>
        <button type="button" class="btn btn-quiet" onClick={close}>
          {t.value('details.close')}
          <kbd aria-hidden="true">{t.value('key.escape')}</kbd>
        </button>
      </div>
      <ErrorText message={detailError.value} />
      {!a && detailError.value === null && <p class="muted">{t.value('details.loading')}</p>}
      {a && d && (
        <>
          {snapshot && (
            <img
              class="snapshot"
              src={snapshot}
              alt={t.value('details.snapshotAlt', { hotspot: hotspotLabel(a.hotspot) })}
            />
          )}
          {clip && <EvidenceClip key={a.id} id={a.id} src={clip} />}
          <dl class="facts facts-wide">
            <div>
              <dt>{t.value('details.hotspot')}</dt>
              <dd>
                <bdi>{hotspotLabel(a.hotspot)}</bdi>
              </dd>
            </div>
            <div>
              <dt>{t.value('details.severity')}</dt>
              <dd>{severityLabel(a.severity)}</dd>
            </div>
            <div>
              <dt>{t.value('details.state')}</dt>
              <dd>{stateLabel(a.state)}</dd>
            </div>
            <div>
              <dt>{t.value('details.raised')}</dt>
              <dd>
                <bdi>{formatDateTime(a.created_at)}</bdi>
              </dd>
            </div>
            <div>
              <dt>{t.value('details.escalatesAt')}</dt>
              <dd>
                <bdi>{formatClock(a.escalates_at)}</bdi>
              </dd>
            </div>
            <div>
              <dt>{t.value('details.id')}</dt>
              <dd>
                <bdi class="mono">{a.id}</bdi>
              </dd>
            </div>
          </dl>
          <AlertMap a={a} />
          <h3>{t.value('details.incidents')}</h3>
          <ul class="plain">
            {a.incidents.map((i) => {
              const at = parseWallTime(i.opened_at);
              return (
                <li key={i.id}>
                  <bdi>{formatClock(i.opened_at)}</bdi> · <bdi>{cameraLabel(i.camera)}</bdi>
                  {at !== null && (
                    <>
                      {' · '}
                      <a
                        class="play-moment"
                        href={`#/playback/${encodeURIComponent(i.camera)}/${at - PLAY_BEFORE_US}`}
                      >
                        {t.value('details.playMoment')}
                      </a>
                    </>
                  )}
                </li>
              );
            })}
          </ul>
          <OtherCameras a={a} />
          {d.dispatches.length > 0 && (
            <>
              <h3>{t.value('details.dispatches')}</h3>
              <ul class="plain">
                {d.dispatches.map((x) => (
                  <li key={x.unit} class="dispatch-line" data-unit={x.unit}>
                    <bdi class="unit-name">{x.unit_name ?? shortId(x.unit)}</bdi> ·{' '}
                    {t.value('details.dispatchLine', { by: isolate(x.dispatched_by) })}{' '}
                    <bdi>{formatClock(x.dispatched_at)}</bdi>
                    <ol class="receipts">
                      {(
                        [
                          ['details.delivered', x.delivered_at],
                          ['details.accepted', x.accepted_at],
                          ['details.arrived', x.arrived_at],
                          ['details.closed', x.closed_at],
                        ] as const
                      ).map(([key, at]) =>
                        at ? (
                          <li key={key} class="receipt">
                            {t.value(key)} <bdi>{formatClock(at)}</bdi>
                          </li>
                        ) : null,
                      )}
                    </ol>
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>{t.value('details.history')}</h3>
          <ol class="history">
            {[...d.events].reverse().map((e) => {
              const note = noteOf(e.detail);
              return (
                <li key={e.seq}>
                  <bdi class="mono">{formatClock(e.time)}</bdi> {eventLabel(e.kind)} ·{' '}
                  <bdi>{e.actor}</bdi>
                  {note !== null && (
                    <p class="note-text" dir="auto">
                      {note}
                    </p>
                  )}
                </li>
              );
            })}
          </ol>
        </>
      )}
    </aside>
  );
}
