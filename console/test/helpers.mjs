// Shared test helpers: the compiled library, WebCrypto (Node 18 has no global `crypto`), and a
// signer that writes push envelopes exactly as the server does
// (`roeh_alerts::push::PushSigner::seal`, crates/roeh-alerts/src/push.rs).

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.ROEH_CONSOLE_LIB;
if (!dir) throw new Error('run the tests with `npm test` (test/run.mjs builds the library first)');

/** Imports a compiled module of src/lib. */
export function lib(name) {
  return import(pathToFileURL(join(dir, `${name}.mjs`)).href);
}

/** WebCrypto's SubtleCrypto, in Node 18 as in later versions. */
export async function subtle() {
  if (globalThis.crypto && globalThis.crypto.subtle) return globalThis.crypto.subtle;
  const { webcrypto } = await import('node:crypto');
  return webcrypto.subtle;
}

/** A PEM block of `der` (64-column base64, LF, as the server writes it). */
export function pem(label, der) {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The server's `WallTime::to_rfc3339`: UTC with six fraction digits. */
export function rfc3339(us) {
  const ms = Math.floor(us / 1000);
  const micros = String(((us % 1_000_000) + 1_000_000) % 1_000_000).padStart(6, '0');
  return new Date(ms).toISOString().slice(0, 19) + `.${micros}Z`;
}

/** A fresh Ed25519 signer with its public PEM and key id. */
export async function newSigner() {
  const s = await subtle();
  const { createHash } = await import('node:crypto');
  const pair = await s.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const spki = new Uint8Array(await s.exportKey('spki', pair.publicKey));
  const raw = new Uint8Array(await s.exportKey('raw', pair.publicKey));
  // The key id, computed here independently of the code under test.
  const keyId = createHash('sha256')
    .update(Buffer.from('roeh/push-key/v1\0', 'utf8'))
    .update(raw)
    .digest()
    .subarray(0, 8)
    .toString('hex');
  const publicPem = pem('PUBLIC KEY', spki);
  /** The envelope of `body` (JSON text), as `PushSigner::seal` writes it. */
  async function seal(body, { key = keyId } = {}) {
    const signed = Buffer.concat([Buffer.from('roeh/push/v1\n', 'utf8'), Buffer.from(body, 'utf8')]);
    const sig = Buffer.from(await s.sign({ name: 'Ed25519' }, pair.privateKey, signed)).toString('hex');
    // serde writes the struct's fields in declaration order: v, key, msg, sig.
    return JSON.stringify({ v: 1, key, msg: body, sig });
  }
  return { keyId, publicPem, seal, privateKey: pair.privateKey };
}

/** T0 of the server's tests: 2026-09-21T…, in microseconds. */
export const T0 = 1_790_000_000_000_000;
export const SEC = 1_000_000;

/** A summary as the server serialises `AlertSummary`. */
export function summary(over = {}) {
  return {
    id: '6f1c2a9e-1111-4a4a-8b8b-000000000001',
    hotspot: '0b7e5a10-2222-4c4c-9d9d-000000000002',
    severity: 'high',
    priority: 3,
    state: 'new',
    claimed_by: null,
    location: { lat: 32.08, lon: 34.78 },
    created_at: rfc3339(T0 - 30 * SEC),
    escalates_at: rfc3339(T0 + 90 * SEC),
    incidents: [
      {
        id: '9a9a9a9a-3333-4e4e-8f8f-000000000003',
        rule: '7c7c7c7c-4444-4a4a-8b8b-000000000004',
        camera: '5d5d5d5d-5555-4b4b-8c8c-000000000005',
        opened_at: rfc3339(T0 - 31 * SEC),
      },
    ],
    cameras: ['5d5d5d5d-5555-4b4b-8c8c-000000000005'],
    snapshot: null,
    clip: null,
    ...over,
  };
}

/** A push message body as the server serialises `PushMessage` (field order included). */
export function body(seq, issuedUs, ttlUs, over = {}) {
  const s = over.summary ?? summary();
  const b = {
    seq,
    alert: s.id,
    kind: over.kind ?? 'raised',
    time: rfc3339(issuedUs - SEC),
    actor: over.actor ?? 'system',
    state: s.state,
    detail: {},
    summary: s,
    issued_at: rfc3339(issuedUs),
    expires_at: rfc3339(issuedUs + ttlUs),
  };
  return JSON.stringify(b);
}

/** Lets pending promises and WebCrypto jobs run until `cond()` holds (or fails the test). */
export async function until(cond, what = 'condition') {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}
