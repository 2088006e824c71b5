// Recorded playback (`#/playback/CAMERA/TIME`): a camera's hour on a timeline of recorded
// segments, gaps (with their reason) and incidents; a date and an hour pick the hour in two
// clicks; a click on the timeline plays from there; play, step a frame, jump 10 s; another camera
// at the same moment keeps the time. Footage comes from the MP4 route (a custody event on the
// server), five minutes at a time, starting at a segment's first frame.

import { useEffect, useRef, useState } from 'preact/hooks';
import { type LiveSources, liveSources, recordings } from '../actions';
import { formatClock, formatDateTime } from '../lib/format';
import {
  dayAndHour,
  type GapInfo,
  hourStart,
  mediaAt,
  type Seg,
  span,
  wallAt,
  windowAt,
} from '../lib/playback';
import { playbackAt, playbackCamera, t } from '../store';
import { PendingPage } from './ErrorText';

const HOUR_US = 3600 * 1_000_000;
/** One picture at the test cameras' and most hotspot cameras' 10 pictures per second. */
const STEP_S = 0.1;

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}


function go(camera: string, at: number): void {
  location.hash = `#/playback/${encodeURIComponent(camera)}/${Math.round(at)}`;
}

interface Hour {
  segs: Seg[];
  gaps: GapInfo[];
  incidents: { id: string; opened_us: number; kind: string }[];
}

export function PlaybackPage() {
  const [src, setSrc] = useState<LiveSources | string | null>(null);
  const camera = playbackCamera.value;
  const at = playbackAt.value ?? Date.now() * 1000 - 5 * 60 * 1_000_000;
  // The site's hour holding the moment (zones with half-hour offsets included).
  const here = dayAndHour(at);
  const from = hourStart(here.date, here.hour) ?? Math.floor(at / HOUR_US) * HOUR_US;
  // The fetched hour and the window in it, each with the camera (and hour) it belongs to: after
  // a switch of camera or hour, what is still held is another camera's and is not used.
  const [fetched, setHour] = useState<{ key: string; hour: Hour | string } | null>(null);
  const [chosen, setWin] = useState<{ key: string; segs: Seg[] | null } | null>(null);
  const [now, setNow] = useState<number | null>(null);
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    void liveSources().then(setSrc);
  }, []);
  const cams = typeof src === 'object' && src !== null ? src.cameras : [];
  const cam = camera ?? cams[0]?.id ?? null;
  const key = `${cam}/${from}`;
  const hour = fetched !== null && fetched.key === key ? fetched.hour : null;
  const win = chosen !== null && chosen.key === key ? chosen.segs : null;

  // The hour's recordings.
  useEffect(() => {
    if (!cam) return;
    let live = true;
    const k = `${cam}/${from}`;
    void recordings(cam, from, from + HOUR_US).then((h) => {
      if (live) setHour({ key: k, hour: h });
    });
    return () => {
      live = false;
    };
  }, [cam, from]);

  // The window holding the chosen moment (from the hour, or the next recorded after it).
  const segs = typeof hour === 'object' && hour !== null ? hour.segs : [];
  useEffect(() => {
    if (!cam || typeof hour !== 'object' || hour === null) return;
    setWin({ key, segs: windowAt(hour.segs, at) });
  }, [cam, key, hour, at]);

  const first = win?.[0];
  const last = win?.[win.length - 1];
  const mp4 =
    cam && first && last
      ? `/api/cameras/${encodeURIComponent(cam)}/mp4?start=${first.start_us}&end=${last.end_us}`
      : null;

  // A new file (another camera, another window) has no position until it plays.
  useEffect(() => setNow(null), [mp4]);

  const onLoaded = () => {
    const v = video.current;
    if (!v || !win) return;
    const m = mediaAt(win, at);
    if (m !== null) v.currentTime = m;
    void v.play().catch(() => undefined);
  };
  const onTime = () => {
    const v = video.current;
    if (v && win) setNow(wallAt(win, v.currentTime));
  };
  const onEnded = () => {
    // Go on with what was recorded after this window.
    if (cam && last) go(cam, last.end_us);
  };
  const seekBy = (secs: number) => {
    const v = video.current;
    if (!v || !win || now === null) return;
    if (secs !== STEP_S && secs !== -STEP_S) {
      const target = now + secs * 1e6;
      const m = mediaAt(win, target);
      if (m === null || target < (first?.start_us ?? 0)) {
        if (cam) go(cam, target);
        return;
      }
      v.currentTime = m;
      return;
    }
    v.pause();
    v.currentTime = Math.max(0, v.currentTime + secs);
  };

  const pick = (e: MouseEvent) => {
    const el = e.currentTarget as SVGSVGElement;
    const r = el.getBoundingClientRect();
    // Time runs left to right in every language, as on the video's own scrubber.
    const f = (e.clientX - r.left) / r.width;
    if (cam) go(cam, from + Math.min(1, Math.max(0, f)) * HOUR_US);
  };

  if (src === null || typeof src === 'string') return <PendingPage failure={src} pageClass="page" />;
  // Bars on a 1000-unit-wide timeline (SVG attributes, not styles: the CSP allows no inline style).
  const bar = (a: number, b: number) => {
    const sp = span(from, from + HOUR_US, a, b);
    return sp ? { x: sp[0] * 1000, width: Math.max(2, (sp[1] - sp[0]) * 1000) } : null;
  };
  const h = typeof hour === 'object' && hour !== null ? hour : null;
  return (
    <main id="main" class="page playback-page" tabIndex={-1} aria-labelledby="playback-title">
      <div class="live-bar">
        <h1 id="playback-title" class="page-title">
          {t.value('playback.title')}
        </h1>
        <label class="live-group">
          <span>{t.value('playback.camera')}</span>
          <select
            id="playback-camera"
            value={cam ?? ''}
            onChange={(e) => go((e.currentTarget as HTMLSelectElement).value, now ?? at)}
          >
            {cams.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label class="live-group">
          <span>{t.value('playback.date')}</span>
          <input
            id="playback-date"
            type="date"
            value={here.date}
            onChange={(e) => {
              const s = hourStart((e.currentTarget as HTMLInputElement).value, here.hour);
              if (s !== null && cam) go(cam, s);
            }}
          />
        </label>
      </div>
      <div class="hours" role="group" aria-label={t.value('playback.hour')}>
        {Array.from({ length: 24 }, (_, i) => {
          const s = hourStart(here.date, i);
          const current = here.hour === i;
          return (
            <button
              key={i}
              type="button"
              class={`btn btn-quiet btn-small hour${current ? ' hour-current' : ''}`}
              aria-pressed={current}
              onClick={() => s !== null && cam && go(cam, s)}
            >
              <bdi>{pad2(i)}</bdi>
            </button>
          );
        })}
      </div>
      <svg
        class="timeline"
        dir="ltr"
        viewBox="0 0 1000 40"
        preserveAspectRatio="none"
        role="img"
        aria-label={t.value('playback.timeline', { from: formatDateTime(String(from)) })}
        onClick={pick}
      >
        <rect class="tl-bg" x="0" y="0" width="1000" height="40" />
        {segs.map((sg) => {
          const b = bar(sg.start_us, sg.end_us);
          return b && <rect key={sg.start_us} class="tl-seg" x={b.x} y="0" width={b.width} height="40" />;
        })}
        {h?.gaps.map((g) => {
          const b = bar(g.start_us, g.end_us ?? Date.now() * 1000);
          return (
            b && (
              <rect key={g.start_us} class="tl-gap" x={b.x} y="0" width={b.width} height="40">
                <title>{t.value('playback.gap', { reason: g.reason })}</title>
              </rect>
            )
          );
        })}
        {h?.incidents.map((i) => {
          const b = bar(i.opened_us, i.opened_us + 1);
          return (
            b && (
              <rect key={i.id} class="tl-incident" x={b.x} y="14" width="3" height="26">
                <title>{i.kind}</title>
              </rect>
            )
          );
        })}
        {now !== null && bar(now, now + 1) && (
          <rect class="tl-head" x={bar(now, now + 1)?.x ?? 0} y="0" width="3" height="40" />
        )}
      </svg>
      <p class="tl-scale muted">
        <bdi>{formatClock(String(from))}</bdi>
        <bdi>{formatClock(String(from + HOUR_US))}</bdi>
      </p>
      {typeof hour === 'string' && (
        <p class="error" role="alert">
          {hour}
        </p>
      )}
      {h && win === null && <p class="muted">{t.value('playback.nothing')}</p>}
      {mp4 && (
        <figure class="tile tile-big" data-now={now ?? undefined}>
          <video
            ref={video}
            key={mp4}
            class="tile-video playback-video"
            src={mp4}
            muted
            playsInline
            onLoadedMetadata={onLoaded}
            onTimeUpdate={onTime}
            onSeeked={onTime}
            onEnded={onEnded}
            aria-label={t.value('playback.video')}
          />
          <figcaption class="tile-caption">
            <span class="tile-time playback-now">
              <bdi>{now !== null ? formatDateTime(String(now)) : '—'}</bdi>
            </span>
            <span class="playback-buttons" dir="ltr">
              <button type="button" class="btn btn-quiet btn-small" onClick={() => seekBy(-10)}>
                {t.value('playback.back10')}
              </button>
              <button type="button" class="btn btn-quiet btn-small step-back" onClick={() => seekBy(-STEP_S)}>
                {t.value('playback.stepBack')}
              </button>
              <button
                type="button"
                class="btn btn-quiet btn-small play-pause"
                onClick={() => {
                  const v = video.current;
                  if (!v) return;
                  if (v.paused) void v.play().catch(() => undefined);
                  else v.pause();
                }}
              >
                {t.value('playback.playPause')}
              </button>
              <button type="button" class="btn btn-quiet btn-small step-forward" onClick={() => seekBy(STEP_S)}>
                {t.value('playback.stepForward')}
              </button>
              <button type="button" class="btn btn-quiet btn-small" onClick={() => seekBy(10)}>
                {t.value('playback.forward10')}
              </button>
            </span>
          </figcaption>
        </figure>
      )}
    </main>
  );
}
