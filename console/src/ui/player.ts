// One live player: a WebSocket of fragmented MP4 (crates/roeh-api/src/live.rs) fed into a
// <video> through Media Source Extensions. Browser-only; the decisions it takes are in
// ../lib/live.ts (tested under Node).
//
// Invariants:
// - one append at a time, in arrival order; a refused message is dropped whole;
// - the player stays near live (catchUp) and trims what it has played (trimRange);
// - a closed socket shows "reconnecting" and starts again after a back-off, with a new
//   MediaSource (the server's timeline starts again for each connection);
// - `stop()` releases everything: socket, MediaSource, object URL, timers.

import { catchUp, JUMP_TO_BEHIND_S, liveUrl, mimeOf, parseLiveMessage, trimRange, WallMap } from '../lib/live';

export type PlayerState = 'connecting' | 'playing' | 'reconnecting' | 'unsupported';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** Most messages waiting for the SourceBuffer; beyond that the oldest are dropped to the next
 * key frame (the socket delivers faster than the decoder takes, which happens only when the tab
 * was starved). */
const MAX_QUEUE = 120;

interface Pending {
  body: Uint8Array<ArrayBuffer>;
  key: boolean;
}

export class LivePlayer {
  private ws: WebSocket | null = null;
  private ms: MediaSource | null = null;
  private sb: SourceBuffer | null = null;
  private url: string | null = null;
  private codec: string | null = null;
  private queue: Pending[] = [];
  private retryMs = RETRY_MIN_MS;
  private retryTimer: number | undefined;
  private started = false;
  private stopped = true;
  private frameCb: number | undefined;
  readonly wall = new WallMap();
  /** When roeh received the picture on screen (µs), updated once per presented picture. */
  shownWall: number | null = null;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly camera: string,
    private readonly onState: (s: PlayerState) => void,
    private readonly stream: 'main' | 'sub' = 'main',
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open('connecting');
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    this.teardown();
  }

  private open(state: PlayerState): void {
    this.onState(state);
    const ms = new MediaSource();
    this.ms = ms;
    this.url = URL.createObjectURL(ms);
    this.video.src = this.url;
    ms.addEventListener('sourceopen', () => this.connect(ms), { once: true });
  }

  private connect(ms: MediaSource): void {
    if (this.stopped || ms !== this.ms) return;
    const ws = new WebSocket(liveUrl(location, this.camera, this.stream));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) this.onMessage(e.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.teardown();
      this.onState('reconnecting');
      this.retryTimer = window.setTimeout(() => {
        if (!this.stopped) this.open('reconnecting');
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }

  private onMessage(buf: ArrayBuffer): void {
    const m = parseLiveMessage(buf);
    if (!m || !this.ms || this.ms.readyState !== 'open') return;
    if (m.header.kind === 'init') {
      const mime = mimeOf(m.header.codec);
      if (!MediaSource.isTypeSupported(mime)) {
        this.onState('unsupported');
        this.stop();
        return;
      }
      try {
        if (!this.sb) {
          this.sb = this.ms.addSourceBuffer(mime);
          this.sb.mode = 'segments';
          this.sb.addEventListener('updateend', () => this.afterAppend());
        } else if (m.header.codec !== this.codec) {
          this.sb.changeType(mime);
        }
      } catch {
        this.onState('unsupported');
        this.stop();
        return;
      }
      this.codec = m.header.codec;
      this.enqueue({ body: m.body, key: true });
      return;
    }
    this.wall.add(m.header.t, m.header.wall);
    this.enqueue({ body: m.body, key: m.header.key });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (this.queue.length > MAX_QUEUE) {
      // Keep the newest key frame onwards.
      let k = -1;
      for (let i = this.queue.length - 1; i >= 0; i--) {
        if (this.queue[i]?.key) {
          k = i;
          break;
        }
      }
      this.queue = k > 0 ? this.queue.slice(k) : this.queue.slice(-1);
    }
    this.pump();
  }

  private pump(): void {
    const sb = this.sb;
    if (!sb || sb.updating) return;
    const next = this.queue.shift();
    if (!next) return;
    try {
      sb.appendBuffer(next.body);
    } catch {
      // Full (QuotaExceededError) or closed: make room and drop this picture; the decoder
      // resumes at the next key frame.
      const b = this.video.buffered;
      if (b.length > 0 && !sb.updating) {
        try {
          sb.remove(b.start(0), Math.max(b.start(0) + 1, this.video.currentTime - 1));
        } catch {
          // Nothing more to do; the next append tries again.
        }
      }
    }
  }

  private afterAppend(): void {
    const sb = this.sb;
    const b = this.video.buffered;
    if (sb && !sb.updating && b.length > 0) {
      const end = b.end(b.length - 1);
      if (!this.started) {
        this.started = true;
        this.retryMs = RETRY_MIN_MS;
        this.video.currentTime = Math.max(b.start(b.length - 1), end - JUMP_TO_BEHIND_S);
        void this.video.play().catch(() => undefined);
        this.watchFrames();
        this.onState('playing');
      } else {
        const c = catchUp(this.video.currentTime, end);
        if (c.seek !== undefined) this.video.currentTime = c.seek;
        if (this.video.playbackRate !== c.rate) this.video.playbackRate = c.rate;
        if (this.video.paused) void this.video.play().catch(() => undefined);
      }
      const trim = trimRange(this.video.currentTime, b.start(0));
      if (trim) {
        sb.remove(trim[0], trim[1]);
        return;
      }
    }
    this.pump();
  }

  /** Follows the presented pictures (requestVideoFrameCallback where the browser has it). */
  private watchFrames(): void {
    const v = this.video;
    if (typeof v.requestVideoFrameCallback !== 'function') return;
    const cb = (_now: number, meta: VideoFrameCallbackMetadata) => {
      const w = this.wall.wallAt(meta.mediaTime);
      if (w !== null) {
        this.shownWall = w;
        // Milliseconds between roeh receiving the picture and the browser presenting it
        // (the same clock on one machine; the live latency benchmark reads it).
        v.dataset.behindMs = String(Math.round(performance.timeOrigin + meta.expectedDisplayTime - w / 1000));
      }
      if (!this.stopped) this.frameCb = v.requestVideoFrameCallback(cb);
    };
    this.frameCb = v.requestVideoFrameCallback(cb);
  }

  private teardown(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.close();
    }
    if (this.frameCb !== undefined && typeof this.video.cancelVideoFrameCallback === 'function') {
      this.video.cancelVideoFrameCallback(this.frameCb);
    }
    this.frameCb = undefined;
    this.queue = [];
    this.sb = null;
    this.codec = null;
    this.started = false;
    if (this.ms && this.ms.readyState === 'open') {
      try {
        this.ms.endOfStream();
      } catch {
        // Already ending.
      }
    }
    this.ms = null;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.video.removeAttribute('src');
    this.video.load();
  }
}
