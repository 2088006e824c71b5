// Display names for the ids and enumerations in summaries, in the current language.
//
// Invariants: an id without a known name shows as its first block (the UI isolates it in <bdi>);
// an enumeration value without a catalog key shows as it came.

import { severityKey, stateKey, kindKey, eventKey } from './lib/labels';
import { shortId } from './lib/format';
import type { AlertSummary } from './lib/alerts';
import { claimers, names, session, t } from './store';

export function hotspotLabel(id: string): string {
  return names.value.hotspots.get(id) ?? shortId(id);
}

export function cameraLabel(id: string): string {
  return names.value.cameras.get(id) ?? shortId(id);
}

export function severityLabel(s: string): string {
  const k = severityKey(s);
  return k ? t.value(k) : s;
}

export function stateLabel(s: string): string {
  const k = stateKey(s);
  return k ? t.value(k) : s;
}

export function eventLabel(s: string): string {
  const k = eventKey(s);
  return k ? t.value(k) : s;
}

/** The rule id of incidents raised by hand (crates/roeh-api/src/raise.rs). */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** A unit's kind, in words. */
export function unitKindLabel(k: string | undefined): string {
  switch (k) {
    case 'joint':
      return t.value('unitKind.joint');
    case 'police':
      return t.value('unitKind.police');
    case 'municipal':
      return t.value('unitKind.municipal');
    case 'volunteer':
      return t.value('unitKind.volunteer');
    default:
      return k ?? '';
  }
}

/** The kinds of an alert's rules, deduplicated, in the order of its incidents. */
export function kindsOf(a: AlertSummary): string[] {
  const out: string[] = [];
  for (const i of a.incidents) {
    if (i.rule === NIL_UUID) {
      const label = t.value('kind.manual');
      if (!out.includes(label)) out.push(label);
      continue;
    }
    const kind = names.value.rules.get(i.rule)?.kind;
    if (!kind) continue;
    const k = kindKey(kind);
    const label = k ? t.value(k) : kind;
    if (!out.includes(label)) out.push(label);
  }
  return out;
}

/** Who holds an alert: "you", a user name learned from a claim event, or `#id`. */
export function claimerLabel(id: number): string {
  if (session.value && session.value.id === id) return t.value('claim.you');
  return claimers.value.get(id) ?? `#${id}`;
}
