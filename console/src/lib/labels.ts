// Catalog keys for the server's enumerations (severity, state, rule kind, event kind, action).
// No DOM.
//
// Invariants:
// - every value the server documents has a key here, and every key exists in both catalogs
//   (the unit tests check both);
// - a value the server adds later has no key: callers show it as it came, isolated in <bdi>.

import type { ActionName } from './alerts';
import type { MessageKey } from './i18n';

const SEVERITY: Record<string, MessageKey> = {
  low: 'severity.low',
  medium: 'severity.medium',
  high: 'severity.high',
  critical: 'severity.critical',
};

const STATE: Record<string, MessageKey> = {
  new: 'state.new',
  claimed: 'state.claimed',
  acknowledged: 'state.acknowledged',
  dispatched: 'state.dispatched',
  on_scene: 'state.on_scene',
  resolved: 'state.resolved',
  false_alarm: 'state.false_alarm',
  escalated: 'state.escalated',
};

/** Rule kinds (`roeh_rules::RuleKind::name`). */
const KIND: Record<string, MessageKey> = {
  intrusion: 'kind.intrusion',
  loitering: 'kind.loitering',
  crowding: 'kind.crowding',
  line_crossing: 'kind.line_crossing',
  tamper: 'kind.tamper',
};

/** Event kinds of an alert's history (`Action::as_str`, plus the service's own). */
const EVENT: Record<string, MessageKey> = {
  raised: 'event.raised',
  merged: 'event.merged',
  claim: 'event.claim',
  acknowledge: 'event.acknowledge',
  dispatch: 'event.dispatch',
  arrive: 'event.arrive',
  receipt: 'event.receipt',
  note: 'event.note',
  resolve: 'event.resolve',
  false_alarm: 'event.false_alarm',
  escalate: 'event.escalate',
};

const ACTION: Record<ActionName, MessageKey> = {
  claim: 'action.claim',
  acknowledge: 'action.acknowledge',
  dispatch: 'action.dispatch',
  note: 'action.note',
  resolve: 'action.resolve',
  false_alarm: 'action.false_alarm',
  escalate: 'action.escalate',
};

/** The keyboard key (`KeyboardEvent.code`, layout-independent) and the letter shown for each
 * action. */
export const SHORTCUTS: Record<ActionName, { code: string; letter: string }> = {
  claim: { code: 'KeyC', letter: 'C' },
  acknowledge: { code: 'KeyA', letter: 'A' },
  dispatch: { code: 'KeyD', letter: 'D' },
  note: { code: 'KeyN', letter: 'N' },
  resolve: { code: 'KeyR', letter: 'R' },
  false_alarm: { code: 'KeyF', letter: 'F' },
  escalate: { code: 'KeyE', letter: 'E' },
};

export const severityKey = (s: string): MessageKey | null => SEVERITY[s] ?? null;
export const stateKey = (s: string): MessageKey | null => STATE[s] ?? null;
/** Phenomena people raise by hand (an incident's kind where no rule raised it; the API takes
 * any short word, these have names). */
export const PHENOMENON_KEYS = {
  fight: 'phenomenon.fight',
  violence: 'phenomenon.violence',
  vandalism: 'phenomenon.vandalism',
  drugs: 'phenomenon.drugs',
  weapon: 'phenomenon.weapon',
  gathering: 'phenomenon.gathering',
  noise: 'phenomenon.noise',
  other: 'phenomenon.other',
} as const satisfies Record<string, MessageKey>;
const PHENOMENON: Record<string, MessageKey> = PHENOMENON_KEYS;

/** A kind's name: a rule kind's, else a phenomenon's. */
export const kindKey = (s: string): MessageKey | null => KIND[s] ?? PHENOMENON[s] ?? null;
export const eventKey = (s: string): MessageKey | null => EVENT[s] ?? null;
export const actionKey = (a: ActionName): MessageKey => ACTION[a];

/** Every key this module refers to (for the catalog tests). */
export const ALL_LABEL_KEYS: readonly MessageKey[] = [
  ...Object.values(SEVERITY),
  ...Object.values(STATE),
  ...Object.values(KIND),
  ...Object.values(PHENOMENON),
  ...Object.values(EVENT),
  ...Object.values(ACTION),
];

/** The keys that move the selection, as shown (`KeyboardEvent.code` ArrowDown/KeyJ and
 * ArrowUp/KeyK). */
export const MOVE_KEYS = { next: ['↓', 'J'], previous: ['↑', 'K'] } as const;
