// The one typed client of the roeh HTTP API that every page uses: requests, errors, the CSRF
// header. No DOM beyond an injected `fetch`.
//
// Shapes follow crates/roeh-api/src/auth.rs (`LoginBody`, `LoginView`, `SetupBody`, `MeView`),
// crates/roeh-api/src/alerts.rs and crates/roeh-api/src/detection.rs.
//
// Invariants:
// - sign-in uses the cookie session (`kind: "session"`); the session token never reaches script,
//   only its CSRF token, which is sent as `x-roeh-csrf` on every POST, PUT and DELETE;
// - every refusal becomes an `ApiError` carrying the server's `error.kind` and `error.message`
//   as plain text (the UI renders it as text, never as HTML);
// - a 401 from any signed-in request calls `onUnauthorized` once per request (the app returns to
//   the sign-in page and keeps what the operator typed); sign-in and setup report their 401/403
//   to the caller only;
// - the CSRF token is kept in sessionStorage only as a fallback for a server whose
//   `GET /api/auth/me` does not yet return it.

import {
  type ActionName,
  type AlertDetail,
  type AlertSummary,
  type UnitsView,
  actionPath,
  OPEN_STATES,
} from './alerts';
import type { MyAlertsView, ReceiptKind } from './unit';

/** The response fields the client reads (a subset of `Response`, so tests can fake it). */
export interface HttpResponse {
  status: number;
  ok: boolean;
  text(): Promise<string>;
}

/** The `fetch` the client uses. */
export type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; credentials: 'same-origin' },
) => Promise<HttpResponse>;

/** A refused or failed request. */
export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server was not reached. */
    readonly status: number,
    /** The server's error kind (`invalid_argument`, …), or `network` / `bad_response`. */
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `LoginView`. */
export interface LoginView {
  username: string;
  role: string;
  expires_at: string;
  csrf?: string;
}

/** `MeView`, plus `csrf` for a cookie session (being added on the server). */
export interface MeView {
  id: number;
  username: string;
  role: string;
  scope: unknown;
  csrf?: string;
  /** The site's time zone (IANA name). */
  time_zone?: string;
  /** The site's map tile server, if it has one. */
  map_tiles?: TileServer;
}

/** A map tile server (`MapTilesView`): XYZ Web Mercator tiles. */
export interface TileServer {
  url: string;
  attribution: string | null;
  max_zoom: number;
}

/** `SetupView`. */
export interface SetupView {
  id: number;
  username: string;
  role: string;
}

/** `PushKeyView` (`GET /api/push/key`). */
export interface PushKeyView {
  algorithm: string;
  key_id: string;
  public_key: string;
  context: string;
  ttl_secs: number;
}

/** `DispatchedView`. */
export interface DispatchedView {
  alert: AlertSummary;
  dispatched: string[];
}

/** The parts of `HotspotView`, `CameraView` and `RuleView` the queue shows. */
export interface NamedThing {
  id: string;
  name: string;
}
/** `HotspotView` with the parts the live grid reads (its cameras). */
export interface HotspotInfo extends NamedThing {
  hotspot?: { cameras?: unknown; lat?: unknown; lon?: unknown };
}
export interface RuleInfo {
  id: string;
  hotspot_id: string;
  rule: { kind?: unknown; name?: unknown };
}

/** `RaiseBody` (crates/roeh-api/src/raise.rs). */
export type RaiseBody =
  | {
      source: 'camera';
      camera: string;
      phenomenon: string;
      severity: string;
      description: string;
      at?: string;
    }
  | {
      source: 'call';
      lat: number;
      lon: number;
      phenomenon: string;
      severity: string;
      description: string;
    };

/** `PtzView` (crates/roeh-api/src/ptz.rs). */
export interface PtzView {
  available: boolean;
  presets: { token: string; name: string; home: boolean }[];
  away: boolean;
  position: string;
  changed_by: string | null;
  changed_at: string | null;
  status: { pan: number; tilt: number; zoom: number; moving: boolean | null } | null;
}

/** A PTZ command: a continuous move, stop, home or a preset. */
export type PtzCommand =
  | { kind: 'move'; pan: number; tilt: number; zoom: number }
  | { kind: 'stop' }
  | { kind: 'home' }
  | { kind: 'preset'; token: string };

/** The header carrying the CSRF token (`roeh_auth::CSRF_HEADER`). */
export const CSRF_HEADER = 'x-roeh-csrf';
/** Where the CSRF token is kept across a reload (sessionStorage). */
export const CSRF_STORAGE_KEY = 'roeh.csrf';
/** Largest page of `GET /api/alerts` (`roeh_store::MAX_ALERT_LIST`). */
export const ALERT_PAGE = 1000;
/** At most this many pages per state are read for the queue. */
export const MAX_ALERT_PAGES = 5;

/** Minimal key-value storage (sessionStorage, or a map in tests). */
export interface KeyValue {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export interface ApiOptions {
  fetch: Fetch;
  /** Called when a signed-in request answers 401. */
  onUnauthorized: () => void;
  /** Where the CSRF fallback copy lives. */
  storage?: KeyValue;
}

/** The error of a non-2xx response, from the shared error body `{"error":{"kind","message"}}`. */
export function errorOf(status: number, text: string): ApiError {
  try {
    const j: unknown = JSON.parse(text);
    if (typeof j === 'object' && j !== null && 'error' in j) {
      const e = (j as { error: unknown }).error;
      if (typeof e === 'object' && e !== null) {
        const { kind, message } = e as { kind?: unknown; message?: unknown };
        if (typeof message === 'string') {
          return new ApiError(status, typeof kind === 'string' ? kind : 'unknown', message);
        }
      }
    }
  } catch {
    // Not JSON: a proxy's page, say. Its text is not shown.
  }
  return new ApiError(status, 'bad_response', `HTTP ${status}`);
}

export class Api {
  private csrfToken: string | null;

  constructor(private readonly opts: ApiOptions) {
    this.csrfToken = opts.storage?.getItem(CSRF_STORAGE_KEY) ?? null;
  }

  /** The CSRF token of the current session, if known. */
  get csrf(): string | null {
    return this.csrfToken;
  }

  private setCsrf(v: string | null): void {
    this.csrfToken = v;
    if (v === null) this.opts.storage?.removeItem(CSRF_STORAGE_KEY);
    else this.opts.storage?.setItem(CSRF_STORAGE_KEY, v);
  }

  /** Forgets the session's CSRF token (after sign-out or a 401). */
  forget(): void {
    this.setCsrf(null);
  }

  /** One request; JSON in, JSON (or nothing) out. */
  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    opts: { signedIn?: boolean; contentType?: string } = {},
  ): Promise<T> {
    const signedIn = opts.signedIn ?? true;
    const headers: Record<string, string> = { accept: 'application/json' };
    // With `contentType`, a string body is sent as it is (a CSV file), not as JSON.
    const raw = opts.contentType !== undefined && typeof body === 'string';
    if (method !== 'GET') {
      headers['content-type'] = raw ? (opts.contentType as string) : 'application/json';
      if (this.csrfToken) headers[CSRF_HEADER] = this.csrfToken;
    }
    let res: HttpResponse;
    try {
      res = await this.opts.fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        ...(body === undefined ? {} : { body: raw ? (body as string) : JSON.stringify(body) }),
      });
    } catch {
      throw new ApiError(0, 'network', 'network error');
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      if (res.status === 401 && signedIn) {
        this.forget();
        this.opts.onUnauthorized();
      }
      throw errorOf(res.status, text);
    }
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', 'the server answered something else than JSON');
    }
  }

  /** `POST /api/auth/login` with a cookie session; keeps its CSRF token. */
  async login(username: string, password: string): Promise<LoginView> {
    const v = await this.request<LoginView>(
      'POST',
      '/api/auth/login',
      { username, password, kind: 'session' },
      { signedIn: false },
    );
    this.setCsrf(typeof v.csrf === 'string' ? v.csrf : null);
    return v;
  }

  /** `POST /api/auth/device`: a patrol unit's device token becomes a cookie session. */
  async device(token: string): Promise<LoginView> {
    const v = await this.request<LoginView>('POST', '/api/auth/device', { token }, { signedIn: false });
    this.setCsrf(typeof v.csrf === 'string' ? v.csrf : null);
    return v;
  }

  /** `POST /api/auth/setup`: the one-time setup token creates the first admin. */
  setup(token: string, username: string, password: string): Promise<SetupView> {
    return this.request<SetupView>(
      'POST',
      '/api/auth/setup',
      { token, username, password },
      { signedIn: false },
    );
  }

  /** `GET /api/auth/me`; takes the session's CSRF token when the server sends it. */
  async me(): Promise<MeView> {
    const v = await this.request<MeView>('GET', '/api/auth/me');
    if (typeof v.csrf === 'string' && v.csrf !== '') this.setCsrf(v.csrf);
    return v;
  }

  /** `POST /api/auth/logout`; the CSRF token is forgotten whatever the answer. */
  async logout(): Promise<void> {
    try {
      await this.request<void>('POST', '/api/auth/logout', undefined, { signedIn: false });
    } finally {
      this.forget();
    }
  }

  /** One page of `GET /api/alerts` (newest first). */
  alertsPage(state: string, before?: string): Promise<AlertSummary[]> {
    const q = new URLSearchParams({ state, limit: String(ALERT_PAGE) });
    if (before) q.set('before', before);
    return this.request<AlertSummary[]>('GET', `/api/alerts?${q.toString()}`);
  }

  /** Every open alert the caller sees: each open state, paged. */
  async openAlerts(): Promise<AlertSummary[]> {
    const perState = await Promise.all(
      OPEN_STATES.map(async (state) => {
        const out: AlertSummary[] = [];
        let before: string | undefined;
        for (let page = 0; page < MAX_ALERT_PAGES; page++) {
          const rows = await this.alertsPage(state, before);
          out.push(...rows);
          const last = rows[rows.length - 1];
          if (rows.length < ALERT_PAGE || !last) break;
          before = last.id;
        }
        return out;
      }),
    );
    return perState.flat();
  }

  /** `GET /api/alerts/{id}`. */
  alert(id: string): Promise<AlertDetail> {
    return this.request<AlertDetail>('GET', `/api/alerts/${encodeURIComponent(id)}`);
  }

  /** `POST /api/alerts/{id}/{claim|acknowledge|resolve|false-alarm|escalate}` (body: `ActionBody`). */
  act(id: string, action: Exclude<ActionName, 'note' | 'dispatch'>): Promise<AlertSummary> {
    return this.request<AlertSummary>(
      'POST',
      `/api/alerts/${encodeURIComponent(id)}/${actionPath(action)}`,
      {},
    );
  }

  /** `POST /api/alerts/{id}/note` (body: `NoteBody`). */
  note(id: string, text: string): Promise<{ seq: number }> {
    return this.request<{ seq: number }>('POST', `/api/alerts/${encodeURIComponent(id)}/note`, { text });
  }

  /** `POST /api/alerts/{id}/dispatch` (body: `DispatchBody`). */
  dispatch(id: string, units: string[], text?: string): Promise<DispatchedView> {
    return this.request<DispatchedView>('POST', `/api/alerts/${encodeURIComponent(id)}/dispatch`, {
      units,
      ...(text ? { text } : {}),
    });
  }

  /** `POST /api/alerts` (body: `RaiseBody`): an alert raised by hand. */
  raise(body: RaiseBody): Promise<{ alert: AlertSummary; merged: boolean }> {
    return this.request<{ alert: AlertSummary; merged: boolean }>('POST', '/api/alerts', body);
  }

  /** `GET /api/cameras/{id}/ptz`. */
  ptz(camera: string): Promise<PtzView> {
    return this.request<PtzView>('GET', `/api/cameras/${encodeURIComponent(camera)}/ptz`);
  }

  /** `POST /api/cameras/{id}/ptz/…`: one PTZ command; the camera's PTZ after it. */
  ptzCommand(camera: string, c: PtzCommand): Promise<PtzView> {
    const base = `/api/cameras/${encodeURIComponent(camera)}/ptz`;
    switch (c.kind) {
      case 'move':
        return this.request<PtzView>('POST', `${base}/move`, { pan: c.pan, tilt: c.tilt, zoom: c.zoom });
      case 'preset':
        return this.request<PtzView>('POST', `${base}/presets/${encodeURIComponent(c.token)}`);
      default:
        return this.request<PtzView>('POST', `${base}/${c.kind}`);
    }
  }

  /** `GET /api/units[?alert=ID]`: every unit, and with an alert the nearest available ones. */
  units(alert?: string): Promise<UnitsView> {
    const q = alert ? `?alert=${encodeURIComponent(alert)}` : '';
    return this.request<UnitsView>('GET', `/api/units${q}`);
  }

  /** `GET /api/units/me/alerts`: the calling unit and its open dispatches. */
  myAlerts(): Promise<MyAlertsView> {
    return this.request<MyAlertsView>('GET', '/api/units/me/alerts');
  }

  /** `POST /api/units/me/receipts` (body: `ReceiptBody`). */
  receipt(alert: string, kind: ReceiptKind, receiptId: string): Promise<unknown> {
    return this.request<unknown>('POST', '/api/units/me/receipts', {
      receipt_id: receiptId,
      alert,
      kind,
    });
  }

  /** `GET /api/push/key`. */
  pushKey(): Promise<PushKeyView> {
    return this.request<PushKeyView>('GET', '/api/push/key');
  }

  /** `GET /api/hotspots` (names). */
  hotspots(): Promise<HotspotInfo[]> {
    return this.request<HotspotInfo[]>('GET', '/api/hotspots');
  }

  /** `GET /api/cameras` (names). */
  cameras(): Promise<NamedThing[]> {
    return this.request<NamedThing[]>('GET', '/api/cameras');
  }

  /** `GET /api/rules` (kinds). */
  rules(): Promise<RuleInfo[]> {
    return this.request<RuleInfo[]>('GET', '/api/rules');
  }
}
