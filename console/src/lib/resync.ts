// The push stream's position and what to do with each message: pure decisions, no I/O.
//
// The server (crates/roeh-api/src/push.rs) replays every event after `since` from the store,
// then follows the live broadcast, each seq once and in order; events an operator may not see
// (out of scope) are skipped but still advance the server's position, so a client may see a
// jump in seq that hides nothing it could have seen.
//
// Invariants:
// - the position (`last`) is the seq of the last message applied; it only grows, and only when
//   a verified message is applied;
// - a jump in seq on a live stream (`seq > last + 1`) is a gap: the message is not applied; the
//   client re-fetches the list and reconnects with `since=last`. The first message of a stream
//   opened with `since=last` is applied even after a jump: the server read that range from the
//   store, so the hole is events hidden from this operator (this also makes a gap resync end
//   instead of repeating forever). A refused message on the stream takes that trust away;
// - a replayed or reordered message is dropped quietly; an expired one (or one from the
//   future) means: reconnect with `since=last` and get it signed afresh; a forged, malformed or
//   foreign-key message is refused, counted, and the stream is reopened with `since=last`
//   (with back-off), so a refused message is never skipped silently.

import type { Rejected } from './push';

/** What the stream knows about its position. */
export interface StreamPosition {
  /** Seq of the last applied message; `null` before the first one. */
  last: number | null;
  /** The `since` the current connection was opened with; `null` when opened without. */
  since: number | null;
  /** Whether the current connection has delivered nothing yet (nor anything refused). */
  fresh: boolean;
}

/** A new position for a connection opened now. */
export function opened(last: number | null): StreamPosition {
  return { last, since: last, fresh: true };
}

/** What to do with a message the verifier accepted (its signature and freshness hold). */
export type OnAccepted = { do: 'apply' } | { do: 'ignore' } | { do: 'resync'; last: number };

/** Decides on a verified message with sequence number `seq`. */
export function onAccepted(p: StreamPosition, seq: number): OnAccepted {
  if (p.last === null) return { do: 'apply' };
  if (seq <= p.last) return { do: 'ignore' };
  if (seq === p.last + 1) return { do: 'apply' };
  // A jump: trusted only as the first message of a stream the server replayed from `last`.
  if (p.fresh && p.since === p.last) return { do: 'apply' };
  return { do: 'resync', last: p.last };
}

/** The position after applying `seq`. */
export function applied(p: StreamPosition, seq: number): StreamPosition {
  return { last: seq, since: p.since, fresh: false };
}

/** What to do about a refused message. */
export type OnRejected =
  | { do: 'ignore' }
  | { do: 'reconnect'; why: 'stale' | 'refused'; clock: boolean };

/** Decides on a refused message. */
export function onRejected(r: Rejected): OnRejected {
  switch (r.kind) {
    case 'replayed':
      return { do: 'ignore' };
    case 'expired':
      return { do: 'reconnect', why: 'stale', clock: false };
    case 'from_the_future':
      return { do: 'reconnect', why: 'stale', clock: true };
    case 'bad_signature':
    case 'unknown_key':
    case 'malformed':
      return { do: 'reconnect', why: 'refused', clock: false };
  }
}

/** The position after a refused message: the stream no longer vouches for a jump. */
export function refused(p: StreamPosition): StreamPosition {
  return { ...p, fresh: false };
}

/** Back-off before reconnect attempt `attempt` (0, 1, …), ms: 1 s doubling to 30 s, with a
 * random spread of ±25 % from `rand` (a number in [0, 1)). */
export function backoffMs(attempt: number, rand: number): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 15));
  return Math.round(base * (0.75 + 0.5 * rand));
}

/** After how long a connection counts as healthy, so the back-off starts over, ms. */
export const HEALTHY_AFTER_MS = 10_000;

/** The WebSocket URL of the push stream for a page at `loc`, resuming after `last`. */
export function pushUrl(loc: { protocol: string; host: string }, last: number | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = last === null ? '' : `?since=${last}`;
  return `${scheme}//${loc.host}/api/push/ws${q}`;
}
