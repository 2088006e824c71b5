// The console's state, as signals. Components read these; only the functions here and in
// ./actions.ts change them. Browser-only (localStorage, sessionStorage, location).
//
// Invariants:
// - the language and the mute switch are remembered in localStorage; note drafts in
//   sessionStorage (per tab), so a 401 and a sign-in in between lose no typed text;
// - the queue holds open alerts only (rules in ./lib/alerts.ts);
// - `nowUs` ticks once a second; every age and countdown is computed from it.

import { batch, computed, effect, signal } from '@preact/signals';
import type { AlertDetail, AlertSummary } from './lib/alerts';
import type { MeView } from './lib/api';
import type { UnitTask } from './lib/unit';
import { dirOf, LANG_STORAGE_KEY, type Lang, pickLang, translator } from './lib/i18n';
import type { ConnState } from './lib/pushclient';

function readLocal(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeLocal(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage may be off (private mode, policy): the choice then lasts for this page only.
  }
}

// ----- language -----

export const lang = signal<Lang>(pickLang(readLocal(LANG_STORAGE_KEY), navigator.language));
export const t = computed(() => translator(lang.value));

/** Switches the language and remembers the choice. */
export function setLang(l: Lang): void {
  lang.value = l;
  writeLocal(LANG_STORAGE_KEY, l);
}

effect(() => {
  const l = lang.value;
  document.documentElement.lang = l;
  document.documentElement.dir = dirOf(l);
  document.title = t.value('app.title');
});

// ----- sound -----

const MUTE_KEY = 'roeh.muted';
export const muted = signal(readLocal(MUTE_KEY) === '1');

/** Turns the alarm sound off or on and remembers it. */
export function setMuted(m: boolean): void {
  muted.value = m;
  writeLocal(MUTE_KEY, m ? '1' : '0');
}

// ----- routing -----

export type Route =
  | 'setup'
  | 'login'
  | 'device'
  | 'alerts'
  | 'live'
  | 'unit'
  | 'units'
  | 'playback'
  | 'search'
  | 'exports'
  | 'holds'
  | 'custody'
  | 'users'
  | 'audit'
  | 'keys'
  | 'cameras'
  | 'onvif'
  | 'webhooks'
  | 'hotspots'
  | 'stats'
  | 'operations';

function parseHash(h: string): Route {
  if (h === '#/setup') return 'setup';
  if (h === '#/login') return 'login';
  if (h === '#/device' || h.startsWith('#/device/')) return 'device';
  if (h === '#/unit') return 'unit';
  if (h === '#/units') return 'units';
  if (h === '#/playback' || h.startsWith('#/playback/')) return 'playback';
  if (h === '#/live' || h.startsWith('#/live/')) return 'live';
  if (h === '#/search') return 'search';
  if (h === '#/exports') return 'exports';
  if (h === '#/holds') return 'holds';
  if (h === '#/users') return 'users';
  if (h === '#/audit') return 'audit';
  if (h === '#/keys') return 'keys';
  if (h === '#/cameras') return 'cameras';
  if (h === '#/onvif') return 'onvif';
  if (h === '#/webhooks') return 'webhooks';
  if (h === '#/hotspots' || h.startsWith('#/hotspots/')) return 'hotspots';
  if (h === '#/stats') return 'stats';
  if (h === '#/operations') return 'operations';
  if (h === '#/custody' || h.startsWith('#/custody/')) return 'custody';
  return 'alerts';
}

/** The camera of the single live view (`#/live/ID`), or null for the grid. */
function parseLiveCamera(h: string): string | null {
  if (!h.startsWith('#/live/')) return null;
  try {
    return decodeURIComponent(h.slice('#/live/'.length)) || null;
  } catch {
    return null;
  }
}

/** The hotspot of `#/hotspots/ID` (`new` for a new one), or null for the list. */
function parseHotspot(h: string): string | null {
  if (!h.startsWith('#/hotspots/')) return null;
  try {
    return decodeURIComponent(h.slice('#/hotspots/'.length)) || null;
  } catch {
    return null;
  }
}

/** The case of `#/custody/CASE`, or null. */
function parseCase(h: string): string | null {
  if (!h.startsWith('#/custody/')) return null;
  try {
    return decodeURIComponent(h.slice('#/custody/'.length)) || null;
  } catch {
    return null;
  }
}

/** The camera and moment (µs) of `#/playback/CAMERA/TIME`. */
function parsePlayback(h: string): { camera: string | null; at: number | null } {
  const parts = h.startsWith('#/playback/') ? h.slice('#/playback/'.length).split('/') : [];
  let camera: string | null = null;
  try {
    camera = parts[0] ? decodeURIComponent(parts[0]) : null;
  } catch {
    camera = null;
  }
  const at = parts[1] !== undefined && /^\d{1,17}$/.test(parts[1]) ? Number(parts[1]) : null;
  return { camera, at };
}

export const route = signal<Route>(parseHash(location.hash));
export const liveCamera = signal<string | null>(parseLiveCamera(location.hash));
export const playbackCamera = signal<string | null>(parsePlayback(location.hash).camera);
export const playbackAt = signal<number | null>(parsePlayback(location.hash).at);
export const custodyCase = signal<string | null>(parseCase(location.hash));
export const hotspotOpen = signal<string | null>(parseHotspot(location.hash));
window.addEventListener('hashchange', () => {
  const p = parsePlayback(location.hash);
  batch(() => {
    route.value = parseHash(location.hash);
    liveCamera.value = parseLiveCamera(location.hash);
    playbackCamera.value = p.camera;
    playbackAt.value = p.at;
    custodyCase.value = parseCase(location.hash);
    hotspotOpen.value = parseHotspot(location.hash);
  });
});

/** Goes to a page. */
export function go(r: Route): void {
  if (location.hash !== `#/${r}`) location.hash = `#/${r}`;
  route.value = r;
}

// ----- session -----

/** The signed-in user; `undefined` while it is being checked, `null` when signed out. */
export const session = signal<MeView | null | undefined>(undefined);

// ----- time -----

export const nowUs = signal(Date.now() * 1000);
setInterval(() => {
  nowUs.value = Date.now() * 1000;
}, 1000);

// ----- the queue and the stream -----

export const queue = signal<Map<string, AlertSummary>>(new Map());
export const conn = signal<ConnState>('stopped');
/** How many push messages were refused (forged, foreign key, malformed, stale). */
export const refusedCount = signal(0);
/** Whether messages keep arriving stale: this computer's clock may be off. */
export const clockSuspect = signal(false);
/** Whether the open alerts have been read at least once since sign-in. */
export const queueLoaded = signal(false);

/** Names and kinds for ids in summaries (best effort: absent ones show a short id). */
export interface Names {
  hotspots: Map<string, string>;
  cameras: Map<string, string>;
  rules: Map<string, { kind: string; name: string }>;
}
export const names = signal<Names>({ hotspots: new Map(), cameras: new Map(), rules: new Map() });

/** User names of claimers, learned from claim events (summaries carry only the user id). */
export const claimers = signal<Map<number, string>>(new Map());

// ----- the investigator's pages -----

/** What an export or a hold started from a search covers: an incident, or a camera's range. */
export interface EvidenceTarget {
  incident: string | null;
  camera: string;
  /** µs since 1970. */
  start: number;
  end: number;
}

/** The footage the export and hold forms are filled in with (from the search page). */
export const evidenceTarget = signal<EvidenceTarget | null>(null);

// ----- the patrol unit's phone -----

/** The signed-in unit (`GET /api/units/me/alerts`), once read. */
export const myUnit = signal<{ id: string; name: string } | null>(null);
/** Its open dispatches. */
export const tasks = signal<ReadonlyMap<string, UnitTask>>(new Map());
/** Receipts being sent, by alert. */
export const sending = signal<ReadonlySet<string>>(new Set());
/** The last refused receipt of an alert, as the server wrote it. */
export const taskErrors = signal<ReadonlyMap<string, string>>(new Map());

// ----- the queue's screen state -----

export const selectedId = signal<string | null>(null);
export const detailId = signal<string | null>(null);
export const detail = signal<AlertDetail | null>(null);
export const detailError = signal<string | null>(null);
/** Alerts with a request in flight. */
export const busy = signal<ReadonlySet<string>>(new Set());
/** The last error of an alert's action, as the server wrote it (shown as text). */
export const rowErrors = signal<ReadonlyMap<string, string>>(new Map());
/** A final action waiting for its second press. */
export const armed = signal<{ id: string; action: 'resolve' | 'false_alarm'; until: number } | null>(
  null,
);
/** The alert whose dispatch picker is open. */
export const dispatchFor = signal<string | null>(null);
/** The polite announcement for screen readers (new alerts, confirmations). */
export const announcement = signal('');

// ----- note drafts -----

const DRAFT_PREFIX = 'roeh.note.';

function readDrafts(): Map<string, string> {
  const m = new Map<string, string>();
  try {
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      if (k?.startsWith(DRAFT_PREFIX)) m.set(k.slice(DRAFT_PREFIX.length), sessionStorage.getItem(k) ?? '');
    }
  } catch {
    // No storage: drafts live in memory only.
  }
  return m;
}

export const drafts = signal<ReadonlyMap<string, string>>(readDrafts());

/** Keeps a note draft (in memory and in sessionStorage). */
export function setDraft(id: string, text: string): void {
  const m = new Map(drafts.value);
  if (text === '') m.delete(id);
  else m.set(id, text);
  drafts.value = m;
  try {
    if (text === '') sessionStorage.removeItem(DRAFT_PREFIX + id);
    else sessionStorage.setItem(DRAFT_PREFIX + id, text);
  } catch {
    // See readDrafts.
  }
}

/** Adds or removes an id of a set signal. */
export function toggleIn(s: typeof busy, id: string, on: boolean): void {
  const n = new Set(s.value);
  if (on) n.add(id);
  else n.delete(id);
  s.value = n;
}

/** Sets or clears an alert's error text. */
export function setRowError(id: string, message: string | null): void {
  const m = new Map(rowErrors.value);
  if (message === null) m.delete(id);
  else m.set(id, message);
  rowErrors.value = m;
}

/** Says something to screen readers (the polite live region). */
export function announce(text: string): void {
  // The same text twice in a row would not be read again: clear first.
  announcement.value = '';
  queueMicrotask(() => {
    announcement.value = text;
  });
}
