// The integrator's side of the console, without DOM: cameras with their stream health, the
// add-a-camera form's body and the field a refusal concerns, ONVIF devices with the choice of
// their main and sub profiles, and webhook subscriptions with their deliveries.
//
// Shapes follow crates/roeh-api/src/cameras.rs (`CameraView`, `StreamHealth` of roeh-domain),
// crates/roeh-onvif/src/onboard.rs (`DiscoveredView`, `DeviceProfiles`, `AddRequest`) and
// crates/roeh-api/src/webhooks.rs (`WebhookView`, `DeliveryView`).
//
// Invariants:
// - a body carries only what was typed: an empty optional field is left out, so the server
//   applies its own default; names and addresses are trimmed, passwords and secrets never are;
// - a refusal points at a field only when the server's message names it (`fieldOf`); anything
//   else is the form's own message;
// - the profiles offered as main and sub are those roeh can use, and the sub is never the main.

import { fieldOf } from './evidence';
import { formatClock, formatDuration, NOTHING } from './format';
import { type Micros } from './time';

// ----- cameras and their health -----

/** `StreamHealth`. `last_frame_at` is µs since 1970. */
export interface StreamHealth {
  state: 'idle' | 'connecting' | 'streaming' | 'backoff' | 'stopped' | string;
  last_frame_at: number | null;
  fps: number;
  bitrate_bps: number;
  reconnects: number;
  frames: number;
  bytes: number;
  last_error: string | null;
  codec: string | null;
  width: number | null;
  height: number | null;
}

/** `CameraView`. */
export interface CameraInfo {
  id: string;
  name: string;
  url: string;
  transport: string;
  enabled: boolean;
  username: string | null;
  has_password: boolean;
  health: StreamHealth | null;
  /** Gaps in its recording that reach into the site's current day. */
  gaps_today?: number;
}

/** `AnalysisView`. */
export interface AnalysisView {
  camera_id: string;
  enabled: boolean;
  fps: number;
  configured: boolean;
}

/** The stream states, as the server names them; anything else reads as `unknown`. */
export const STREAM_STATES = ['streaming', 'connecting', 'backoff', 'idle', 'stopped'] as const;
export type StreamStateName = (typeof STREAM_STATES)[number] | 'unknown';

/** The state of a camera's stream (`idle` without health: not started, or disabled). */
export function streamState(c: CameraInfo): StreamStateName {
  const s = c.health?.state ?? 'idle';
  return (STREAM_STATES as readonly string[]).includes(s) ? (s as StreamStateName) : 'unknown';
}

/** Whether the state needs someone's attention (not streaming while enabled). */
export function troubled(c: CameraInfo): boolean {
  return c.enabled && streamState(c) !== 'streaming';
}

/** A rate in bits per second as `kbit/s` or `Mbit/s` (ASCII digits, one decimal over 1 M). */
export function bitrateText(bps: number): { value: string; unit: 'kbit/s' | 'Mbit/s' } {
  if (!Number.isFinite(bps) || bps <= 0) return { value: '0', unit: 'kbit/s' };
  if (bps >= 1_000_000) return { value: (bps / 1_000_000).toFixed(1), unit: 'Mbit/s' };
  return { value: String(Math.round(bps / 1000)), unit: 'kbit/s' };
}

/** Frames per second with one decimal (`—` when none). */
export function fpsText(fps: number): string {
  return Number.isFinite(fps) && fps > 0 ? fps.toFixed(1) : NOTHING;
}

/** How long ago the last frame came at `now` (`m:ss` or `h:mm:ss`); `—` without one. */
export function lastFrameAge(h: StreamHealth | null, now: Micros): string {
  if (!h || h.last_frame_at === null || !Number.isFinite(h.last_frame_at)) return NOTHING;
  return formatDuration(now - h.last_frame_at);
}

/** The clock time (`HH:MM:SS`, site's zone) of the last frame; `—` without one. */
export function lastFrameTime(h: StreamHealth | null): string {
  if (!h || h.last_frame_at === null || !Number.isFinite(h.last_frame_at)) return NOTHING;
  return formatClock(new Date(Math.floor(h.last_frame_at / 1000)).toISOString());
}

/** `1920×1080`, or `—`. */
export function sizeOf(w: number | null | undefined, h: number | null | undefined): string {
  return w && h ? `${w}×${h}` : NOTHING;
}

/** The fields of the add-a-camera form a refusal may point at. */
export const CAMERA_FIELDS = ['name', 'url', 'username', 'password'] as const;
export type CameraField = (typeof CAMERA_FIELDS)[number];

/** The add-a-camera form as typed. */
export interface CameraDraft {
  name: string;
  url: string;
  username: string;
  password: string;
}

/** The body of `POST /api/cameras`: name and URL trimmed; the login only when typed. */
export function newCameraBody(d: CameraDraft): Record<string, string> {
  const b: Record<string, string> = { name: d.name.trim(), url: d.url.trim() };
  if (d.username.trim() !== '') b.username = d.username.trim();
  if (d.password !== '') b.password = d.password;
  return b;
}

/** The field of the camera form a server message concerns (`camera URL …` is the URL, `camera
 * name …` the name); null: the form's own. */
export function cameraFieldOf(message: string): CameraField | null {
  return fieldOf(message, CAMERA_FIELDS);
}

// ----- ONVIF -----

/** `DiscoveredView`. */
export interface DiscoveredDevice {
  id: number;
  endpoint_ref: string;
  xaddrs: string[];
  name: string | null;
  hardware: string | null;
  location: string | null;
  scopes: string[];
  from: string;
  first_seen: string;
  last_seen: string;
  state: 'pending' | 'approved' | 'dismissed' | string;
  camera_id: string | null;
}

/** `ProfileOption`. */
export interface ProfileOption {
  token: string;
  name: string;
  encoding: string;
  width: number | null;
  height: number | null;
  fps: number | null;
  usable: boolean;
}

/** `DeviceProfiles`. */
export interface DeviceProfiles {
  manufacturer: string;
  model: string;
  profiles: ProfileOption[];
  main: string | null;
  sub: string | null;
}

/** What a device is called in the list: its advertised name, else its hardware, else the host
 * of its address, else its endpoint reference. */
export function deviceLabel(d: DiscoveredDevice): string {
  const n = d.name?.trim() || d.hardware?.trim();
  if (n) return n;
  const host = d.xaddrs.map(hostOf).find((h) => h !== null);
  return host ?? d.endpoint_ref;
}

/** The `host:port` of a URL, or null. */
export function hostOf(url: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(url.trim());
  return m ? m[1]!.replace(/^[^@]*@/, '') : null;
}

/** A profile as offered: `name · H264 768×576 · 25 fps` (fps left out when unknown). */
export function profileLabel(p: ProfileOption): string {
  const parts = [p.name || p.token];
  const kind = [p.encoding, p.width && p.height ? `${p.width}×${p.height}` : ''].filter(Boolean).join(' ');
  if (kind) parts.push(kind);
  if (p.fps !== null && p.fps > 0) parts.push(`${Math.round(p.fps * 10) / 10} fps`);
  return parts.join(' · ');
}

/** The profiles roeh can record: main candidates. */
export function mainOptions(d: DeviceProfiles): ProfileOption[] {
  return d.profiles.filter((p) => p.usable);
}

/** The profiles that may be analysed with `main` recorded: the usable ones but the main. */
export function subOptions(d: DeviceProfiles, main: string): ProfileOption[] {
  return d.profiles.filter((p) => p.usable && p.token !== main);
}

/** The choice offered first: the server's rule (main, and a sub other than it), else the first
 * usable profiles; `''` as sub: none (the main is analysed). */
export function defaultChoice(d: DeviceProfiles): { main: string; sub: string } {
  const usable = mainOptions(d);
  const main = d.main && usable.some((p) => p.token === d.main) ? d.main : (usable[0]?.token ?? '');
  const subs = subOptions(d, main);
  const sub = d.sub && subs.some((p) => p.token === d.sub) ? d.sub : '';
  return { main, sub };
}

/** The choice after the main changed to `main`: the sub stays unless it is now the main. */
export function withMain(choice: { main: string; sub: string }, main: string): { main: string; sub: string } {
  return { main, sub: choice.sub === main ? '' : choice.sub };
}

/** The fields of the approve form a refusal may point at. */
export const APPROVE_FIELDS = ['name', 'username', 'password', 'main_profile', 'sub_profile'] as const;
export type ApproveField = (typeof APPROVE_FIELDS)[number];

/** The login typed for a device. */
export interface Login {
  username: string;
  password: string;
}

/** The body of `POST /api/onvif/profiles` for a discovered device. */
export function probeBody(id: number, login: Login): Record<string, string | number> {
  const b: Record<string, string | number> = { discovered_id: id };
  if (login.username.trim() !== '') b.username = login.username.trim();
  if (login.password !== '') b.password = login.password;
  return b;
}

/** The body of `POST /api/onvif/add` approving a discovered device with the chosen profiles
 * (`sub` `''`: none). */
export function approveBody(
  id: number,
  name: string,
  login: Login,
  choice: { main: string; sub: string },
): Record<string, string | number> {
  const b = probeBody(id, login);
  b.name = name.trim();
  if (choice.main !== '') b.main_profile = choice.main;
  b.sub_profile = choice.sub;
  return b;
}

/** The field of the approve form a server message concerns; null: the form's own. */
export function approveFieldOf(message: string): ApproveField | null {
  return fieldOf(message, APPROVE_FIELDS);
}

// ----- webhooks -----

/** `WebhookView`. */
export interface WebhookView {
  id: string;
  name: string;
  url: string;
  kinds: string[];
  hotspots: string[];
  enabled: boolean;
  format: 'json' | 'cap' | string;
  created_at: string;
}

/** `DeliveryView`. */
export interface DeliveryView {
  seq: number;
  idempotency_key: string;
  event: string;
  state: 'pending' | 'delivered' | 'dead' | string;
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** The webhook formats, in the form's order. */
export const WEBHOOK_FORMATS = ['json', 'cap'] as const;

/** The fields of the new-webhook form a refusal may point at. */
export const WEBHOOK_FIELDS = ['name', 'url', 'secret', 'kinds', 'format'] as const;
export type WebhookField = (typeof WEBHOOK_FIELDS)[number];

/** The new-webhook form as typed. */
export interface WebhookDraft {
  name: string;
  url: string;
  secret: string;
  kinds: string;
  format: string;
}

/** Event kinds typed as a list (commas or spaces), without repeats; empty: every kind. */
export function kindsOf(typed: string): string[] {
  return [...new Set(typed.split(/[\s,]+/).filter((k) => k !== ''))];
}

/** The body of `POST /api/webhooks`. */
export function webhookBody(d: WebhookDraft): Record<string, unknown> {
  return {
    name: d.name.trim(),
    url: d.url.trim(),
    secret: d.secret,
    kinds: kindsOf(d.kinds),
    format: d.format,
  };
}

/** The field of the webhook form a server message concerns: a refused target or an unresolved
 * host is the URL; null: the form's own. */
export function webhookFieldOf(message: string): WebhookField | null {
  const m = message.toLowerCase();
  if (/\burl\b|webhook target|\bhost\b/.test(m)) return 'url';
  return fieldOf(message, WEBHOOK_FIELDS);
}

/** How many deliveries a page of the log asks for. */
export const DELIVERY_PAGE = 50;

/** The query of the delivery log's page below `before` (the last seq of the previous page). */
export function deliveriesQuery(before: number | null, limit = DELIVERY_PAGE): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before !== null) q.set('before', String(before));
  return q.toString();
}

/** The `before` of the next page: the last seq of a full page, else null (no more). */
export function nextDeliveries(page: readonly DeliveryView[], limit = DELIVERY_PAGE): number | null {
  return page.length >= limit && page.length > 0 ? page[page.length - 1]!.seq : null;
}
