// The one push client: fetches the site's push key, opens `GET /api/push/ws?since=SEQ`, verifies
// every message, keeps the order by seq, resyncs, and hands the app verified bodies and full
// snapshots. Every effect (socket, HTTP, timers, clock) is injected, so it runs under Node's test
// runner with a fake server.
//
// Invariants:
// - nothing reaches the app that `PushVerifier` has not accepted (key, signature, freshness,
//   order); the verifier is built from the key fetched at each (re)connect, and the key id the
//   server names must be the one computed from the key itself;
// - messages are processed one at a time in arrival order;
// - on every (re)connect, once the socket is open, the open alerts are re-fetched; messages that
//   arrive meanwhile are held and applied after the snapshot, in order, so the snapshot never
//   undoes a newer message;
// - a lost connection shows as `reconnecting` at once and is retried with back-off, resuming
//   with `since=<last applied seq>`; a gap, an expired or a refused message reopens the stream
//   the same way (rules in ./resync.ts);
// - events of an old socket are ignored once a new one is opened or the client is stopped;
// - where the browser has no Ed25519 in WebCrypto, no push message is used at all: the state is
//   `unsupported` and the list is polled instead.

import type { AlertSummary, PushBody } from './alerts';
import { parsePushBody } from './alerts';
import type { PushKeyView } from './api';
import { PushVerifier, type Rejected } from './push';
import {
  HEALTHY_AFTER_MS,
  type StreamPosition,
  applied,
  backoffMs,
  onAccepted,
  onRejected,
  opened,
  pushUrl,
  refused,
} from './resync';
import { msToMicros } from './time';

/** What the header shows. */
export type ConnState = 'connecting' | 'live' | 'reconnecting' | 'unsupported' | 'stopped';

/** The parts of a WebSocket the client uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface PushClientDeps {
  /** WebCrypto; `null` where the page is not a secure context. */
  subtle: SubtleCrypto | null;
  openSocket(url: string): SocketLike;
  fetchKey(): Promise<PushKeyView>;
  fetchOpen(): Promise<AlertSummary[]>;
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(h: unknown): void;
  random(): number;
  location: { protocol: string; host: string };
  /** The client's own limit on a message's age, microseconds. */
  maxAgeUs: number;
  /** How often the list is re-read while live (a safety net against a silent dead socket), ms. */
  refreshEveryMs?: number;
  /** How often the list is polled where push cannot be verified, ms. */
  pollEveryMs?: number;
}

export interface PushClientEvents {
  onState(s: ConnState): void;
  /** A full list of open alerts (replace the queue). */
  onSnapshot(list: AlertSummary[]): void;
  /** A verified message, in seq order. */
  onMessage(body: PushBody): void;
  /** A refused message (counted and shown). */
  onRefused(r: Rejected): void;
  /** Whether messages keep being refused as stale: this computer's clock may be wrong. */
  onClockSuspect(suspect: boolean): void;
}

/** Stale refusals in a row before the clock is suspected. */
const CLOCK_SUSPECT_AFTER = 3;

export class PushClient {
  private state: ConnState = 'stopped';
  private gen = 0;
  private socket: SocketLike | null = null;
  private verifier: PushVerifier | null = null;
  private pos: StreamPosition = opened(null);
  private last: number | null = null;
  private attempt = 0;
  private openedAt = 0;
  private timer: unknown = null;
  private refreshTimer: unknown = null;
  private queue: Promise<void> = Promise.resolve();
  private syncing = false;
  private held: PushBody[] = [];
  private staleInARow = 0;

  constructor(
    private readonly deps: PushClientDeps,
    private readonly events: PushClientEvents,
  ) {}

  /** The seq of the last applied message. */
  get lastSeq(): number | null {
    return this.last;
  }

  /** The connection state. */
  get connState(): ConnState {
    return this.state;
  }

  /** Forgets the stream position (another user signs in): the next start resumes nowhere. */
  reset(): void {
    this.stop();
    this.last = null;
  }

  /** Starts (or restarts) the stream, resuming after the last applied seq if any. */
  start(): void {
    this.stop();
    this.gen++;
    this.attempt = 0;
    this.setState('connecting');
    void this.connect(this.gen);
  }

  /** Closes the stream; nothing is delivered afterwards. */
  stop(): void {
    this.gen++;
    this.clearTimers();
    this.dropSocket();
    this.syncing = false;
    this.held = [];
    this.setState('stopped');
  }

  /** Re-reads the open alerts now (with the hold-and-replay rule), e.g. after an action failed. */
  refresh(): void {
    if (this.state === 'live' || this.state === 'unsupported') void this.snapshot(this.gen);
  }

  private setState(s: ConnState): void {
    if (this.state === s) return;
    this.state = s;
    this.events.onState(s);
  }

  private clearTimers(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    if (this.refreshTimer !== null) this.deps.clearTimer(this.refreshTimer);
    this.timer = null;
    this.refreshTimer = null;
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, 'resync');
      } catch {
        // Closing a socket that never opened may throw in some browsers; it is gone either way.
      }
    }
  }

  /** Schedules the next connection attempt with back-off (`immediate`: without delay). */
  private reconnect(gen: number, immediate = false): void {
    if (gen !== this.gen) return;
    this.gen++;
    const next = this.gen;
    this.clearTimers();
    this.dropSocket();
    this.syncing = false;
    this.held = [];
    this.setState('reconnecting');
    if (this.openedAt > 0 && this.deps.now() - this.openedAt >= HEALTHY_AFTER_MS) this.attempt = 0;
    this.openedAt = 0;
    const delay = immediate && this.attempt === 0 ? 0 : backoffMs(this.attempt, this.deps.random());
    this.attempt++;
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      void this.connect(next);
    }, delay);
  }

  private async connect(gen: number): Promise<void> {
    const subtle = this.deps.subtle;
    if (!subtle) {
      this.unsupported(gen);
      return;
    }
    let verifier: PushVerifier;
    try {
      const key = await this.deps.fetchKey();
      if (gen !== this.gen) return;
      verifier = await PushVerifier.fromPublicPem(subtle, key.public_key, this.deps.maxAgeUs);
      if (verifier.keyId !== key.key_id) throw new Error('the push key id does not match its key');
    } catch (e) {
      if (gen !== this.gen) return;
      // DOMException is not an Error everywhere: look at the name only.
      if ((e as { name?: unknown } | null)?.name === 'NotSupportedError') {
        this.unsupported(gen);
        return;
      }
      this.reconnect(gen);
      return;
    }
    if (gen !== this.gen) return;
    if (this.last !== null) verifier.resumeAfter(this.last);
    this.verifier = verifier;
    this.pos = opened(this.last);
    let socket: SocketLike;
    try {
      socket = this.deps.openSocket(pushUrl(this.deps.location, this.last));
    } catch {
      this.reconnect(gen);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (gen !== this.gen) return;
      this.openedAt = this.deps.now();
      void this.snapshot(gen);
      this.scheduleRefresh(gen);
    };
    socket.onmessage = (ev) => {
      if (gen !== this.gen) return;
      const data = ev.data;
      this.queue = this.queue.then(() => this.handle(gen, data)).catch(() => undefined);
    };
    socket.onclose = () => this.reconnect(gen);
    socket.onerror = () => this.reconnect(gen);
  }

  private unsupported(gen: number): void {
    this.setState('unsupported');
    const poll = (): void => {
      if (gen !== this.gen) return;
      void this.snapshot(gen).finally(() => {
        if (gen === this.gen) this.refreshTimer = this.deps.setTimer(poll, this.deps.pollEveryMs ?? 5000);
      });
    };
    poll();
  }

  private scheduleRefresh(gen: number): void {
    const every = this.deps.refreshEveryMs ?? 60_000;
    this.refreshTimer = this.deps.setTimer(() => {
      if (gen !== this.gen) return;
      void this.snapshot(gen).finally(() => this.scheduleRefresh(gen));
    }, every);
  }

  /** Reads the open alerts, holding messages meanwhile; a failure reopens the stream. */
  private async snapshot(gen: number): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    this.held = [];
    let list: AlertSummary[];
    try {
      list = await this.deps.fetchOpen();
    } catch {
      if (gen !== this.gen) return;
      this.syncing = false;
      if (this.state !== 'unsupported') this.reconnect(gen);
      return;
    }
    if (gen !== this.gen) return;
    this.events.onSnapshot(list);
    const held = this.held;
    this.held = [];
    this.syncing = false;
    for (const b of held) this.events.onMessage(b);
    if (this.state !== 'unsupported') this.setState('live');
  }

  private async handle(gen: number, data: unknown): Promise<void> {
    const verifier = this.verifier;
    if (gen !== this.gen || !verifier) return;
    const text = typeof data === 'string' ? data : '';
    const v = await verifier.check(text, msToMicros(this.deps.now()));
    if (gen !== this.gen) return;
    if (!v.ok) {
      const what = onRejected(v.error);
      if (what.do === 'ignore') return;
      this.events.onRefused(v.error);
      this.pos = refused(this.pos);
      if (what.why === 'stale') {
        this.staleInARow++;
        if (this.staleInARow >= CLOCK_SUSPECT_AFTER) this.events.onClockSuspect(true);
      }
      this.reconnect(gen, what.why === 'stale');
      return;
    }
    const d = onAccepted(this.pos, v.value.seq);
    if (d.do === 'ignore') return;
    if (d.do === 'resync') {
      // Reconnecting with since=last re-reads the list too (on open).
      this.reconnect(gen, true);
      return;
    }
    const admitted = verifier.admit(v.value);
    if (!admitted.ok) return;
    this.pos = applied(this.pos, v.value.seq);
    this.last = v.value.seq;
    if (this.staleInARow > 0) {
      this.staleInARow = 0;
      this.events.onClockSuspect(false);
    }
    const body = parsePushBody(v.value.body);
    if (!body) {
      // Signed by the server but not what this console understands: re-read the list.
      void this.snapshot(gen);
      return;
    }
    if (this.syncing) this.held.push(body);
    else this.events.onMessage(body);
  }
}
