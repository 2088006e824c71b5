// Alerts as the server shows them, the open-alert queue, and which actions an operator may take.
//
// Shapes follow crates/roeh-api/src/alerts.rs (`AlertSummary`, `AlertDetail`, `UnitsView`, …)
// and crates/roeh-api/src/push.rs (`PushMessage`); the lifecycle port follows
// crates/roeh-alerts/src/lifecycle.rs (`transition`).
//
// Invariants:
// - the queue holds only open (non-terminal) alerts, keyed by id, each as its latest summary;
// - applying a pushed message replaces that alert's summary (pushed summaries are the alert as it
//   is when the message was signed, and messages arrive in seq order, so the last one wins);
//   a message whose alert is resolved or a false alarm removes it;
// - the queue order is: severity (critical first), then age (oldest first), then id, so it is
//   total and stable across refreshes;
// - `allowedActions` only enables buttons; the server decides every change.

import { parseWallTime } from './time';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type AlertState =
  | 'new'
  | 'claimed'
  | 'acknowledged'
  | 'dispatched'
  | 'on_scene'
  | 'resolved'
  | 'false_alarm'
  | 'escalated';

/** Every state an alert can be open in (the list is fetched per state). */
export const OPEN_STATES: readonly AlertState[] = [
  'new',
  'claimed',
  'acknowledged',
  'dispatched',
  'on_scene',
  'escalated',
];

export interface LatLon {
  lat: number;
  lon: number;
}

export interface IncidentRef {
  id: string;
  rule: string;
  camera: string;
  opened_at: string;
}

/** `AlertSummary` (crates/roeh-api/src/alerts.rs). */
export interface AlertSummary {
  id: string;
  hotspot: string;
  /** The hotspot's name (absent from older servers). */
  place?: string | null;
  severity: string;
  priority: number;
  state: string;
  claimed_by: number | null;
  location: LatLon | null;
  created_at: string;
  escalates_at: string;
  incidents: IncidentRef[];
  cameras: string[];
  snapshot: string | null;
  clip: string | null;
}

/** The verified body of a push message (`PushMessage`, crates/roeh-api/src/push.rs). */
export interface PushBody {
  seq: number;
  alert: string;
  kind: string;
  time: string;
  actor: string;
  state: string;
  unit?: string;
  detail: unknown;
  summary: AlertSummary;
  issued_at: string;
  expires_at: string;
}

/** An event of an alert (`EventView`). */
export interface AlertEvent {
  seq: number;
  time: string;
  kind: string;
  actor: string;
  state: string;
  unit: string | null;
  detail: unknown;
}

/** A dispatch of an alert (`DispatchView`; `response` is left opaque). */
export interface DispatchInfo {
  unit: string;
  unit_name?: string | null;
  dispatched_at: string;
  dispatched_by: string;
  delivered_at: string | null;
  accepted_at: string | null;
  arrived_at: string | null;
  closed_at: string | null;
}

/** `GET /api/alerts/{id}` (`AlertDetail`). */
export interface AlertDetail {
  alert: AlertSummary;
  dispatches: DispatchInfo[];
  events: AlertEvent[];
}

/** A patrol unit (`UnitView`). */
export interface Unit {
  id: string;
  name: string;
  /** `joint`, `police`, `municipal` or `volunteer` (absent from older servers). */
  kind?: string;
  status: string;
  position: LatLon | null;
  updated_at: string;
}

/** A suggested unit (`roeh_alerts::Suggestion`). */
export interface Suggestion {
  unit: string;
  distance_m: number;
}

/** `GET /api/units[?alert=ID]` (`UnitsView`). */
export interface UnitsView {
  units: Unit[];
  suggested?: Suggestion[];
}

/** What an operator can do to an alert from the queue. */
export type ActionName =
  | 'claim'
  | 'acknowledge'
  | 'dispatch'
  | 'note'
  | 'resolve'
  | 'false_alarm'
  | 'escalate';

/** Every action, in the order of the buttons. */
export const ACTIONS: readonly ActionName[] = [
  'claim',
  'acknowledge',
  'dispatch',
  'note',
  'resolve',
  'false_alarm',
  'escalate',
];

/** The path segment of an action under `/api/alerts/{id}/`. */
export function actionPath(a: ActionName): string {
  return a === 'false_alarm' ? 'false-alarm' : a;
}

/** Actions that close an alert for good: the console asks for a second press. */
export function isFinalAction(a: ActionName): boolean {
  return a === 'resolve' || a === 'false_alarm';
}

const SEVERITY_RANK: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Rank of a severity, higher is more urgent (an unknown one ranks as medium, like the server). */
export function severityRank(s: string): number {
  return SEVERITY_RANK[s] ?? 1;
}

/** Whether a new alert of this severity sounds the alarm. */
export function isLoud(s: string): boolean {
  return s === 'high' || s === 'critical';
}

/** Whether nothing leaves this state. */
export function isTerminal(state: string): boolean {
  return state === 'resolved' || state === 'false_alarm';
}

/** Whether the escalation timer still runs for an alert in this state. */
export function escalationRuns(state: string): boolean {
  return state === 'new' || state === 'claimed';
}

function micros(t: string): number {
  return parseWallTime(t) ?? 0;
}

/** The queue order: severity (highest first), then age (oldest first), then id. */
export function compareAlerts(a: AlertSummary, b: AlertSummary): number {
  const s = severityRank(b.severity) - severityRank(a.severity);
  if (s !== 0) return s;
  const t = micros(a.created_at) - micros(b.created_at);
  if (t !== 0) return t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The open alerts of `m`, in queue order. */
export function sortedQueue(m: ReadonlyMap<string, AlertSummary>): AlertSummary[] {
  return [...m.values()].sort(compareAlerts);
}

/** The result of applying a change to the queue. */
export interface Applied {
  queue: Map<string, AlertSummary>;
  /** The alert, when it was not in the queue before and is open now. */
  added: AlertSummary | null;
  /** Whether the alert left the queue. */
  removed: boolean;
}

/** Puts an alert's latest summary into the queue (or takes it out when it is closed). */
export function applySummary(q: ReadonlyMap<string, AlertSummary>, s: AlertSummary): Applied {
  const queue = new Map(q);
  const had = queue.has(s.id);
  if (isTerminal(s.state)) {
    queue.delete(s.id);
    return { queue, added: null, removed: had };
  }
  queue.set(s.id, s);
  return { queue, added: had ? null : s, removed: false };
}

/** The queue after a full list from the server, and which alerts are new to it. */
export function replaceAll(
  q: ReadonlyMap<string, AlertSummary>,
  list: readonly AlertSummary[],
): { queue: Map<string, AlertSummary>; added: AlertSummary[] } {
  const queue = new Map<string, AlertSummary>();
  for (const s of list) if (!isTerminal(s.state)) queue.set(s.id, s);
  const added = [...queue.values()].filter((s) => !q.has(s.id));
  return { queue, added };
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Whether `x` looks like an `AlertSummary` (the fields the console reads). */
export function isSummary(x: unknown): x is AlertSummary {
  return (
    isObj(x) &&
    typeof x.id === 'string' &&
    typeof x.hotspot === 'string' &&
    typeof x.severity === 'string' &&
    typeof x.state === 'string' &&
    typeof x.created_at === 'string' &&
    typeof x.escalates_at === 'string' &&
    (x.claimed_by === null || typeof x.claimed_by === 'number') &&
    Array.isArray(x.incidents) &&
    Array.isArray(x.cameras)
  );
}

/** The app-level body of a verified message; `null` if it lacks what the console needs. */
export function parsePushBody(text: string): PushBody | null {
  let b: unknown;
  try {
    b = JSON.parse(text);
  } catch {
    return null;
  }
  if (
    !isObj(b) ||
    typeof b.seq !== 'number' ||
    typeof b.alert !== 'string' ||
    typeof b.kind !== 'string' ||
    typeof b.actor !== 'string' ||
    typeof b.state !== 'string' ||
    !isSummary(b.summary) ||
    b.summary.id !== b.alert
  ) {
    return null;
  }
  return b as unknown as PushBody;
}

/** Who acts, as the lifecycle sees it. */
export interface Me {
  id: number;
  role: string;
}

type ActorRole = 'operator' | 'supervisor' | 'other';

function actorRole(role: string): ActorRole {
  if (role === 'admin' || role === 'supervisor') return 'supervisor';
  if (role === 'operator') return 'operator';
  return 'other';
}

/**
 * Whether `me` may take `action` on an alert in `state` claimed by `claimedBy`: a port of
 * `roeh_alerts::transition` for staff actors (a note is allowed in any state).
 */
export function mayAct(action: ActionName, state: string, claimedBy: number | null, me: Me): boolean {
  const role = actorRole(me.role);
  if (role === 'other') return false;
  if (action === 'note') return true;
  if (isTerminal(state)) return false;
  const ownerOk = !(role === 'operator' && claimedBy !== null && claimedBy !== me.id);
  switch (action) {
    case 'claim':
      return state === 'new' || (state === 'escalated' && role === 'supervisor');
    case 'acknowledge':
      if (state !== 'claimed' && state !== 'escalated') return false;
      if (state === 'escalated' && claimedBy === null && role !== 'supervisor') return false;
      return ownerOk;
    case 'dispatch':
      return (state === 'acknowledged' || state === 'dispatched' || state === 'on_scene') && ownerOk;
    case 'resolve':
      return state !== 'new' && ownerOk;
    case 'false_alarm':
      return ownerOk;
    case 'escalate':
      return state !== 'escalated';
  }
}
