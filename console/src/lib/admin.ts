// The admin's side of the console, without DOM: users and their scopes, the audit log's
// filters and pages, unit registration's field and link, checkpoint times, retention limits.
//
// Shapes follow crates/roeh-api/src/auth.rs (`UserView`, `TokenView`, `AuditView`).
//
// Invariants:
// - a scope with no camera and no hotspot is sent as absent: the user is unrestricted, as the
//   server reads a missing scope; a scope naming anything is sent as exactly those ids;
// - the audit log is paged as the server pages it: newest first, the next page starts below the
//   last id of a full page (`before`), and a page shorter than asked for is the last.

import { fieldOf } from './evidence';

/** The roles an admin may give (`roeh_auth::Role`), in the form's order. */
export const ROLES = ['operator', 'supervisor', 'investigator', 'integrator', 'admin', 'unit'] as const;

/** The fields of the new-user form a refusal may point at. */
export const USER_FIELDS = ['username', 'password', 'role', 'scope'] as const;
export type UserField = (typeof USER_FIELDS)[number];

/** The fields of the token form a refusal may point at. */
export const TOKEN_FIELDS = ['label', 'days'] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];

/** `Scope`: the cameras and hotspots a user is limited to. */
export interface ScopeIds {
  cameras: string[];
  hotspots: string[];
}

/** `UserView`. */
export interface UserView {
  id: number;
  username: string;
  role: string;
  scope: unknown;
  created_at: string;
  disabled_at: string | null;
}

/** `TokenView`: a new token, shown once. */
export interface TokenView {
  token: string;
  expires_at: string;
}

/** `AuditView`. */
export interface AuditView {
  id: number;
  time: string;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  outcome: string;
  status: number | null;
  reason: string | null;
  source_ip: string | null;
}

/** The scope to send for the picked ids: `undefined` (unrestricted) when none is picked. */
export function scopeBody(picked: ScopeIds): ScopeIds | undefined {
  const uniq = (xs: readonly string[]) => [...new Set(xs.filter((x) => x !== ''))];
  const cameras = uniq(picked.cameras);
  const hotspots = uniq(picked.hotspots);
  if (cameras.length === 0 && hotspots.length === 0) return undefined;
  return { cameras, hotspots };
}

/** A user's scope as the server shows it (`roeh_auth::Scope`); null when unrestricted: neither
 * `cameras` nor `hotspots` present (or not an object). A scope with the keys but no ids grants
 * nothing, and is shown as such, never as the whole site. Ids that are not strings are left
 * out. */
export function scopeOf(v: unknown): ScopeIds | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!('cameras' in o) && !('hotspots' in o)) return null;
  const ids = (x: unknown) => (Array.isArray(x) ? x.filter((i): i is string => typeof i === 'string') : []);
  return { cameras: ids(o.cameras), hotspots: ids(o.hotspots) };
}

/** Adds `id` to `list` or removes it (a picker's checkbox). */
export function toggled(list: readonly string[], id: string, on: boolean): string[] {
  const rest = list.filter((x) => x !== id);
  return on ? [...rest, id] : rest;
}

/** The audit log's filters as typed (times already read as µs, or null when left empty). */
export interface AuditFilter {
  actor: string;
  action: string;
  since: number | null;
  until: number | null;
}

/** The page size the console asks for. */
export const AUDIT_PAGE = 100;

/** The query of `GET /api/audit` for `f`, starting below `before` (null: the newest). */
export function auditQuery(f: AuditFilter, before: number | null, limit = AUDIT_PAGE): string {
  const p = new URLSearchParams();
  if (f.actor.trim() !== '') p.set('actor', f.actor.trim());
  if (f.action.trim() !== '') p.set('action', f.action.trim());
  if (f.since !== null) p.set('since', new Date(Math.floor(f.since / 1000)).toISOString());
  if (f.until !== null) p.set('until', new Date(Math.floor(f.until / 1000)).toISOString());
  if (before !== null) p.set('before', String(before));
  p.set('limit', String(limit));
  return p.toString();
}

/** Where the page after `page` starts (its last id), or null when `page` was the last. */
export function nextBefore(page: readonly Pick<AuditView, 'id'>[], limit = AUDIT_PAGE): number | null {
  if (page.length < limit) return null;
  const last = page[page.length - 1];
  return last ? last.id : null;
}

/** The signing time a checkpoint's text carries (its RFC 3339 line), or null. */
export function checkpointTime(text: string): string | null {
  const line = text.split('\n').find((l) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(l.trim()));
  return line ? line.trim() : null;
}

/** The fields of the unit registration form a refusal may point at. */
export const UNIT_FIELDS = ['name', 'kind'] as const;
export type UnitField = (typeof UNIT_FIELDS)[number];

/** The kinds of patrol unit (`roeh_alerts::UnitKind`), in the form's order. */
export const UNIT_KINDS = ['joint', 'police', 'municipal', 'volunteer'] as const;

/** The field of the unit form a server message concerns: the unit's name is its user's
 * username, so a message about the username is about the name. */
export function unitFieldOf(message: string): UnitField | null {
  const f = fieldOf(message, ['name', 'kind', 'username'] as const);
  return f === 'username' ? 'name' : f;
}

/** The address that signs a unit's phone in (`#/device/TOKEN`: the fragment never reaches a
 * server, and the page removes it at once). */
export function deviceLink(origin: string, token: string): string {
  return `${origin}/#/device/${encodeURIComponent(token)}`;
}

/** A camera's retention as `GET /api/cameras` shows it. */
export interface CameraRetention {
  id: string;
  name: string;
  retention_max_age_secs?: number | null;
  retention_max_bytes?: number | null;
}

/** A size in bytes for people: binary units (KiB … TiB), one decimal below 10. */
export function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const n = i === 0 || v >= 10 ? Math.round(v).toString() : v.toFixed(1);
  return `${n} ${units[i]}`;
}

/** A retention age in whole days (rounded up: a limit is never shown shorter than it is), or
 * null when the camera keeps footage without an age limit. */
export function retentionDays(secs: number | null | undefined): number | null {
  if (secs === null || secs === undefined || secs <= 0) return null;
  return Math.ceil(secs / 86_400);
}
