// The server's time parser, ported: the cases of crates/roeh-domain/src/time.rs and more.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const { parseWallTime, msToMicros } = await lib('time');

test('RFC 3339 as the server writes and reads it', () => {
  assert.equal(parseWallTime('1970-01-01T00:00:00Z'), 0);
  assert.equal(parseWallTime('2026-11-22T20:11:58.123456Z'), Date.UTC(2026, 10, 22, 20, 11, 58) * 1000 + 123456);
  assert.equal(parseWallTime('2026-03-29T03:00:00+02:00'), parseWallTime('2026-03-29T01:00:00Z'));
  assert.equal(parseWallTime('2026-03-29T01:00:00-01:30'), parseWallTime('2026-03-29T02:30:00Z'));
  assert.equal(parseWallTime('1969-12-31T23:59:59Z'), -1_000_000);
  // Lowercase t and z, a space, fractions cut (not rounded) to microseconds.
  assert.equal(parseWallTime('2026-11-22t20:11:58.1234569z'), parseWallTime('2026-11-22T20:11:58.123456Z'));
  assert.equal(parseWallTime('2026-11-22 20:11:58.5Z'), parseWallTime('2026-11-22T20:11:58.500000Z'));
  // A leap second counts as the next second; day 31 of a short month carries over.
  assert.equal(parseWallTime('2026-12-31T23:59:60Z'), parseWallTime('2027-01-01T00:00:00Z'));
  assert.equal(parseWallTime('2026-02-31T00:00:00Z'), parseWallTime('2026-03-03T00:00:00Z'));
  // Integer microseconds.
  assert.equal(parseWallTime('1790000000000000'), 1_790_000_000_000_000);
  assert.equal(parseWallTime('-5'), -5);
  assert.equal(parseWallTime('+5'), 5);
});

test('garbage is not a time', () => {
  for (const s of [
    '',
    '2026-13-01T00:00:00Z',
    '2026-11-22',
    'x026-11-22T20:11:58Z',
    '2026-11-22T20:11:58',
    '2026-11-22T24:00:00Z',
    '2026-11-22T20:60:00Z',
    '2026-11-22T20:11:61Z',
    '2026-00-22T20:11:58Z',
    '2026-11-00T20:11:58Z',
    '2026-11-32T20:11:58Z',
    '2026-11-22T20:11:58.Z',
    '2026-11-22T20:11:58+0200',
    '2026-11-22T20:11:58+02:0x',
    '2026-11-22X20:11:58Z',
    '2026-11-22T20:11:58ZZ',
    '２０２６-11-22T20:11:58Z',
    '2026-11-22T20:11:58.000000000000000000000000Z',
    '99999999999999999999',
  ]) {
    assert.equal(parseWallTime(s), null, s);
  }
});

test('milliseconds to microseconds', () => {
  assert.equal(msToMicros(1500), 1_500_000);
});
