// Live video: a grid of cameras (all, or one hotspot's) and a single-camera view (`#/live/ID`).
// Each tile plays the camera's own H.264 over Media Source Extensions (./player.ts) and stops
// while it is off screen or the tab is hidden. Opening a stream is a custody event on the server.

import { useEffect, useRef, useState } from 'preact/hooks';
import { type LiveSources, liveSources, raiseAlert } from '../actions';
import { formatClock } from '../lib/format';
import { dropGroup, GROUPS_KEY, type Group, readGroups, saveGroup } from '../lib/groups';
import type { MessageKey } from '../lib/i18n';
import { go, liveCamera, nowUs, session, t } from '../store';
import { LivePlayer, type PlayerState } from './player';
import { PtzPanel } from './Ptz';
import { PhenomenonFields } from './Units';
import { ErrorText, PendingPage } from './ErrorText';

/** Roles that raise alerts (`handle_alerts`). */
const HANDLERS = ['admin', 'supervisor', 'operator'];

/** "I see it here": raises an alert on this camera at the moment on screen. */
function RaiseHere({ camera, at, onDone }: { camera: string; at: number | null; onDone: () => void }) {
  const [fields, setFields] = useState({ phenomenon: 'fight', severity: 'high', description: '' });
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  // The moment is taken when the form opens: what the operator saw, not when they finished typing.
  const [moment] = useState(at);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (pending) return;
    setPending(true);
    const r = await raiseAlert({
      source: 'camera',
      camera,
      ...fields,
      ...(moment !== null ? { at: new Date(Math.floor(moment / 1000)).toISOString() } : {}),
    });
    setPending(false);
    if ('error' in r) {
      setError(r.error);
      return;
    }
    onDone();
    go('alerts');
  };
  const p = `raise-${camera}`;
  return (
    <form class="raise-here" onSubmit={submit} aria-label={t.value('raise.hereTitle')} noValidate>
      <p class="hint">
        {t.value('raise.hereHint')}{' '}
        {moment !== null && <bdi class="mono">{formatClock(String(moment))}</bdi>}
      </p>
      <PhenomenonFields
        idPrefix={p}
        {...fields}
        descriptionLabel={t.value('raise.youSee')}
        onChange={(k, v) => setFields({ ...fields, [k]: v })}
      />
      <ErrorText message={error} />
      <div class="dispatch-buttons">
        <button type="submit" class="btn btn-primary" disabled={pending || fields.description.trim() === ''}>
          {t.value('raise.submit')}
        </button>
        <button type="button" class="btn btn-quiet" onClick={onDone}>
          {t.value('dispatch.cancel')}
        </button>
      </div>
    </form>
  );
}

const GROUP_KEY = 'roeh.live.group';

function readGroup(): string {
  try {
    return localStorage.getItem(GROUP_KEY) ?? '';
  } catch {
    return '';
  }
}

function writeGroup(v: string): void {
  try {
    localStorage.setItem(GROUP_KEY, v);
  } catch {
    // The choice then lasts for this page only.
  }
}

const STATE_KEYS: Record<PlayerState, MessageKey> = {
  connecting: 'live.state.connecting',
  playing: 'live.state.playing',
  reconnecting: 'live.state.reconnecting',
  unsupported: 'live.state.unsupported',
};

/** One camera's player. `big`: the single view. */
function Tile({ id, name, big }: { id: string; name: string; big?: boolean }) {
  const video = useRef<HTMLVideoElement>(null);
  const box = useRef<HTMLElement>(null);
  const player = useRef<LivePlayer | null>(null);
  const [state, setState] = useState<PlayerState>('connecting');
  const [raising, setRaising] = useState(false);
  const handles = HANDLERS.includes(session.value?.role ?? '');
  // Re-rendered every second by nowUs: the time of the picture on screen.
  const shown = player.current?.shownWall ?? null;
  void nowUs.value;

  useEffect(() => {
    const v = video.current;
    const el = box.current;
    if (!v || !el) return;
    // The grid plays a camera's smaller second stream where it has one; the single view its main.
    const p = new LivePlayer(v, id, setState, big ? 'main' : 'sub');
    player.current = p;
    let visible = false;
    const update = () => {
      if (visible && document.visibilityState === 'visible') p.start();
      else p.stop();
    };
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) visible = e.isIntersecting;
      update();
    });
    io.observe(el);
    document.addEventListener('visibilitychange', update);
    return () => {
      io.disconnect();
      document.removeEventListener('visibilitychange', update);
      p.stop();
      player.current = null;
    };
  }, [id, big]);

  const label = t.value('live.tile', { name });
  return (
    <figure ref={box} class={`tile${big ? ' tile-big' : ''}`} data-camera={id} data-state={state}>
      <video ref={video} class="tile-video" muted playsInline aria-label={label} data-camera={id} />
      <figcaption class="tile-caption">
        {big ? (
          <span class="tile-name">
            <bdi>{name}</bdi>
          </span>
        ) : (
          <a class="tile-name" href={`#/live/${encodeURIComponent(id)}`}>
            <bdi>{name}</bdi>
          </a>
        )}
        <span class={`tile-state tile-state-${state}`}>
          {t.value(STATE_KEYS[state])}
        </span>
        {state === 'playing' && shown !== null && (
          <span class="tile-time">
            <bdi>{formatClock(String(shown))}</bdi>
          </span>
        )}
        {handles && !raising && (
          <button type="button" class="btn btn-quiet btn-small raise-button" onClick={() => setRaising(true)}>
            {t.value('raise.here')}
          </button>
        )}
      </figcaption>
      {raising && <RaiseHere camera={id} at={shown} onDone={() => setRaising(false)} />}
    </figure>
  );
}

/** Saves the cameras ticked here as a named group of this browser. */
function GroupEditor({
  cameras,
  initial,
  onSave,
  onCancel,
}: {
  cameras: { id: string; name: string }[];
  initial: string[];
  onSave: (name: string, cams: string[]) => string | null;
  onCancel: () => void;
}) {
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<string[]>(initial);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="card form group-editor"
      aria-labelledby="group-title"
      onSubmit={(e) => {
        e.preventDefault();
        setError(onSave(name, picked));
      }}
    >
      <h2 id="group-title">{t.value('live.groupNew')}</h2>
      <div class="field">
        <label for="group-name">{t.value('live.groupName')}</label>
        <input
          id="group-name"
          type="text"
          dir="auto"
          maxLength={60}
          value={name}
          onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <fieldset class="group-cameras">
        <legend>{t.value('live.groupCameras')}</legend>
        {cameras.map((c) => (
          <label key={c.id} class="check">
            <input
              type="checkbox"
              checked={picked.includes(c.id)}
              onChange={(e) => {
                const on = (e.currentTarget as HTMLInputElement).checked;
                setPicked(on ? [...picked, c.id] : picked.filter((x) => x !== c.id));
              }}
            />{' '}
            <bdi>{c.name}</bdi>
          </label>
        ))}
      </fieldset>
      <ErrorText message={error} />
      <div class="dispatch-buttons">
        <button type="submit" class="btn btn-primary">
          {t.value('live.groupSave')}
        </button>
        <button type="button" class="btn btn-quiet" onClick={onCancel}>
          {t.value('dispatch.cancel')}
        </button>
      </div>
    </form>
  );
}

function readStoredGroups(): Group[] {
  try {
    return readGroups(localStorage.getItem(GROUPS_KEY));
  } catch {
    return [];
  }
}

function storeGroups(g: Group[]): void {
  try {
    localStorage.setItem(GROUPS_KEY, JSON.stringify(g));
  } catch {
    // The groups then last for this page only.
  }
}

export function LivePage() {
  const [src, setSrc] = useState<LiveSources | string | null>(null);
  const [choice, setChoice] = useState(readGroup());
  const [groups, setGroups] = useState<Group[]>(readStoredGroups());
  const [editing, setEditing] = useState(false);
  const single = liveCamera.value;

  useEffect(() => {
    void liveSources().then(setSrc);
  }, []);

  if (src === null || typeof src === 'string') return <PendingPage failure={src} pageClass="page live-page" />;

  if (single !== null) {
    const cam = src.cameras.find((c) => c.id === single);
    return (
      <main id="main" class="page live-page" tabIndex={-1}>
        <div class="live-bar">
          <h1 class="page-title">{cam ? <bdi>{cam.name}</bdi> : t.value('live.noCamera')}</h1>
          <a class="btn" href="#/live">
            {t.value('live.back')}
          </a>
        </div>
        {cam && (
          <div class="single">
            <Tile key={cam.id} id={cam.id} name={cam.name} big />
            <PtzPanel key={`ptz-${cam.id}`} camera={cam.id} />
          </div>
        )}
      </main>
    );
  }

  // `h:ID` a hotspot, `g:NAME` a saved group, '' every camera (an older stored value is a
  // hotspot id).
  const hs = src.hotspots.find((h) => choice === `h:${h.id}` || choice === h.id);
  const group = groups.find((g) => choice === `g:${g.name}`);
  const shown = hs
    ? src.cameras.filter((c) => hs.cameras.includes(c.id))
    : group
      ? src.cameras.filter((c) => group.cameras.includes(c.id))
      : src.cameras;
  const value = hs ? `h:${hs.id}` : group ? `g:${group.name}` : '';
  const choose = (v: string) => {
    setChoice(v);
    writeGroup(v);
  };
  return (
    <main id="main" class="page live-page" tabIndex={-1}>
      <div class="live-bar">
        <h1 class="page-title">{t.value('live.title')}</h1>
        <label class="live-group">
          <span>{t.value('live.group')}</span>
          <select
            id="live-choice"
            value={value}
            onChange={(e) => choose((e.target as HTMLSelectElement).value)}
          >
            <option value="">{t.value('live.all')}</option>
            {src.hotspots.length > 0 && (
              <optgroup label={t.value('live.hotspots')}>
                {src.hotspots.map((h) => (
                  <option key={h.id} value={`h:${h.id}`}>
                    {h.name}
                  </option>
                ))}
              </optgroup>
            )}
            {groups.length > 0 && (
              <optgroup label={t.value('live.groups')}>
                {groups.map((g) => (
                  <option key={g.name} value={`g:${g.name}`}>
                    {g.name}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </label>
        {!editing && (
          <button type="button" class="btn btn-quiet btn-small group-new" onClick={() => setEditing(true)}>
            {t.value('live.groupNew')}
          </button>
        )}
        {group && (
          <button
            type="button"
            class="btn btn-quiet btn-small group-delete"
            onClick={() => {
              const next = dropGroup(groups, group.name);
              setGroups(next);
              storeGroups(next);
              choose('');
            }}
          >
            {t.value('live.groupDelete')}
          </button>
        )}
      </div>
      {editing && (
        <GroupEditor
          cameras={src.cameras}
          initial={shown.map((c) => c.id)}
          onCancel={() => setEditing(false)}
          onSave={(name, cams) => {
            const next = saveGroup(groups, name, cams);
            if (!next) return t.value('live.groupInvalid');
            setGroups(next);
            storeGroups(next);
            setEditing(false);
            choose(`g:${name.trim()}`);
            return null;
          }}
        />
      )}
      {shown.length === 0 ? (
        <p class="muted">{t.value('live.empty')}</p>
      ) : (
        <div class={`grid grid-${Math.min(4, Math.ceil(Math.sqrt(shown.length)))}`}>
          {shown.map((c) => (
            <Tile key={c.id} id={c.id} name={c.name} />
          ))}
        </div>
      )}
    </main>
  );
}
