// Formatting of durations, countdowns, clock times, ids and distances (run with TZ=UTC).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEC, T0, lib, rfc3339 } from './helpers.mjs';

const f = await lib('format');

test('durations are m:ss under an hour, h:mm:ss above, never negative', () => {
  assert.equal(f.formatDuration(0), '0:00');
  assert.equal(f.formatDuration(59 * SEC + 999_999), '0:59');
  assert.equal(f.formatDuration(61 * SEC), '1:01');
  assert.equal(f.formatDuration(3599 * SEC), '59:59');
  assert.equal(f.formatDuration(3600 * SEC), '1:00:00');
  assert.equal(f.formatDuration(26 * 3600 * SEC + 62 * SEC), '26:01:02');
  assert.equal(f.formatDuration(-5 * SEC), '0:00');
});

test('age of an alert', () => {
  assert.equal(f.formatAge(rfc3339(T0 - 125 * SEC), T0), '2:05');
  assert.equal(f.formatAge('not a time', T0), '—');
});

test('countdown to escalation, then overdue', () => {
  assert.deepEqual(f.countdown(rfc3339(T0 + 90 * SEC), T0), { overdue: false, text: '1:30' });
  // Part of a second left still shows the second.
  assert.deepEqual(f.countdown(rfc3339(T0 + 1500_000), T0), { overdue: false, text: '0:02' });
  assert.deepEqual(f.countdown(rfc3339(T0), T0), { overdue: false, text: '0:00' });
  assert.deepEqual(f.countdown(rfc3339(T0 - 75 * SEC), T0), { overdue: true, text: '1:15' });
  assert.equal(f.countdown('soon', T0), null);
});

test('clock times are local HH:MM:SS', () => {
  assert.equal(process.env.TZ, 'UTC');
  assert.equal(f.formatClock('2026-11-22T20:11:58.123456Z'), '20:11:58');
  assert.equal(f.formatClock('2026-11-22T22:11:58+02:00'), '20:11:58');
  assert.equal(f.formatDateTime('2026-01-02T03:04:05Z'), '2026-01-02 03:04:05');
  assert.equal(f.formatClock(''), '—');
});

test('short ids and distances', () => {
  assert.equal(f.shortId('6f1c2a9e-1111-4a4a-8b8b-000000000001'), '6f1c2a9e');
  assert.equal(f.shortId('abc'), 'abc');
  assert.deepEqual(f.formatDistance(849.6), { value: '850', unit: 'm' });
  assert.deepEqual(f.formatDistance(1250), { value: '1.3', unit: 'km' });
  assert.deepEqual(f.formatDistance(Number.NaN), { value: '—', unit: 'm' });
});

test('isolate wraps text in first-strong isolate marks', () => {
  assert.equal(f.isolate('Gate 3'), '\u2068Gate 3\u2069');
});
