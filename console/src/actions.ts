// What the console does: sign-in and sign-out, the push stream feeding the queue, and the
// operator's actions on alerts. Components call these; they never call the API themselves.
//
// Invariants:
// - a 401 from any request ends the session on screen: the stream stops, the sign-in page shows,
//   and note drafts stay (sessionStorage) for after the next sign-in; an explicit sign-out
//   clears them;
// - an action's answer (the alert after the change) is applied at once; the pushed event that
//   follows carries the same or a newer summary, so nothing flickers back;
// - server error messages are stored as plain strings and rendered as text.

import { batch } from '@preact/signals';
import {
  type ActionName,
  type AlertSummary,
  type PushBody,
  type UnitsView,
  applySummary,
  isFinalAction,
  isLoud,
  replaceAll,
} from './lib/alerts';
import {
  Api,
  ApiError,
  type HttpResponse,
  type PtzCommand,
  type PtzView,
  type PushKeyView,
  type RaiseBody,
} from './lib/api';
import {
  type CustodyLog,
  type ExportView,
  fieldOf,
  type HoldView,
  homeOf,
  pagesFor,
  takesPush,
} from './lib/evidence';
import { isolate } from './lib/format';
import {
  type AuditView,
  TOKEN_FIELDS,
  type TokenField,
  type TokenView,
  USER_FIELDS,
  type UserField,
  type UserView,
  type CameraRetention,
  type ScopeIds,
  type UnitField,
  unitFieldOf,
} from './lib/admin';
import { PushClient, type SocketLike } from './lib/pushclient';
import type { GapInfo, Seg } from './lib/playback';
import { setSiteZone } from './lib/zone';
import { applyToTasks, type ReceiptKind, receiptId, tasksFrom, type UnitTask } from './lib/unit';
import { chime } from './sound';
import {
  announce,
  armed,
  busy,
  claimers,
  clockSuspect,
  conn,
  detail,
  detailError,
  detailId,
  dispatchFor,
  drafts,
  go,
  muted,
  myUnit,
  names,
  queue,
  queueLoaded,
  refusedCount,
  route,
  sending,
  session,
  setDraft,
  setRowError,
  t,
  taskErrors,
  tasks,
  toggleIn,
} from './store';
import { hotspotLabel, severityLabel } from './labels';
import {
  type AnalysisView,
  type ApproveField,
  approveFieldOf,
  type CameraField,
  type CameraInfo,
  cameraFieldOf,
  type DeliveryView,
  type DeviceProfiles,
  type DiscoveredDevice,
  deliveriesQuery,
  type WebhookField,
  type WebhookView,
  webhookFieldOf,
} from './lib/integrate';

/** How old a push message may be before this console refuses it (its own limit), µs. */
const MAX_MESSAGE_AGE_US = 120_000_000;

/** What is announced after each action succeeded. */
const DONE = {
  claim: 'done.claim',
  acknowledge: 'done.acknowledge',
  resolve: 'done.resolve',
  false_alarm: 'done.false_alarm',
  escalate: 'done.escalate',
} as const;

/** How long a first press of a final action stays armed, ms. */
const ARM_MS = 4000;

function sessionStore(): Storage | undefined {
  try {
    return sessionStorage;
  } catch {
    return undefined;
  }
}

const api = new Api({
  fetch: (url, init) => fetch(url, init) as Promise<HttpResponse>,
  onUnauthorized: () => signedOut(false),
  ...(sessionStore() ? { storage: sessionStore() as Storage } : {}),
});

function message(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.kind === 'network') return t.value('error.network');
    return e.message;
  }
  return t.value('error.unexpected');
}

// ----- the stream -----

function alarm(s: AlertSummary): void {
  announce(
    t.value('announce.new', {
      severity: severityLabel(s.severity),
      hotspot: isolate(hotspotLabel(s.hotspot)),
    }),
  );
  if (!muted.value && isLoud(s.severity)) chime(s.severity === 'critical' ? 3 : 2);
}

function learnClaimer(b: PushBody): void {
  if (b.kind === 'claim' && b.summary.claimed_by !== null && b.actor !== '') {
    const m = new Map(claimers.value);
    m.set(b.summary.claimed_by, b.actor);
    claimers.value = m;
  }
}

const push = new PushClient(
  {
    subtle: globalThis.crypto?.subtle ?? null,
    openSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    fetchKey: () => api.pushKey(),
    fetchOpen: () => (session.value?.role === 'unit' ? unitSnapshot() : api.openAlerts()),
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    random: () => Math.random(),
    location,
    maxAgeUs: MAX_MESSAGE_AGE_US,
  },
  {
    onState: (s) => {
      conn.value = s;
    },
    onSnapshot: (list) => {
      const first = !queueLoaded.value;
      const r = replaceAll(queue.value, list);
      batch(() => {
        queue.value = r.queue;
        queueLoaded.value = true;
      });
      // Alerts that appeared while the stream was down still sound; the first list does not.
      if (!first) for (const s of r.added) alarm(s);
      maybeLoadNames(list);
    },
    onMessage: (b) => {
      if (session.value?.role === 'unit') {
        unitMessage(b);
        return;
      }
      learnClaimer(b);
      const r = applySummary(queue.value, b.summary);
      queue.value = r.queue;
      if (r.added) {
        alarm(r.added);
        maybeLoadNames([r.added]);
      }
      if (detailId.value === b.alert) void loadDetail(b.alert);
    },
    onRefused: (r) => {
      refusedCount.value += 1;
      // For whoever investigates: the reason, never the message's content.
      console.warn('roeh: refused a push message:', r.kind);
    },
    onClockSuspect: (s) => {
      clockSuspect.value = s;
    },
  },
);

// ----- names of hotspots, cameras and rules -----

let namesLoadedAt = 0;
/** Ids already looked up once without finding their name (a role may not list them). */
const lookedUp = new Set<string>();

/** Reloads names at once when a summary names an id not looked up yet (a hotspot or camera
 * added since the last load), else at most every 30 s. */
function maybeLoadNames(list: readonly AlertSummary[]): void {
  const n = names.value;
  const unknown: string[] = [];
  for (const s of list) {
    if (!n.hotspots.has(s.hotspot)) unknown.push(s.hotspot);
    for (const c of s.cameras) if (!n.cameras.has(c)) unknown.push(c);
    for (const i of s.incidents) if (!n.rules.has(i.rule)) unknown.push(i.rule);
  }
  if (unknown.length === 0) return;
  const fresh = unknown.filter((id) => !lookedUp.has(id));
  if (fresh.length > 0 || Date.now() - namesLoadedAt > 30_000) {
    for (const id of fresh) lookedUp.add(id);
    void loadNames();
  }
}

async function loadNames(): Promise<void> {
  namesLoadedAt = Date.now();
  // Each list is optional: a role without it sees short ids instead.
  const [h, c, r] = await Promise.allSettled([api.hotspots(), api.cameras(), api.rules()]);
  const next = { ...names.value };
  if (h.status === 'fulfilled') next.hotspots = new Map(h.value.map((x) => [x.id, x.name]));
  if (c.status === 'fulfilled') next.cameras = new Map(c.value.map((x) => [x.id, x.name]));
  if (r.status === 'fulfilled') {
    next.rules = new Map(
      r.value.map((x) => [
        x.id,
        {
          kind: typeof x.rule.kind === 'string' ? x.rule.kind : '',
          name: typeof x.rule.name === 'string' ? x.rule.name : '',
        },
      ]),
    );
  }
  names.value = next;
}

// ----- session -----

/** Whose stream position the push client holds. */
let streamUser: number | null = null;

function signedIn(): void {
  const me = session.value;
  // Every time is shown in the site's zone (an unknown name keeps the browser's).
  if (me?.time_zone) setSiteZone(me.time_zone);
  if (me && me.id !== streamUser) {
    push.reset();
    streamUser = me.id;
  }
  batch(() => {
    queueLoaded.value = false;
    queue.value = new Map();
    refusedCount.value = 0;
    clockSuspect.value = false;
  });
  namesLoadedAt = 0;
  void loadNames();
  // The alert stream is for those who handle alerts (and units); others have no queue.
  if (me && takesPush(me.role)) push.start();
  if (me?.role === 'unit') {
    if (route.value !== 'unit') go('unit');
  } else if (me) {
    const pages: string[] = pagesFor(me.role);
    const home = homeOf(me.role);
    if (!pages.includes(route.value) && home) go(home);
  }
}

/** The session has ended (`explicit`: the operator signed out). */
function signedOut(explicit: boolean): void {
  push.stop();
  batch(() => {
    session.value = null;
    conn.value = 'stopped';
    detailId.value = null;
    detail.value = null;
    dispatchFor.value = null;
    armed.value = null;
    myUnit.value = null;
    tasks.value = new Map();
    if (explicit) for (const id of drafts.value.keys()) setDraft(id, '');
  });
  if (route.value !== 'setup') go('login');
}

/** At start: who is signed in, if anyone. */
export async function checkSession(): Promise<void> {
  try {
    session.value = await api.me();
    signedIn();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      // Server unreachable: show the sign-in page with nothing lost.
      session.value = null;
      if (route.value === 'alerts' || route.value === 'unit') go('login');
    }
  }
}

/** Signs in; returns an error message to show, or null. */
export async function signIn(username: string, password: string): Promise<string | null> {
  try {
    await api.login(username, password);
    session.value = await api.me();
    signedIn();
    return null;
  } catch (e) {
    return message(e);
  }
}

/** Signs a patrol unit's phone in with the unit's device token; an error message, or null. */
export async function deviceSignIn(token: string): Promise<string | null> {
  try {
    await api.device(token.trim());
    session.value = await api.me();
    signedIn();
    return null;
  } catch (e) {
    return message(e);
  }
}

/** Creates the first admin with the setup token, then signs in. */
export async function firstAdmin(
  token: string,
  username: string,
  password: string,
): Promise<string | null> {
  try {
    await api.setup(token, username, password);
  } catch (e) {
    return message(e);
  }
  return signIn(username, password);
}

/** Signs out. */
export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } catch {
    // Signed out locally either way; the session dies with its cookie's expiry.
  }
  signedOut(true);
}

// ----- alert actions -----

/** Opens (or refreshes) the details of an alert. */
export async function loadDetail(id: string): Promise<void> {
  try {
    const d = await api.alert(id);
    if (detailId.value !== id) return;
    // The events name who claimed: remember it for the queue.
    const claim = [...d.events].reverse().find((e) => e.kind === 'claim');
    if (claim && d.alert.claimed_by !== null) {
      const m = new Map(claimers.value);
      m.set(d.alert.claimed_by, claim.actor);
      claimers.value = m;
    }
    batch(() => {
      detail.value = d;
      detailError.value = null;
    });
  } catch (e) {
    if (detailId.value === id) detailError.value = message(e);
  }
}

export function openDetail(id: string): void {
  batch(() => {
    detailId.value = id;
    detail.value = null;
    detailError.value = null;
  });
  void loadDetail(id);
}

export function closeDetail(): void {
  detailId.value = null;
  detail.value = null;
}

async function run(id: string, f: () => Promise<AlertSummary | null>): Promise<boolean> {
  if (busy.value.has(id)) return false;
  toggleIn(busy, id, true);
  setRowError(id, null);
  try {
    const s = await f();
    if (s) queue.value = applySummary(queue.value, s).queue;
    return true;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) setRowError(id, message(e));
    // Decided on stale data (someone acted first): read the queue again.
    if (e instanceof ApiError && e.status === 409) push.refresh();
    return false;
  } finally {
    toggleIn(busy, id, false);
  }
}

/**
 * Claim, acknowledge, resolve, false alarm or escalate. Resolve and false alarm close the alert
 * for good: the first call arms them, a second within 4 s does it. Returns whether it armed.
 */
export async function act(
  id: string,
  action: Exclude<ActionName, 'note' | 'dispatch'>,
): Promise<'armed' | 'done' | 'failed'> {
  if (action === 'resolve' || action === 'false_alarm') {
    const a = armed.value;
    if (!a || a.id !== id || a.action !== action || a.until < Date.now()) {
      const next = { id, action, until: Date.now() + ARM_MS };
      armed.value = next;
      setTimeout(() => {
        if (armed.value === next) armed.value = null;
      }, ARM_MS);
      announce(t.value(action === 'resolve' ? 'confirm.resolve' : 'confirm.false_alarm'));
      return 'armed';
    }
  }
  if (isFinalAction(action)) armed.value = null;
  const ok = await run(id, () => api.act(id, action));
  if (ok) announce(t.value(DONE[action]));
  return ok ? 'done' : 'failed';
}

/** Sends a note; the draft is kept until the server took it. */
export async function sendNote(id: string): Promise<boolean> {
  const text = (drafts.value.get(id) ?? '').trim();
  if (text === '') {
    setRowError(id, t.value('note.empty'));
    return false;
  }
  const ok = await run(id, async () => {
    await api.note(id, text);
    return null;
  });
  if (ok) {
    setDraft(id, '');
    announce(t.value('done.note'));
  }
  return ok;
}

/** The units for an alert's dispatch picker (with the nearest available suggested). */
export async function unitsFor(id: string): Promise<UnitsView | string> {
  try {
    return await api.units(id);
  } catch (e) {
    return message(e);
  }
}

/** Dispatches units to an alert. */
export async function dispatch(id: string, units: string[], text?: string): Promise<boolean> {
  const ok = await run(id, async () => (await api.dispatch(id, units, text?.trim() || undefined)).alert);
  if (ok) {
    dispatchFor.value = null;
    announce(t.value('done.dispatch'));
  }
  return ok;
}

// ----- live video -----

/** Cameras the signed-in user may see, and hotspots with their cameras, for the live grid. */
export interface LiveSources {
  cameras: { id: string; name: string }[];
  hotspots: { id: string; name: string; cameras: string[]; lat: number | undefined; lon: number | undefined }[];
}

/** Reads the cameras and hotspots for the live pages; an error's text on failure. */
export async function liveSources(): Promise<LiveSources | string> {
  try {
    const [cams, hs] = await Promise.all([api.cameras(), api.hotspots().catch(() => [])]);
    const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
    const hotspots = hs.map((h) => ({
      id: h.id,
      name: h.name,
      lat: num(h.hotspot?.lat),
      lon: num(h.hotspot?.lon),
      cameras: Array.isArray(h.hotspot?.cameras)
        ? h.hotspot.cameras.filter((c): c is string => typeof c === 'string')
        : [],
    }));
    return { cameras: cams.map((c) => ({ id: c.id, name: c.name })), hotspots };
  } catch (e) {
    return e instanceof ApiError ? e.message : String(e);
  }
}

// ----- the patrol unit -----

/** Reads the unit and its open dispatches (the push client's snapshot for a unit). */
async function unitSnapshot(): Promise<AlertSummary[]> {
  const v = await api.myAlerts();
  const fresh = tasksFrom(v);
  const before = tasks.value;
  batch(() => {
    myUnit.value = { id: v.unit, name: v.name };
    tasks.value = fresh;
  });
  for (const task of fresh.values()) {
    // Dispatches that arrived while the phone was away: sound, and confirm their delivery.
    if (!before.has(task.alert.id) && queueLoaded.value) newTask(task);
    else if (!task.delivered) void sendReceipt(task.alert.id, 'delivered');
  }
  return [];
}

function newTask(task: UnitTask): void {
  announce(
    t.value('unit.announce', {
      place: isolate(task.alert.place ?? hotspotLabel(task.alert.hotspot)),
    }),
  );
  if (!muted.value) chime(2);
  if (!task.delivered) void sendReceipt(task.alert.id, 'delivered');
}

const SENT = {
  accepted: 'unit.sent.accepted',
  arrived: 'unit.sent.arrived',
  closed: 'unit.sent.closed',
} as const;

function unitMessage(b: PushBody): void {
  const me = myUnit.value;
  if (!me) return;
  const r = applyToTasks(tasks.value, b, me.id);
  tasks.value = r.tasks;
  if (r.added) newTask(r.added);
}

/** Sends a receipt for an alert (the same id on every retry); true when the server took it. */
export async function sendReceipt(alert: string, kind: ReceiptKind): Promise<boolean> {
  if (sending.value.has(alert) && kind !== 'delivered') return false;
  if (kind !== 'delivered') toggleIn(sending, alert, true);
  try {
    await api.receipt(alert, kind, receiptId(alert, kind));
    const m = new Map(taskErrors.value);
    m.delete(alert);
    taskErrors.value = m;
    const task = tasks.value.get(alert);
    if (task) {
      const next = new Map(tasks.value);
      if (kind === 'closed') next.delete(alert);
      else
        next.set(alert, {
          ...task,
          delivered: true,
          accepted: task.accepted || kind === 'accepted' || kind === 'arrived',
          arrived: task.arrived || kind === 'arrived',
        });
      tasks.value = next;
    }
    if (kind !== 'delivered') announce(t.value(SENT[kind]));
    return true;
  } catch (e) {
    const m = new Map(taskErrors.value);
    m.set(alert, message(e));
    taskErrors.value = m;
    return false;
  } finally {
    if (kind !== 'delivered') toggleIn(sending, alert, false);
  }
}

// ----- alerts raised by hand, units -----

/** Raises an alert by hand; the new alert's id, or the server's message. */
export async function raiseAlert(body: RaiseBody): Promise<{ id: string } | { error: string }> {
  try {
    const r = await api.raise(body);
    announce(t.value(r.merged ? 'raise.merged' : 'raise.done'));
    return { id: r.alert.id };
  } catch (e) {
    return { error: message(e) };
  }
}

/** Every unit, for the units board; the server's message on failure. */
export async function allUnits(): Promise<UnitsView | string> {
  try {
    return await api.units();
  } catch (e) {
    return message(e);
  }
}

// ----- pan, tilt, zoom -----

/** A camera's PTZ (presets, whether it is away from home); the server's message on failure. */
export async function ptzOf(camera: string): Promise<PtzView | string> {
  try {
    return await api.ptz(camera);
  } catch (e) {
    return message(e);
  }
}

/** Sends one PTZ command; the camera's PTZ after it, or the server's message. */
export async function ptzCommand(camera: string, c: PtzCommand): Promise<PtzView | string> {
  try {
    return await api.ptzCommand(camera, c);
  } catch (e) {
    return message(e);
  }
}

// ----- recorded playback -----

/** A camera's recordings in [from, to) µs: segments, gaps and (where the role may list them)
 * incidents; the server's message on failure. */
export async function recordings(
  camera: string,
  from: number,
  to: number,
): Promise<{ segs: Seg[]; gaps: GapInfo[]; incidents: { id: string; opened_us: number; kind: string }[] } | string> {
  const c = encodeURIComponent(camera);
  const q = `start=${Math.floor(from)}&end=${Math.floor(to)}`;
  try {
    const [segs, gaps, incidents] = await Promise.all([
      api.request<Seg[]>('GET', `/api/cameras/${c}/segments?${q}`),
      api.request<GapInfo[]>('GET', `/api/cameras/${c}/gaps?${q}`),
      api
        .request<{ id: string; opened_at_us: number; kind: string }[]>(
          'GET',
          `/api/incidents?camera=${c}&${q}&limit=1000`,
        )
        .catch(() => []),
    ]);
    return {
      segs,
      gaps,
      incidents: incidents.map((i) => ({ id: i.id, opened_us: i.opened_at_us, kind: i.kind })),
    };
  } catch (e) {
    return message(e);
  }
}

// ----- the investigator's pages: search, exports, holds, custody -----

/** A refusal of a form: the server's message, and the field it concerns (null: the form's). */
export interface FormError<F extends string> {
  message: string;
  field: F | null;
}

function formError<F extends string>(e: unknown, fields: readonly F[]): FormError<F> {
  const m = message(e);
  return { message: m, field: e instanceof ApiError && e.kind !== 'network' ? fieldOf(m, fields) : null };
}

/** `IncidentView`, the parts the search shows. */
export interface IncidentInfo {
  id: string;
  hotspot_id: string;
  camera_id: string;
  kind: string;
  severity: string;
  reason: string;
  state: string;
  opened_at: string;
  opened_at_us: number;
  evidence: { start: string; end: string | null; start_us: number; end_us: number | null; mp4_url: string };
}

/** The search's filters: camera, hotspot, range (µs), incident id. */
export interface SearchQuery {
  camera: string;
  hotspot: string;
  start: number;
  end: number;
  incident: string;
}

/** Incidents matching `q` (one incident when its id is given), newest first; the server's
 * message on failure. */
export async function searchIncidents(q: SearchQuery): Promise<IncidentInfo[] | string> {
  try {
    const id = q.incident.trim();
    if (id !== '') {
      return [await api.request<IncidentInfo>('GET', `/api/incidents/${encodeURIComponent(id)}`)];
    }
    const p = new URLSearchParams({
      start: new Date(Math.floor(q.start / 1000)).toISOString(),
      end: new Date(Math.floor(q.end / 1000)).toISOString(),
      limit: '200',
    });
    if (q.camera) p.set('camera', q.camera);
    if (q.hotspot) p.set('hotspot', q.hotspot);
    return await api.request<IncidentInfo[]>('GET', `/api/incidents?${p.toString()}`);
  } catch (e) {
    return message(e);
  }
}

/** The fields of the export and hold forms a refusal may point at. */
export const EVIDENCE_FIELDS = ['case', 'reason', 'camera', 'start', 'end', 'incident'] as const;
export type EvidenceField = (typeof EVIDENCE_FIELDS)[number];

/** The body naming the footage: the incident, or the camera and range. */
function targetBody(t: { incident: string | null; camera: string; start: string; end: string }) {
  return t.incident ? { incident: t.incident } : { camera: t.camera, start: t.start, end: t.end };
}

/** Starts an export; the job as accepted, or the refusal. */
export async function startExport(
  target: { incident: string | null; camera: string; start: string; end: string },
  reason: string,
  caseRef: string,
): Promise<ExportView | FormError<EvidenceField>> {
  try {
    const v = await api.request<ExportView>('POST', '/api/exports', {
      ...targetBody(target),
      reason,
      case: caseRef,
    });
    announce(t.value('export.started'));
    return v;
  } catch (e) {
    return formError(e, EVIDENCE_FIELDS);
  }
}

/** One export job with its progress; the server's message on failure. */
export async function exportJob(id: string): Promise<ExportView | string> {
  try {
    return await api.request<ExportView>('GET', `/api/exports/${encodeURIComponent(id)}`);
  } catch (e) {
    return message(e);
  }
}

/** The latest export jobs the caller may see. */
export async function exportList(): Promise<ExportView[] | string> {
  try {
    return await api.request<ExportView[]>('GET', '/api/exports?limit=200');
  } catch (e) {
    return message(e);
  }
}

/** Every hold the caller may see, lifted ones included. */
export async function holdList(): Promise<HoldView[] | string> {
  try {
    return await api.request<HoldView[]>('GET', '/api/holds?all=true');
  } catch (e) {
    return message(e);
  }
}

/** Places a hold; the hold, or the refusal. */
export async function placeHold(
  target: { incident: string | null; camera: string; start: string; end: string },
  reason: string,
  caseRef: string,
): Promise<HoldView | FormError<EvidenceField>> {
  try {
    const v = await api.request<HoldView>('POST', '/api/holds', {
      ...targetBody(target),
      reason,
      case: caseRef,
    });
    announce(t.value('holds.placed'));
    return v;
  } catch (e) {
    return formError(e, EVIDENCE_FIELDS);
  }
}

/** Lifts a hold with a reason; null, or the refusal. */
export async function liftHold(id: number, reason: string): Promise<FormError<'reason'> | null> {
  try {
    await api.request<unknown>('POST', `/api/holds/${id}/clear`, { reason });
    announce(t.value('holds.liftedDone'));
    return null;
  } catch (e) {
    return formError(e, ['reason'] as const);
  }
}

/** The custody log at `path` (see `custodyPath`); the server's message on failure. */
export async function custodyLog(path: string): Promise<CustodyLog | string> {
  try {
    return await api.request<CustodyLog>('GET', path);
  } catch (e) {
    return message(e);
  }
}

/** The site's public keys (PEM), current first; the server's message on failure. */
export async function siteKeys(): Promise<{ key_id: string; pem: string; retired_at: string | null }[] | string> {
  try {
    const keys = await api.request<{ key_id: string; pem: string; retired_at: string | null }[]>('GET', '/api/keys');
    return [...keys].sort((a, b) => Number(a.retired_at !== null) - Number(b.retired_at !== null));
  } catch (e) {
    return message(e);
  }
}

// ----- the admin's pages: users, tokens, audit log -----

/** Every user (admins only); the server's message on failure. */
export async function userList(): Promise<UserView[] | string> {
  try {
    return await api.request<UserView[]>('GET', '/api/users');
  } catch (e) {
    return message(e);
  }
}

/** Creates a user with a role and a scope (absent: unrestricted); the user, or the refusal. */
export async function createUser(b: {
  username: string;
  password: string;
  role: string;
  scope: ScopeIds | undefined;
}): Promise<UserView | FormError<UserField>> {
  try {
    const v = await api.request<UserView>('POST', '/api/users', {
      username: b.username,
      password: b.password,
      role: b.role,
      ...(b.scope ? { scope: b.scope } : {}),
    });
    announce(t.value('users.created', { name: v.username }));
    return v;
  } catch (e) {
    return formError(e, USER_FIELDS);
  }
}

/** Disables a user (their tokens are revoked); null, or the server's message. */
export async function disableUser(id: number): Promise<string | null> {
  try {
    await api.request<unknown>('POST', `/api/users/${id}/disable`, {});
    announce(t.value('users.disabledDone'));
    return null;
  } catch (e) {
    return message(e);
  }
}

/** A new API token for a user (a machine or a patrol unit), shown once; or the refusal. */
export async function createToken(
  id: number,
  label: string,
  days: string,
): Promise<TokenView | FormError<TokenField>> {
  try {
    const d = days.trim();
    const n = /^\d{1,4}$/.test(d) ? Number(d) : d === '' ? undefined : d;
    return await api.request<TokenView>('POST', `/api/users/${id}/tokens`, {
      label,
      ...(n === undefined ? {} : { days: n }),
    });
  } catch (e) {
    return formError(e, TOKEN_FIELDS);
  }
}

/** One page of the audit log (`query` from `auditQuery`); the server's message on failure. */
export async function auditPage(query: string): Promise<AuditView[] | string> {
  try {
    return await api.request<AuditView[]>('GET', `/api/audit?${query}`);
  } catch (e) {
    return message(e);
  }
}

/** `CheckpointView`, the parts the keys page shows. */
export interface CheckpointInfo {
  text: string;
  signature: string;
  size: number;
  root: string;
  key_id: string;
}

/** The evidence log's latest signed checkpoint; the server's message on failure. */
export async function latestCheckpoint(): Promise<CheckpointInfo | string> {
  try {
    return await api.request<CheckpointInfo>('GET', '/api/log/checkpoint');
  } catch (e) {
    return message(e);
  }
}

/** `RegisteredView`: a new unit and its device token, shown once, with the push key it trusts. */
export interface RegisteredUnit {
  id: string;
  name: string;
  token: string;
  expires_at: string;
  push_key: PushKeyView;
}

/** Registers a patrol unit (its user is made with it); the unit, or the refusal. */
export async function registerUnit(name: string, kind: string): Promise<RegisteredUnit | FormError<UnitField>> {
  try {
    const v = await api.request<RegisteredUnit>('POST', '/api/units', { name, kind });
    announce(t.value('units.registered', { name: v.name }));
    return v;
  } catch (e) {
    const m = message(e);
    return { message: m, field: e instanceof ApiError && e.kind !== 'network' ? unitFieldOf(m) : null };
  }
}

/** The cameras with their retention limits; the server's message on failure. */
export async function cameraRetention(): Promise<CameraRetention[] | string> {
  try {
    return await api.request<CameraRetention[]>('GET', '/api/cameras');
  } catch (e) {
    return message(e);
  }
}

// ----- the integrator's pages: cameras, ONVIF, webhooks -----

function refusal<F extends string>(e: unknown, of: (m: string) => F | null): FormError<F> {
  const m = message(e);
  return { message: m, field: e instanceof ApiError && e.kind !== 'network' ? of(m) : null };
}

/** The cameras with their stream health; the server's message on failure. */
export async function cameraHealth(): Promise<CameraInfo[] | string> {
  try {
    return await api.request<CameraInfo[]>('GET', '/api/cameras');
  } catch (e) {
    return message(e);
  }
}

/** Adds a camera by its RTSP URL; the camera, or the refusal next to its field. */
export async function addCamera(body: Record<string, string>): Promise<CameraInfo | FormError<CameraField>> {
  try {
    const v = await api.request<CameraInfo>('POST', '/api/cameras', body);
    announce(t.value('cameras.added', { name: v.name }));
    void loadNames();
    return v;
  } catch (e) {
    return refusal(e, cameraFieldOf);
  }
}

/** A camera's analysis setting; the server's message on failure. */
export async function analysisOf(camera: string): Promise<AnalysisView | string> {
  try {
    return await api.request<AnalysisView>('GET', `/api/cameras/${encodeURIComponent(camera)}/analysis`);
  } catch (e) {
    return message(e);
  }
}

/** Turns a camera's analysis on or off (its rate kept); the setting, or the server's message. */
export async function setAnalysis(camera: string, enabled: boolean): Promise<AnalysisView | string> {
  try {
    const v = await api.request<AnalysisView>('PUT', `/api/cameras/${encodeURIComponent(camera)}/analysis`, {
      enabled,
    });
    announce(t.value(enabled ? 'cameras.analysisOnDone' : 'cameras.analysisOffDone'));
    return v;
  } catch (e) {
    return message(e);
  }
}

/** The devices awaiting approval; the server's message on failure. */
export async function discoveredDevices(): Promise<DiscoveredDevice[] | string> {
  try {
    return await api.request<DiscoveredDevice[]>('GET', '/api/onvif/discovered');
  } catch (e) {
    return message(e);
  }
}

/** Runs a discovery probe; the devices that answered, or the server's message. */
export async function discover(): Promise<DiscoveredDevice[] | string> {
  try {
    const v = await api.request<DiscoveredDevice[]>('POST', '/api/onvif/discover', {});
    announce(t.value('onvif.found', { n: v.length }));
    return v;
  } catch (e) {
    return message(e);
  }
}

/** A device's profiles, probed with the login; or the refusal next to its field. */
export async function deviceProfiles(
  body: Record<string, string | number>,
): Promise<DeviceProfiles | FormError<ApproveField>> {
  try {
    return await api.request<DeviceProfiles>('POST', '/api/onvif/profiles', body);
  } catch (e) {
    return refusal(e, approveFieldOf);
  }
}

/** Approves a discovered device as a camera; its id, or the refusal next to its field. */
export async function approveDevice(
  body: Record<string, string | number>,
): Promise<{ camera: { id: string; name: string } } | FormError<ApproveField>> {
  try {
    const v = await api.request<{ camera: { id: string; name: string } }>('POST', '/api/onvif/add', body);
    announce(t.value('cameras.added', { name: v.camera.name }));
    void loadNames();
    return v;
  } catch (e) {
    return refusal(e, approveFieldOf);
  }
}

/** Dismisses a discovered device; null, or the server's message. */
export async function dismissDevice(id: number): Promise<string | null> {
  try {
    await api.request<unknown>('POST', `/api/onvif/discovered/${id}/dismiss`, {});
    announce(t.value('onvif.dismissed'));
    return null;
  } catch (e) {
    return message(e);
  }
}

/** The webhook subscriptions; the server's message on failure. */
export async function webhookList(): Promise<WebhookView[] | string> {
  try {
    return await api.request<WebhookView[]>('GET', '/api/webhooks');
  } catch (e) {
    return message(e);
  }
}

/** Creates a webhook subscription; it, or the refusal next to its field. */
export async function createWebhook(body: Record<string, unknown>): Promise<WebhookView | FormError<WebhookField>> {
  try {
    const v = await api.request<WebhookView>('POST', '/api/webhooks', body);
    announce(t.value('webhooks.created', { name: v.name }));
    return v;
  } catch (e) {
    return refusal(e, webhookFieldOf);
  }
}

/** Enables or disables a subscription; null, or the server's message. */
export async function setWebhookEnabled(id: string, on: boolean): Promise<string | null> {
  try {
    await api.request<WebhookView>('POST', `/api/webhooks/${encodeURIComponent(id)}/${on ? 'enable' : 'disable'}`, {});
    return null;
  } catch (e) {
    return message(e);
  }
}

/** Deletes a subscription and its deliveries; null, or the server's message. */
export async function deleteWebhook(id: string): Promise<string | null> {
  try {
    await api.request<unknown>('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
    announce(t.value('webhooks.deletedDone'));
    return null;
  } catch (e) {
    return message(e);
  }
}

/** A page of a subscription's deliveries, newest first; the server's message on failure. */
export async function webhookDeliveries(id: string, before: number | null): Promise<DeliveryView[] | string> {
  try {
    return await api.request<DeliveryView[]>(
      'GET',
      `/api/webhooks/${encodeURIComponent(id)}/deliveries?${deliveriesQuery(before)}`,
    );
  } catch (e) {
    return message(e);
  }
}

// ----- the supervisor's pages -----

/** A request of the supervisor's pages (hotspots, schedules, rules): the answer, or the
 * server's message. A change also refreshes the names other pages show. */
export async function ask<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ ok: T } | { error: string }> {
  try {
    const v = await api.request<T>(method, path, body);
    if (method !== 'GET' && !path.startsWith('/api/schedules/')) void loadNames();
    return { ok: v };
  } catch (e) {
    return { error: message(e) };
  }
}

/** `POST path` with `text` as the body of type `contentType` (a CSV file): the answer, or the
 * server's message. */
export async function upload<T>(path: string, text: string, contentType: string): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await api.request<T>('POST', path, text, { contentType }) };
  } catch (e) {
    return { error: message(e) };
  }
}
