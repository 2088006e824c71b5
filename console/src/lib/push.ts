// Verification of signed push messages: the browser's port of `roeh_alerts::push::PushVerifier`
// (crates/roeh-alerts/src/push.rs; design in docs/design/0008-alerts-and-push.md).
//
// On the wire a message is `{"v":1,"key":ID,"msg":BODY,"sig":HEX}`: `msg` is the body as JSON
// text, `sig` the Ed25519 signature of "roeh/push/v1\n" followed by exactly the UTF-8 bytes of
// `msg`. The body carries `seq`, `issued_at` and `expires_at`; the rest is the alert event.
//
// Invariants (the same as the server's verifier, checked in the same order):
// - `check` accepts a message only if the envelope parses (an object with exactly `v`, `key`,
//   `msg`, `sig`; `v` = 1), names the trusted key, its signature holds over the received bytes,
//   the body carries `seq`, `issued_at` and `expires_at`, and `now` lies within
//   `[issued_at - skew, expires_at]` and no further than this client's `maxAge` from `issued_at`;
// - `accept` additionally accepts each seq at most once and only in increasing order; its whole
//   memory is the last accepted seq; calls are processed in call order even though WebCrypto
//   is asynchronous;
// - a rejected message changes nothing in the verifier;
// - nothing but a verified body is parsed beyond the envelope.
//
// Known, deliberate differences from serde's parser (none lets an unsigned byte through): the
// array form of the envelope (`[1,"key","msg","sig"]`, which serde would take) is refused;
// duplicate object keys, a `v` or `seq` written as `1.0`, and lone UTF-16 surrogate escapes are
// read the way `JSON.parse` reads them; a `seq` above 2^53 - 1 is refused as malformed.

import { base64ToBytes, concat, hexToBytes, toHex, utf8 } from './bytes';
import { type Micros, parseWallTime } from './time';

/** Domain separation: the signed bytes are this prefix followed by the body's JSON text. */
export const PUSH_CONTEXT = 'roeh/push/v1\n';
/** Prefix of the key id hash. */
export const KEY_ID_CONTEXT = 'roeh/push-key/v1\0';
/** The envelope version the server writes. */
export const ENVELOPE_VERSION = 1;
/** Largest envelope read, bytes (UTF-8). */
export const MAX_ENVELOPE_BYTES = 1 << 20;
/** Allowed clock skew between server and client, microseconds (the server's default: 5 s). */
export const DEFAULT_CLOCK_SKEW_US = 5_000_000;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows. */
const ED25519_SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/** Why a message was refused (`roeh_alerts::push::Rejected`). */
export type Rejected =
  | { kind: 'malformed'; why: string }
  | { kind: 'unknown_key'; key: string }
  | { kind: 'bad_signature' }
  | { kind: 'expired'; seq: number }
  | { kind: 'from_the_future'; seq: number }
  | { kind: 'replayed'; seq: number; last: number };

/** A message that passed every check. */
export interface Accepted {
  /** Its sequence number. */
  seq: number;
  /** The verified body, JSON text. */
  body: string;
}

/** The outcome of a check. */
export type Verdict = { ok: true; value: Accepted } | { ok: false; error: Rejected };

/** The refusal as the server's `Display` writes it (for logs and the console). */
export function describeRejected(r: Rejected): string {
  switch (r.kind) {
    case 'malformed':
      return `malformed push message: ${r.why}`;
    case 'unknown_key':
      return `push message signed with unknown key ${JSON.stringify(r.key)}`;
    case 'bad_signature':
      return 'push message signature does not verify';
    case 'expired':
      return `push message ${r.seq} has expired`;
    case 'from_the_future':
      return `push message ${r.seq} is issued in the future`;
    case 'replayed':
      return `push message ${r.seq} already seen (last accepted ${r.last})`;
  }
}

/** The 32-byte Ed25519 public key of an SPKI PEM (`-----BEGIN PUBLIC KEY-----`); `null` if it
 * is not exactly one. */
export function publicKeyFromPem(pem: string): Uint8Array<ArrayBuffer> | null {
  const m = /^\s*-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END PUBLIC KEY-----\s*$/.exec(
    pem,
  );
  if (!m || m[1] === undefined) return null;
  const der = base64ToBytes(m[1].replace(/[\r\n]/g, ''));
  if (!der || der.length !== ED25519_SPKI_PREFIX.length + 32) return null;
  for (let i = 0; i < ED25519_SPKI_PREFIX.length; i++) {
    if (der[i] !== ED25519_SPKI_PREFIX[i]) return null;
  }
  return der.slice(ED25519_SPKI_PREFIX.length);
}

/** The key id: the first 8 bytes of SHA-256("roeh/push-key/v1\0" ‖ public key), hex. */
export async function keyIdOf(subtle: SubtleCrypto, raw: Uint8Array): Promise<string> {
  const digest = await subtle.digest('SHA-256', concat(utf8(KEY_ID_CONTEXT), raw));
  return toHex(new Uint8Array(digest).slice(0, 8));
}

interface Envelope {
  v: number;
  key: string;
  msg: string;
  sig: string;
}

const ENVELOPE_FIELDS = ['v', 'key', 'msg', 'sig'] as const;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The envelope, or why it is not one (serde's `deny_unknown_fields` struct, object form). */
function parseEnvelope(text: string): Envelope | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `not an envelope: ${e instanceof Error ? e.message : 'bad JSON'}`;
  }
  if (!isObject(raw)) return 'not an envelope: expected an object';
  for (const k of Object.keys(raw)) {
    if (!(ENVELOPE_FIELDS as readonly string[]).includes(k)) {
      return `not an envelope: unknown field ${JSON.stringify(k)}`;
    }
  }
  for (const f of ENVELOPE_FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(raw, f)) return `not an envelope: missing field ${f}`;
  }
  const { v, key, msg, sig } = raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
    return 'not an envelope: v is not a u8';
  }
  if (typeof key !== 'string' || typeof msg !== 'string' || typeof sig !== 'string') {
    return 'not an envelope: key, msg and sig must be strings';
  }
  return { v, key, msg, sig };
}

/** What a receiving client runs on each push message before acting on it. */
export class PushVerifier {
  private last: number | null = null;
  private skewUs = DEFAULT_CLOCK_SKEW_US;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly subtle: SubtleCrypto,
    private readonly key: CryptoKey,
    /** The trusted key's id. */
    readonly keyId: string,
    private readonly maxAgeUs: Micros,
  ) {}

  /**
   * A verifier trusting the SPKI PEM `publicPem` that refuses messages older than `maxAgeUs`
   * (from their `issued_at`) even if their own expiry is later. Allowed clock skew: 5 s.
   * Throws if the PEM is not an Ed25519 public key.
   */
  static async fromPublicPem(
    subtle: SubtleCrypto,
    publicPem: string,
    maxAgeUs: Micros,
  ): Promise<PushVerifier> {
    const raw = publicKeyFromPem(publicPem);
    if (!raw) throw new Error('the push public key is not an Ed25519 SPKI PEM key');
    const key = await subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
    return new PushVerifier(subtle, key, await keyIdOf(subtle, raw), maxAgeUs);
  }

  /** The same verifier allowing `skewUs` between the server's clock and this client's. */
  withClockSkew(skewUs: Micros): PushVerifier {
    this.skewUs = skewUs;
    return this;
  }

  /** The highest seq accepted so far: where to resume (`?since=`). */
  lastSeq(): number | null {
    return this.last;
  }

  /** Treats every seq up to `seq` as seen (a client that kept its position). */
  resumeAfter(seq: number): void {
    this.last = this.last === null ? seq : Math.max(this.last, seq);
  }

  /** Checks envelope, key, signature and freshness at `now`, remembering nothing. */
  async check(text: string, now: Micros): Promise<Verdict> {
    const malformed = (why: string): Verdict => ({ ok: false, error: { kind: 'malformed', why } });
    // UTF-8 length without encoding: at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > MAX_ENVELOPE_BYTES && utf8(text).length > MAX_ENVELOPE_BYTES) {
      return malformed('envelope too large');
    }
    const env = parseEnvelope(text);
    if (typeof env === 'string') return malformed(env);
    if (env.v !== ENVELOPE_VERSION) return malformed(`unknown version ${env.v}`);
    if (env.key !== this.keyId) return { ok: false, error: { kind: 'unknown_key', key: env.key } };
    const sig = hexToBytes(env.sig, 64);
    if (!sig) return { ok: false, error: { kind: 'bad_signature' } };
    let good = false;
    try {
      good = await this.subtle.verify(
        { name: 'Ed25519' },
        this.key,
        sig,
        concat(utf8(PUSH_CONTEXT), utf8(env.msg)),
      );
    } catch {
      good = false;
    }
    if (!good) return { ok: false, error: { kind: 'bad_signature' } };
    // Only a verified body is parsed further.
    let body: unknown;
    try {
      body = JSON.parse(env.msg);
    } catch (e) {
      return malformed(`body: ${e instanceof Error ? e.message : 'bad JSON'}`);
    }
    if (!isObject(body)) return malformed('body: expected an object');
    const { seq, issued_at: issuedAt, expires_at: expiresAt } = body;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      return malformed('body: seq is missing or not a sequence number');
    }
    if (typeof issuedAt !== 'string') return malformed('body: issued_at is missing');
    if (typeof expiresAt !== 'string') return malformed('body: expires_at is missing');
    const issued = parseWallTime(issuedAt);
    if (issued === null) return malformed('issued_at is not RFC 3339');
    const expires = parseWallTime(expiresAt);
    if (expires === null) return malformed('expires_at is not RFC 3339');
    if (issued - this.skewUs > now) {
      return { ok: false, error: { kind: 'from_the_future', seq } };
    }
    if (now > expires || now - issued > this.maxAgeUs) {
      return { ok: false, error: { kind: 'expired', seq } };
    }
    return { ok: true, value: { seq, body: env.msg } };
  }

  /**
   * The replay rule alone, for a message `check` accepted: refuses a seq at or below the last
   * accepted one; otherwise it becomes the last accepted one.
   */
  admit(a: Accepted): Verdict {
    if (this.last !== null && a.seq <= this.last) {
      return { ok: false, error: { kind: 'replayed', seq: a.seq, last: this.last } };
    }
    this.last = a.seq;
    return { ok: true, value: a };
  }

  /** `check`, then `admit`; concurrent calls are decided in call order. */
  accept(text: string, now: Micros): Promise<Verdict> {
    const run = this.tail.then(async () => {
      const v = await this.check(text, now);
      return v.ok ? this.admit(v.value) : v;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
