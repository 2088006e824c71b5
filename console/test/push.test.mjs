// The browser's push verifier against envelopes signed exactly as the server signs them, with a
// real Ed25519 key made for the test. Mirrors the server's own tests
// (crates/roeh-alerts/src/push.rs) case by case.

import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { test } from 'node:test';
import { SEC, T0, body, lib, newSigner, pem, subtle } from './helpers.mjs';

const { PushVerifier, describeRejected, keyIdOf, publicKeyFromPem, MAX_ENVELOPE_BYTES } = await lib('push');

const MAX_AGE = 120 * SEC;
const TTL = 60 * SEC;

async function pair() {
  const signer = await newSigner();
  const v = await PushVerifier.fromPublicPem(await subtle(), signer.publicPem, MAX_AGE);
  return { signer, v };
}

function rejected(verdict) {
  assert.equal(verdict.ok, false, 'expected a refusal');
  return verdict.error;
}

test('a valid message is accepted once and in order', async () => {
  const { signer, v } = await pair();
  assert.equal(v.keyId, signer.keyId, 'key id: first 8 bytes of SHA-256(context ‖ key), hex');
  const m5 = await signer.seal(body(5, T0, TTL));
  const a = await v.accept(m5, T0 + SEC);
  assert.equal(a.ok, true);
  assert.equal(a.value.seq, 5);
  assert.ok(a.value.body.includes('"raised"'));
  assert.equal(v.lastSeq(), 5);
  // The same message again: a replay.
  assert.deepEqual(rejected(await v.accept(m5, T0 + 2 * SEC)), { kind: 'replayed', seq: 5, last: 5 });
  // An older one, properly signed and fresh: out of order, refused.
  const m4 = await signer.seal(body(4, T0, TTL));
  assert.deepEqual(rejected(await v.accept(m4, T0)), { kind: 'replayed', seq: 4, last: 5 });
  const m6 = await signer.seal(body(6, T0, TTL));
  assert.equal((await v.accept(m6, T0)).value.seq, 6);
});

test('the verified body is the exact received text', async () => {
  const { signer, v } = await pair();
  const text = body(1, T0, TTL);
  const a = await v.check(await signer.seal(text), T0);
  assert.equal(a.value.body, text);
});

test('a bad signature is refused', async () => {
  const { signer, v } = await pair();
  const env = JSON.parse(await signer.seal(body(9, T0, TTL)));
  // Flip one bit of the signature.
  const last = parseInt(env.sig.slice(-2), 16) ^ 1;
  env.sig = env.sig.slice(0, -2) + last.toString(16).padStart(2, '0');
  assert.deepEqual(rejected(await v.accept(JSON.stringify(env), T0)), { kind: 'bad_signature' });
  // Not hex, or the wrong length: a bad signature too.
  for (const sig of ['zz'.repeat(64), env.sig.slice(0, 10), `${env.sig}00`, '']) {
    assert.deepEqual(rejected(await v.accept(JSON.stringify({ ...env, sig }), T0)), { kind: 'bad_signature' });
  }
  assert.equal(v.lastSeq(), null);
});

test('uppercase hex in the signature is read like lowercase (as the hex crate does)', async () => {
  const { signer, v } = await pair();
  const env = JSON.parse(await signer.seal(body(3, T0, TTL)));
  env.sig = env.sig.toUpperCase();
  assert.equal((await v.accept(JSON.stringify(env), T0)).ok, true);
});

test('a message of another key id is refused as unknown; another key claiming ours as forged', async () => {
  const { v } = await pair();
  const other = await newSigner();
  const foreign = await other.seal(body(11, T0, TTL));
  assert.deepEqual(rejected(await v.accept(foreign, T0)), { kind: 'unknown_key', key: other.keyId });
  const forged = await other.seal(body(11, T0, TTL), { key: v.keyId });
  assert.deepEqual(rejected(await v.accept(forged, T0)), { kind: 'bad_signature' });
  assert.equal(v.lastSeq(), null);
});

test('a tampered message is refused: moved location, renumbered seq, changed state', async () => {
  const { signer, v } = await pair();
  const m = await signer.seal(body(9, T0, TTL));
  const moved = JSON.parse(m);
  moved.msg = moved.msg.replace('34.78', '34.79');
  assert.notEqual(moved.msg, JSON.parse(m).msg);
  assert.deepEqual(rejected(await v.accept(JSON.stringify(moved), T0)), { kind: 'bad_signature' });
  const renumbered = JSON.parse(m);
  renumbered.msg = renumbered.msg.replace('"seq":9', '"seq":10');
  assert.deepEqual(rejected(await v.accept(JSON.stringify(renumbered), T0)), { kind: 'bad_signature' });
  const resolved = JSON.parse(m);
  resolved.msg = resolved.msg.replaceAll('"state":"new"', '"state":"resolved"');
  assert.deepEqual(rejected(await v.accept(JSON.stringify(resolved), T0)), { kind: 'bad_signature' });
  // Whitespace added to the body: the bytes differ, so the signature does not hold.
  const spaced = JSON.parse(m);
  spaced.msg = `${spaced.msg} `;
  assert.deepEqual(rejected(await v.accept(JSON.stringify(spaced), T0)), { kind: 'bad_signature' });
  // Nothing moved the replay position; the genuine message still passes.
  assert.equal(v.lastSeq(), null);
  assert.equal((await v.accept(m, T0)).value.seq, 9);
});

test('expiry, clock skew and the client’s own age limit hold', async () => {
  const { signer, v } = await pair();
  const m = await signer.seal(body(1, T0, TTL));
  assert.equal((await v.check(m, T0 + 60 * SEC)).ok, true);
  assert.deepEqual(rejected(await v.check(m, T0 + 60 * SEC + 1000)), { kind: 'expired', seq: 1 });
  // Issued 4 s ahead of this client's clock: within the 5 s skew; 6 s ahead is not.
  assert.equal((await v.check(m, T0 - 4 * SEC)).ok, true);
  assert.deepEqual(rejected(await v.check(m, T0 - 6 * SEC)), { kind: 'from_the_future', seq: 1 });
  // The server says valid for an hour; this client accepts at most 120 s of age.
  const long = await signer.seal(body(2, T0, 3600 * SEC));
  assert.equal((await v.check(long, T0 + 120 * SEC)).ok, true);
  assert.deepEqual(rejected(await v.check(long, T0 + 121 * SEC)), { kind: 'expired', seq: 2 });
  // A wider skew lets the future message in.
  v.withClockSkew(10 * SEC);
  assert.equal((await v.check(m, T0 - 6 * SEC)).ok, true);
});

test('an expired message changes nothing: after it the same seq, signed afresh, is accepted', async () => {
  const { signer, v } = await pair();
  await v.accept(await signer.seal(body(1, T0, TTL)), T0);
  const stale = await signer.seal(body(2, T0, TTL));
  assert.equal(rejected(await v.accept(stale, T0 + 61 * SEC)).kind, 'expired');
  assert.equal(v.lastSeq(), 1);
  const fresh = await signer.seal(body(2, T0 + 61 * SEC, TTL));
  assert.equal((await v.accept(fresh, T0 + 62 * SEC)).value.seq, 2);
});

test('malformed envelopes and bodies are refused without a state change', async () => {
  const { signer, v } = await pair();
  const good = JSON.parse(await signer.seal(body(7, T0, TTL)));
  const shapes = [
    '',
    'null',
    '{}',
    '[]',
    '"text"',
    '{"v":1,"key":',
    '{"v":2,"key":"k","msg":"{}","sig":"00"}',
    '{"v":1,"key":"k","msg":"{}","sig":"00","extra":1}',
    '{"v":1,"key":"k","msg":"{}"}',
    '{"v":"1","key":"k","msg":"{}","sig":"00"}',
    '{"v":256,"key":"k","msg":"{}","sig":"00"}',
    '{"v":-1,"key":"k","msg":"{}","sig":"00"}',
    '{"v":1,"key":5,"msg":"{}","sig":"00"}',
    '{"v":1,"key":"k","msg":{},"sig":"00"}',
    JSON.stringify([good.v, good.key, good.msg, good.sig]),
    JSON.stringify({ ...good, __proto__: null, constructor: 1 }),
  ];
  for (const bad of shapes) {
    const e = rejected(await v.accept(bad, T0));
    assert.equal(e.kind, 'malformed', `${bad}: ${describeRejected(e)}`);
  }
  // Signed bodies without the freshness fields, or with bad ones, are malformed, not accepted.
  const bodies = [
    '{"seq":12}',
    'not json',
    '[1,2,3]',
    `{"seq":-1,"issued_at":"2026-09-21T00:00:00Z","expires_at":"2026-09-21T00:01:00Z"}`,
    `{"seq":"12","issued_at":"2026-09-21T00:00:00Z","expires_at":"2026-09-21T00:01:00Z"}`,
    `{"seq":1.5,"issued_at":"2026-09-21T00:00:00Z","expires_at":"2026-09-21T00:01:00Z"}`,
    `{"seq":12,"issued_at":"yesterday","expires_at":"2026-09-21T00:01:00Z"}`,
    `{"seq":12,"issued_at":"2026-09-21T00:00:00Z","expires_at":"2026-09-21T00:01:00"}`,
    `{"seq":12,"issued_at":1790000000000000,"expires_at":"2026-09-21T00:01:00Z"}`,
  ];
  for (const b of bodies) {
    const e = rejected(await v.accept(await signer.seal(b), T0));
    assert.equal(e.kind, 'malformed', `${b}: ${describeRejected(e)}`);
  }
  // Too large: refused before parsing.
  const huge = ' '.repeat(MAX_ENVELOPE_BYTES + 1);
  assert.equal(rejected(await v.accept(huge, T0)).kind, 'malformed');
  assert.equal(v.lastSeq(), null);
});

test('a body that is an integer microsecond time is read like the server reads it', async () => {
  const { signer, v } = await pair();
  const b = JSON.stringify({ seq: 1, issued_at: String(T0), expires_at: String(T0 + TTL) });
  assert.equal((await v.accept(await signer.seal(b), T0 + SEC)).ok, true);
});

test('resumeAfter marks earlier seqs seen', async () => {
  const { signer, v } = await pair();
  v.resumeAfter(20);
  v.resumeAfter(10);
  assert.equal(v.lastSeq(), 20);
  assert.equal(rejected(await v.accept(await signer.seal(body(20, T0, TTL)), T0)).kind, 'replayed');
  assert.equal((await v.accept(await signer.seal(body(21, T0, TTL)), T0)).ok, true);
});

test('concurrent accepts are decided in call order', async () => {
  const { signer, v } = await pair();
  const msgs = await Promise.all([1, 2, 3, 4].map((n) => signer.seal(body(n, T0, TTL))));
  const verdicts = await Promise.all([v.accept(msgs[0], T0), v.accept(msgs[2], T0), v.accept(msgs[1], T0), v.accept(msgs[3], T0)]);
  assert.deepEqual(
    verdicts.map((x) => (x.ok ? x.value.seq : x.error.kind)),
    [1, 3, 'replayed', 4],
  );
});

test('keys load from PEM: the server’s test key gives its key id; junk is refused', async () => {
  const s = await subtle();
  // The PKCS#8 key of the server's test (seed [7; 32]).
  const pkcs8 =
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n';
  const spki = createPublicKey(createPrivateKey(pkcs8)).export({ type: 'spki', format: 'der' });
  const publicPem = pem('PUBLIC KEY', spki);
  const raw = publicKeyFromPem(publicPem);
  assert.equal(raw.length, 32);
  const v = await PushVerifier.fromPublicPem(s, publicPem, MAX_AGE);
  assert.equal(v.keyId, await keyIdOf(s, raw));
  assert.match(v.keyId, /^[0-9a-f]{16}$/);
  // CRLF line ends are fine too.
  assert.ok(publicKeyFromPem(publicPem.replace(/\n/g, '\r\n')));
  for (const junk of [
    'junk',
    '',
    publicPem.replace('PUBLIC KEY', 'PRIVATE KEY'),
    pkcs8,
    pem('PUBLIC KEY', Buffer.concat([spki, Buffer.from([0])])),
    pem('PUBLIC KEY', Buffer.from(spki).fill(1, 0, 1)),
  ]) {
    assert.equal(publicKeyFromPem(junk), null, junk);
    await assert.rejects(PushVerifier.fromPublicPem(s, junk, MAX_AGE));
  }
});

test('describeRejected writes what the server writes', () => {
  assert.equal(describeRejected({ kind: 'bad_signature' }), 'push message signature does not verify');
  assert.equal(describeRejected({ kind: 'expired', seq: 4 }), 'push message 4 has expired');
  assert.equal(
    describeRejected({ kind: 'replayed', seq: 4, last: 5 }),
    'push message 4 already seen (last accepted 5)',
  );
  assert.equal(describeRejected({ kind: 'unknown_key', key: 'ab' }), 'push message signed with unknown key "ab"');
});
