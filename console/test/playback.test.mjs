// Recorded playback: windows of segments and the mapping of media time to the wall clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const { windowAt, wallAt, mediaAt, span, hourStart } = await lib('playback');

const S = 1_000_000;
// Three 10 s segments, then a 60 s gap (camera offline), then two more.
const segs = [
  { start_us: 0, end_us: 10 * S, duration_secs: 10 },
  { start_us: 10 * S, end_us: 20 * S, duration_secs: 10 },
  { start_us: 20 * S, end_us: 30 * S, duration_secs: 10 },
  { start_us: 90 * S, end_us: 100 * S, duration_secs: 10 },
  { start_us: 100 * S, end_us: 110 * S, duration_secs: 10 },
];

test('a window starts at the segment holding the moment and holds at most the limit', () => {
  assert.deepEqual(windowAt(segs, 15 * S, 300).map((s) => s.start_us), [10 * S, 20 * S, 90 * S, 100 * S]);
  assert.deepEqual(windowAt(segs, 15 * S, 20).map((s) => s.start_us), [10 * S, 20 * S]);
  // In the gap: the next segment; after everything: nothing.
  assert.equal(windowAt(segs, 50 * S)[0].start_us, 90 * S);
  assert.equal(windowAt(segs, 200 * S), null);
  // One long segment still makes a window.
  assert.equal(windowAt([{ start_us: 0, end_us: 600 * S, duration_secs: 600 }], 1, 300).length, 1);
});

test('media time maps to the wall clock across a closed-up gap, and back', () => {
  const w = windowAt(segs, 15 * S, 300);
  assert.equal(wallAt(w, 0), 10 * S);
  assert.equal(wallAt(w, 12.5), 22.5 * S);
  assert.equal(wallAt(w, 20), 90 * S, 'after the gap');
  assert.equal(wallAt(w, 25), 95 * S);
  for (const t of [10 * S, 22.5 * S, 95 * S, 109 * S]) assert.equal(wallAt(w, mediaAt(w, t)), t);
  assert.equal(mediaAt(w, 50 * S), 20, 'a moment in the gap plays from the next segment');
  assert.equal(mediaAt(w, 500 * S), null);
});

test('timeline spans are clipped fractions, and a date and an hour give local time', () => {
  assert.deepEqual(span(0, 100, 25, 50), [0.25, 0.5]);
  assert.deepEqual(span(0, 100, -10, 10), [0, 0.1]);
  assert.equal(span(0, 100, 100, 200), null);
  const h = hourStart('2026-12-06', 22);
  assert.equal(new Date(h / 1000).getHours(), 22);
  assert.equal(new Date(h / 1000).getDate(), 6);
  assert.equal(hourStart('2026-13-06', 1), null);
  assert.equal(hourStart('yesterday', 1), null);
  assert.equal(hourStart('2026-12-06', 24), null);
});
