// Live video's wire format and the player's decisions, without the DOM (tested under Node).
//
// Wire format (crates/roeh-api/src/live.rs): each binary WebSocket message is a 4-byte
// big-endian header length, a JSON header, then fragmented MP4 bytes. `init` headers carry
// `codec`, `width`, `height` before an initialisation segment; `frame` headers carry `t` (decode
// time, 90 kHz), `wall` (when roeh received the picture, µs since 1970) and `key` before one
// picture's moof+mdat.
//
// Invariants:
// - a message that does not parse is refused whole (null), never half-appended;
// - the player never falls more than JUMP_BEHIND_S behind the newest picture it holds: beyond
//   that it jumps; between CATCH_UP_S and that it plays faster; otherwise at normal speed;
// - the buffer behind the playhead is trimmed to KEEP_BEHIND_S so a tile can run all shift.

/** Media timescale of `t`. */
export const TIMESCALE = 90_000;
/** Behind the newest picture by more than this: jump to it. */
export const JUMP_BEHIND_S = 3;
/** Behind by more than this: play a little faster until caught up. */
export const CATCH_UP_S = 0.6;
/** Playback rate while catching up. */
export const CATCH_UP_RATE = 1.15;
/** Where a jump lands, before the newest picture (enough to keep playing smoothly). */
export const JUMP_TO_BEHIND_S = 0.15;
/** Seconds of played video kept in the buffer. */
export const KEEP_BEHIND_S = 20;

export type LiveHeader =
  | { kind: 'init'; codec: string; width: number; height: number }
  | { kind: 'frame'; t: number; wall: number; key: boolean };

export interface LiveMessage {
  header: LiveHeader;
  /** The MP4 bytes (a view into the message). */
  body: Uint8Array<ArrayBuffer>;
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Parses one binary message; null when it is not a well-formed live message. */
export function parseLiveMessage(buf: ArrayBuffer): LiveMessage | null {
  if (buf.byteLength < 4) return null;
  const n = new DataView(buf).getUint32(0, false);
  if (n === 0 || n > 4096 || 4 + n > buf.byteLength) return null;
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  } catch {
    return null;
  }
  if (typeof h !== 'object' || h === null) return null;
  const o = h as Record<string, unknown>;
  const body = new Uint8Array(buf, 4 + n);
  if (body.byteLength === 0) return null;
  if (o.kind === 'init') {
    if (typeof o.codec !== 'string' || !isNum(o.width) || !isNum(o.height)) return null;
    return { header: { kind: 'init', codec: o.codec, width: o.width, height: o.height }, body };
  }
  if (o.kind === 'frame') {
    if (!isNum(o.t) || !isNum(o.wall) || typeof o.key !== 'boolean') return null;
    return { header: { kind: 'frame', t: o.t, wall: o.wall, key: o.key }, body };
  }
  return null;
}

/** The MIME type a SourceBuffer needs for `codec`. */
export function mimeOf(codec: string): string {
  return `video/mp4; codecs="${codec}"`;
}

/** What the player should do, given where it plays and the newest buffered time. */
export interface CatchUp {
  /** Jump to this time, if set. */
  seek?: number;
  /** Playback rate to use. */
  rate: number;
}

/** Keeps a live player near the newest picture (see the invariants above). */
export function catchUp(currentTime: number, bufferedEnd: number): CatchUp {
  const behind = bufferedEnd - currentTime;
  if (behind > JUMP_BEHIND_S) {
    return { seek: Math.max(0, bufferedEnd - JUMP_TO_BEHIND_S), rate: 1 };
  }
  if (behind > CATCH_UP_S) return { rate: CATCH_UP_RATE };
  return { rate: 1 };
}

/** The range to remove from the buffer, if any: everything older than KEEP_BEHIND_S. */
export function trimRange(currentTime: number, bufferedStart: number): [number, number] | null {
  const end = currentTime - KEEP_BEHIND_S;
  return end > bufferedStart + 1 ? [bufferedStart, end] : null;
}

/**
 * Maps media time back to the wall time roeh received each picture, for the "behind live"
 * figure and the latency benchmark. Keeps the last `cap` pictures.
 */
export class WallMap {
  private readonly times: number[] = [];
  private readonly walls: number[] = [];

  constructor(private readonly cap = 600) {}

  /** Records a picture: media time `t` (90 kHz) received at `wall` (µs). */
  add(t: number, wall: number): void {
    this.times.push(t / TIMESCALE);
    this.walls.push(wall);
    if (this.times.length > this.cap) {
      this.times.shift();
      this.walls.shift();
    }
  }

  /** When roeh received the picture shown at `seconds` of media time (µs), if known. */
  wallAt(seconds: number): number | null {
    // The last picture that starts at or before `seconds` (small tolerance for rounding).
    let lo = 0;
    let hi = this.times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.times[mid];
      if (v !== undefined && v <= seconds + 1e-4) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? null : (this.walls[found] ?? null);
  }
}

/** `ws:` or `wss:` URL of a camera's live stream, on the page's own origin; `sub` asks for the
 * camera's second, smaller stream (grids), which the server answers with the main one where the
 * camera has none. */
export function liveUrl(loc: { protocol: string; host: string }, camera: string, stream: 'main' | 'sub' = 'main'): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = stream === 'sub' ? '?stream=sub' : '';
  return `${scheme}//${loc.host}/api/cameras/${encodeURIComponent(camera)}/live${q}`;
}
