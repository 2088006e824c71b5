// The investigator's side of the console, without DOM: which pages a role may use, times typed
// in the site's zone, which form field a server refusal concerns, an export's progress, the
// commands that verify a bundle offline, and the cases known from exports and holds.
//
// Shapes follow crates/roeh-api/src/evidence.rs (`ExportView`, `HoldView`, `CustodyLogView`).
//
// Invariants:
// - `pagesFor` follows the permission matrix of crates/roeh-auth/src/role.rs: a page is listed
//   only for roles holding every permission its requests need, so nobody is shown a page whose
//   data the server would refuse;
// - a time typed as `YYYY-MM-DDTHH:MM[:SS]` is read in the site's zone (./zone.ts), as every
//   time shown is written in it;
// - `fieldOf` only points at a field the form has; anything else is the form's own message.

import { fieldsOf, msOf } from './zone';

/** A page of the console (the hash route). */
export type Page =
  | 'alerts'
  | 'live'
  | 'playback'
  | 'units'
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

/** The permissions the console's pages need (`roeh_auth::Permission`). */
type Perm =
  | 'view_live'
  | 'view_footage'
  | 'view_incidents'
  | 'view_cameras'
  | 'handle_alerts'
  | 'dispatch_units'
  | 'export_evidence'
  | 'manage_holds'
  | 'view_evidence_log'
  | 'manage_users'
  | 'view_audit'
  | 'manage_cameras'
  | 'onvif_onboard'
  | 'manage_hotspots_rules';

/** Who holds which of those permissions (rows of `roeh_auth::MATRIX`). */
const HOLDERS: Record<Perm, readonly string[]> = {
  view_cameras: ['admin', 'supervisor', 'operator', 'investigator', 'integrator'],
  view_live: ['admin', 'supervisor', 'operator', 'integrator'],
  view_footage: ['admin', 'supervisor', 'operator', 'investigator'],
  view_incidents: ['admin', 'supervisor', 'operator', 'investigator'],
  handle_alerts: ['admin', 'supervisor', 'operator'],
  dispatch_units: ['admin', 'supervisor', 'operator'],
  export_evidence: ['admin', 'supervisor', 'investigator'],
  manage_holds: ['admin', 'supervisor', 'investigator'],
  view_evidence_log: ['admin', 'supervisor', 'investigator'],
  manage_users: ['admin'],
  view_audit: ['admin', 'supervisor'],
  manage_cameras: ['admin', 'integrator'],
  onvif_onboard: ['admin', 'integrator'],
  manage_hotspots_rules: ['admin', 'supervisor', 'integrator'],
};

/** Each page, in the navigation's order, with what its requests need. */
const PAGES: readonly (readonly [Page, readonly Perm[]])[] = [
  ['alerts', ['handle_alerts']],
  ['live', ['view_live', 'view_cameras']],
  ['hotspots', ['manage_hotspots_rules', 'view_incidents', 'view_live', 'view_cameras']],
  // The situational picture and operations: who reads incidents and sets the hotspots' priorities.
  ['stats', ['manage_hotspots_rules', 'view_incidents']],
  ['operations', ['manage_hotspots_rules', 'view_incidents']],
  ['playback', ['view_footage', 'view_cameras']],
  ['units', ['dispatch_units']],
  ['search', ['view_incidents', 'view_footage', 'export_evidence']],
  ['exports', ['export_evidence', 'view_evidence_log']],
  ['holds', ['manage_holds']],
  ['custody', ['view_evidence_log', 'export_evidence', 'manage_holds']],
  ['users', ['manage_users', 'view_cameras']],
  ['audit', ['view_audit']],
  ['keys', ['view_audit', 'view_evidence_log']],
  ['cameras', ['view_cameras', 'manage_cameras']],
  ['onvif', ['onvif_onboard']],
  ['webhooks', ['manage_users']],
];

/** Whether `role` holds `perm`. */
export function mayDo(role: string, perm: Perm): boolean {
  return HOLDERS[perm].includes(role);
}

/** The pages `role` may use, in the navigation's order (none for a patrol unit: its phone has
 * one page of its own). */
export function pagesFor(role: string): Page[] {
  return PAGES.filter(([, need]) => need.every((p) => mayDo(role, p))).map(([p]) => p);
}

/** Whether the push stream of alerts is for `role` (its queue, or a unit's dispatches). */
export function takesPush(role: string): boolean {
  return role === 'unit' || mayDo(role, 'handle_alerts');
}

/** Where a role lands, in order of preference: the queue, else the footage search, else the
 * cameras with their health. */
const HOMES: readonly Page[] = ['alerts', 'search', 'cameras'];

/** Where `role` lands after signing in: the queue for those who handle alerts, the footage
 * search for investigators, else its first page (`null`: none, a unit or no role). */
export function homeOf(role: string): Page | null {
  const mine = pagesFor(role);
  return HOMES.find((p) => mine.includes(p)) ?? mine[0] ?? null;
}

// ----- times typed in the site's zone -----

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DDTHH:MM[:SS]` (a `datetime-local` input's value) in the site's zone, as µs since
 * 1970; null when it is not such a time. */
export function parseLocal(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  return msOf({ year, month, day, hour, minute, second }) * 1000;
}

/** The instant `us` as `YYYY-MM-DDTHH:MM:SS` in the site's zone (for a `datetime-local`). */
export function toLocal(us: number): string {
  const f = fieldsOf(Math.floor(us / 1000));
  return `${f.year}-${pad2(f.month)}-${pad2(f.day)}T${pad2(f.hour)}:${pad2(f.minute)}:${pad2(f.second)}`;
}

/** The instant `us` as RFC 3339 UTC (what the API reads). */
export function rfc3339(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

// ----- refusals next to their field -----

/** The field of `fields` a server message is about: the first field named as a word in it (the
 * server names the field it refuses: "case is required", "end must be after start"); null when
 * none is, and the message belongs to the whole form. */
export function fieldOf<F extends string>(message: string, fields: readonly F[]): F | null {
  const words = message.toLowerCase().match(/[a-z_]+/g) ?? [];
  for (const w of words) {
    const f = fields.find((x) => x === w);
    if (f !== undefined) return f;
  }
  return null;
}

// ----- exports -----

/** `ExportView`. */
export interface ExportView {
  id: string;
  camera: string;
  start: string;
  end: string;
  reason: string;
  case: string;
  requester: string;
  state: string;
  bytes_done: number;
  bytes_total: number;
  download: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

/** `HoldView`. */
export interface HoldView {
  id: number;
  camera: string;
  start: string;
  end: string;
  case: string;
  reason: string;
  created_by: string;
  created_at: string;
  cleared_at: string | null;
  cleared_by: string | null;
  clear_reason: string | null;
}

/** `CustodyEventView`. */
export interface CustodyEvent {
  log_index: number;
  time: string;
  kind: string;
  camera: string | null;
  actor: string | null;
  export: string | null;
  hold: number | null;
  start: string | null;
  end: string | null;
  reason: string | null;
  json: string;
}

/** `CustodyLogView`. */
export interface CustodyLog {
  case: string;
  events: CustodyEvent[];
  truncated: boolean;
}

/** Whether an export job has ended (done or failed): its progress is no longer read. */
export function finished(e: Pick<ExportView, 'state'>): boolean {
  return e.state === 'done' || e.state === 'failed';
}

/** An export's progress in whole percent, 0–100 (100 once done). */
export function percent(e: Pick<ExportView, 'state' | 'bytes_done' | 'bytes_total'>): number {
  if (e.state === 'done') return 100;
  if (e.bytes_total <= 0) return 0;
  // Never 100 before the job says it is done (the bundle is still being sealed).
  return Math.min(99, Math.max(0, Math.floor((e.bytes_done * 100) / e.bytes_total)));
}

/** The file name the server gives a bundle (`Content-Disposition`). */
export function bundleName(id: string): string {
  return `roeh-evidence-${id}.zip`;
}

/** The site key's file name in the commands. */
export const KEY_FILE = 'site-key.pem';

/** The commands that check a downloaded bundle offline: the verifier, then the checkpoint's
 * signature with a stock OpenSSL 3 (docs/design/0005-evidence-format.md §3). */
export function verifyCommands(bundle: string, key = KEY_FILE): string[] {
  return [
    `roeh-verify --key ${key} ${bundle}`,
    `unzip -o ${bundle} checkpoint.txt checkpoint.sig`,
    `openssl pkeyutl -verify -pubin -inkey ${key} -rawin -in checkpoint.txt -sigfile checkpoint.sig`,
  ];
}

// ----- cases -----

/** A case as the console knows it: its number, its exports and its holds. */
export interface CaseInfo {
  case: string;
  exports: ExportView[];
  holds: HoldView[];
}

/** The cases named by `exports` and `holds`, by number (as typed: cases are compared exactly,
 * as the server does), newest activity first. */
export function casesOf(exports: readonly ExportView[], holdList: readonly HoldView[]): CaseInfo[] {
  const m = new Map<string, CaseInfo & { last: string }>();
  const get = (c: string) => {
    let v = m.get(c);
    if (!v) {
      v = { case: c, exports: [], holds: [], last: '' };
      m.set(c, v);
    }
    return v;
  };
  for (const e of exports) {
    const v = get(e.case);
    v.exports.push(e);
    if (e.created_at > v.last) v.last = e.created_at;
  }
  for (const h of holdList) {
    const v = get(h.case);
    v.holds.push(h);
    if (h.created_at > v.last) v.last = h.created_at;
  }
  return [...m.values()]
    .sort((a, b) => (a.last === b.last ? a.case.localeCompare(b.case) : a.last < b.last ? 1 : -1))
    .map(({ last: _last, ...c }) => c);
}

/** Where the custody log of a case is read: through one of its exports, else one of its holds
 * (`GET /api/exports/{id}/custody`, `GET /api/holds/{id}/custody`); null for an unknown case. */
export function custodyPath(c: CaseInfo | undefined): string | null {
  if (!c) return null;
  const e = c.exports[0];
  if (e) return `/api/exports/${encodeURIComponent(e.id)}/custody`;
  const h = c.holds[0];
  if (h) return `/api/holds/${h.id}/custody`;
  return null;
}
