// Pan, tilt, zoom and presets of the camera in the single live view, for cameras whose ONVIF
// device can turn. A direction button moves the camera while it is held (pointer, or Space and
// Enter from the keyboard) and stops it when let go; the server stops a move by itself after a
// few seconds, so a held button repeats it. While the camera is away from its home position its
// rules are paused, and the panel says so above everything else.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ptzCommand, ptzOf } from '../actions';
import type { PtzCommand, PtzView } from '../lib/api';
import { formatClock } from '../lib/format';
import type { MessageKey } from '../lib/i18n';
import { t } from '../store';
import { ErrorText } from './ErrorText';

/** How often a held direction repeats its move (the server's limit is 5 s). */
const REPEAT_MS = 3000;
/** Speed of a move from the buttons, of the generic speed space's 1. */
const SPEED = 0.5;

type Direction = { key: MessageKey; cls: string; pan: number; tilt: number; zoom: number };

const DIRECTIONS: Direction[] = [
  { key: 'ptz.up', cls: 'ptz-up', pan: 0, tilt: SPEED, zoom: 0 },
  { key: 'ptz.left', cls: 'ptz-left', pan: -SPEED, tilt: 0, zoom: 0 },
  { key: 'ptz.right', cls: 'ptz-right', pan: SPEED, tilt: 0, zoom: 0 },
  { key: 'ptz.down', cls: 'ptz-down', pan: 0, tilt: -SPEED, zoom: 0 },
  { key: 'ptz.zoomIn', cls: 'ptz-zoom-in', pan: 0, tilt: 0, zoom: SPEED },
  { key: 'ptz.zoomOut', cls: 'ptz-zoom-out', pan: 0, tilt: 0, zoom: -SPEED },
];

/** The panel; renders nothing for a camera that cannot turn. */
export function PtzPanel({ camera }: { camera: string }) {
  const [view, setView] = useState<PtzView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const held = useRef<{ timer: number } | null>(null);

  useEffect(() => {
    let live = true;
    void ptzOf(camera).then((v) => {
      if (!live) return;
      if (typeof v === 'string') setError(v);
      else setView(v);
    });
    return () => {
      live = false;
      if (held.current) window.clearInterval(held.current.timer);
      held.current = null;
    };
  }, [camera]);

  const send = async (c: PtzCommand) => {
    const v = await ptzCommand(camera, c);
    if (typeof v === 'string') setError(v);
    else {
      setError(null);
      setView(v);
    }
  };
  const once = async (c: PtzCommand) => {
    if (pending) return;
    setPending(true);
    await send(c);
    setPending(false);
  };
  const press = (d: Direction) => {
    if (held.current) return;
    const move: PtzCommand = { kind: 'move', pan: d.pan, tilt: d.tilt, zoom: d.zoom };
    void send(move);
    held.current = { timer: window.setInterval(() => void send(move), REPEAT_MS) };
  };
  const release = () => {
    if (!held.current) return;
    window.clearInterval(held.current.timer);
    held.current = null;
    void send({ kind: 'stop' });
  };

  if (view === null) {
    return <ErrorText message={error} />;
  }
  if (!view.available) return null;
  return (
    <section class="ptz" aria-label={t.value('ptz.title')}>
      {view.away ? (
        <div class="ptz-away" role="status" data-away="true">
          <strong>{t.value('ptz.paused')}</strong>
          {view.changed_by !== null && view.changed_at !== null && (
            <span class="muted">
              {t.value('ptz.movedBy', { who: view.changed_by })}{' '}
              <bdi class="mono">{formatClock(String(Date.parse(view.changed_at) * 1000))}</bdi>
            </span>
          )}
          <button type="button" class="btn btn-primary ptz-home" disabled={pending} onClick={() => void once({ kind: 'home' })}>
            {t.value('ptz.home')}
          </button>
        </div>
      ) : (
        <p class="ptz-at-home muted" role="status" data-away="false">
          {t.value('ptz.atHome')}
        </p>
      )}
      <div class="ptz-controls">
        <div class="ptz-pad">
          {DIRECTIONS.map((d) => (
            <button
              key={d.cls}
              type="button"
              class={`btn ptz-dir ${d.cls}`}
              aria-label={t.value(d.key)}
              title={t.value(d.key)}
              onPointerDown={(e) => {
                (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
                press(d);
              }}
              onPointerUp={release}
              onPointerCancel={release}
              onLostPointerCapture={release}
              onKeyDown={(e) => {
                if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
                  e.preventDefault();
                  press(d);
                }
              }}
              onKeyUp={(e) => {
                if (e.key === ' ' || e.key === 'Enter') {
                  e.preventDefault();
                  release();
                }
              }}
              onBlur={release}
            />
          ))}
        </div>
        <div class="ptz-presets">
          <h2 class="ptz-heading">{t.value('ptz.presets')}</h2>
          <ul class="plain">
            {view.presets.map((p) => (
              <li key={p.token}>
                <button
                  type="button"
                  class={`btn btn-small ptz-preset${view.position === `preset:${p.token}` ? ' btn-current' : ''}`}
                  data-token={p.token}
                  disabled={pending}
                  onClick={() => void once({ kind: 'preset', token: p.token })}
                >
                  <bdi>{p.name || p.token}</bdi>
                  {p.home && <span class="muted"> {t.value('ptz.homeMark')}</span>}
                </button>
              </li>
            ))}
          </ul>
          {!view.away && (
            <button type="button" class="btn btn-quiet btn-small ptz-home" disabled={pending} onClick={() => void once({ kind: 'home' })}>
              {t.value('ptz.home')}
            </button>
          )}
        </div>
      </div>
      <ErrorText message={error} />
    </section>
  );
}
