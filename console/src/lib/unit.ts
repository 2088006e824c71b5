// The patrol unit's phone: its dispatches and the one next receipt of each, without the DOM
// (tested under Node).
//
// Shapes follow `MyAlertsView` (`GET /api/units/me/alerts`, crates/roeh-api/src/alerts.rs).
//
// Invariants:
// - a task is an alert dispatched to this unit that the unit has not closed and that is still
//   open; push messages of other alerts, and receipts of other units, change no task's receipts;
// - receipts go forward only: delivered → accepted → arrived → closed; the next one offered is
//   the first not yet sent;
// - a receipt's id is derived from the alert and the kind, so sending it again after a lost
//   answer or a reconnect is recognised by the server as the same receipt.

import { type AlertSummary, OPEN_STATES, type PushBody } from './alerts';

export type ReceiptKind = 'delivered' | 'accepted' | 'arrived' | 'closed';

/** `MyDispatchView`. */
export interface MyDispatch {
  alert: AlertSummary;
  seq: number;
  text?: string | null;
  dispatched_at: string;
  delivered_at: string | null;
  accepted_at: string | null;
  arrived_at: string | null;
}

/** `MyAlertsView`. */
export interface MyAlertsView {
  unit: string;
  name: string;
  status: string;
  dispatches: MyDispatch[];
}

/** One dispatch on the phone. */
export interface UnitTask {
  alert: AlertSummary;
  /** The operator's text sent with the dispatch. */
  text: string | null;
  dispatchedAt: string;
  delivered: boolean;
  accepted: boolean;
  arrived: boolean;
}

const isOpen = (s: AlertSummary) => (OPEN_STATES as readonly string[]).includes(s.state);

/** The tasks of a `GET /api/units/me/alerts` answer. */
export function tasksFrom(v: MyAlertsView): Map<string, UnitTask> {
  const m = new Map<string, UnitTask>();
  for (const d of v.dispatches) {
    if (!isOpen(d.alert)) continue;
    m.set(d.alert.id, {
      alert: d.alert,
      text: d.text ?? null,
      dispatchedAt: d.dispatched_at,
      delivered: d.delivered_at !== null,
      accepted: d.accepted_at !== null,
      arrived: d.arrived_at !== null,
    });
  }
  return m;
}

/** Applies a verified push message; `added` is a task that was not there before. */
export function applyToTasks(
  tasks: ReadonlyMap<string, UnitTask>,
  b: PushBody,
  unit: string,
): { tasks: Map<string, UnitTask>; added?: UnitTask } {
  const m = new Map(tasks);
  const mine = b.unit === unit;
  let task = m.get(b.alert);
  let added: UnitTask | undefined;
  if (!task && b.kind === 'dispatch' && mine) {
    const t = (b.detail as { text?: unknown } | null)?.text;
    task = {
      alert: b.summary,
      text: typeof t === 'string' ? t : null,
      dispatchedAt: b.time,
      delivered: false,
      accepted: false,
      arrived: false,
    };
    added = task;
  }
  if (!task) return { tasks: m };
  const next: UnitTask = { ...task, alert: b.summary };
  if (b.kind === 'receipt' && mine) {
    const k = (b.detail as { kind?: unknown } | null)?.kind;
    if (k === 'closed') {
      m.delete(b.alert);
      return { tasks: m };
    }
    if (k === 'delivered') next.delivered = true;
    if (k === 'accepted') next.delivered = next.accepted = true;
    if (k === 'arrived') next.delivered = next.accepted = next.arrived = true;
  }
  if (!isOpen(b.summary)) {
    m.delete(b.alert);
    return { tasks: m };
  }
  m.set(b.alert, next);
  return added ? { tasks: m, added: next } : { tasks: m };
}

/** The receipt the unit's one button sends next. */
export function nextReceipt(t: UnitTask): Exclude<ReceiptKind, 'delivered'> {
  if (!t.accepted) return 'accepted';
  if (!t.arrived) return 'arrived';
  return 'closed';
}

/** The receipt id of `kind` for `alert`: the same on every retry. */
export function receiptId(alert: string, kind: ReceiptKind): string {
  return `${alert}:${kind}`;
}

/** Tasks, newest dispatch first. */
export function sortedTasks(tasks: ReadonlyMap<string, UnitTask>): UnitTask[] {
  return [...tasks.values()].sort((a, b) => (a.dispatchedAt < b.dispatchedAt ? 1 : -1));
}

/** A `geo:` URI for a phone's map application (no map server needed). */
export function geoUri(lat: number, lon: number): string {
  return `geo:${lat.toFixed(6)},${lon.toFixed(6)}`;
}
