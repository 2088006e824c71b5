// Live video: the wire format of crates/roeh-api/src/live.rs and the player's catch-up rules.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const { parseLiveMessage, catchUp, trimRange, WallMap, liveUrl, mimeOf, JUMP_BEHIND_S, CATCH_UP_RATE } =
  await lib('live');

/** A message as the server builds it: length, JSON header, body. */
function msg(header, body = [1, 2, 3]) {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + body.length);
  new DataView(out.buffer).setUint32(0, h.length, false);
  out.set(h, 4);
  out.set(body, 4 + h.length);
  return out.buffer;
}

test('init and frame messages parse with their bodies', () => {
  const init = parseLiveMessage(msg({ kind: 'init', codec: 'avc1.4d401f', width: 768, height: 576 }, [9, 9]));
  assert.deepEqual(init.header, { kind: 'init', codec: 'avc1.4d401f', width: 768, height: 576 });
  assert.deepEqual([...init.body], [9, 9]);
  const f = parseLiveMessage(msg({ kind: 'frame', t: 18000, wall: 1790000000000000, key: true }));
  assert.equal(f.header.t, 18000);
  assert.equal(f.header.key, true);
  assert.deepEqual([...f.body], [1, 2, 3]);
  assert.equal(mimeOf('avc1.4d401f'), 'video/mp4; codecs="avc1.4d401f"');
});

test('malformed messages are refused whole', () => {
  assert.equal(parseLiveMessage(new ArrayBuffer(3)), null);
  assert.equal(parseLiveMessage(msg('{not json')), null);
  assert.equal(parseLiveMessage(msg({ kind: 'frame', t: '1', wall: 0, key: true })), null);
  assert.equal(parseLiveMessage(msg({ kind: 'init', codec: 'avc1', width: 1 })), null);
  assert.equal(parseLiveMessage(msg({ kind: 'other' })), null);
  assert.equal(parseLiveMessage(msg({ kind: 'frame', t: 0, wall: 0, key: false }, [])), null);
  // A header length pointing past the end.
  const bad = new Uint8Array(msg({ kind: 'frame', t: 0, wall: 0, key: false }));
  new DataView(bad.buffer).setUint32(0, 10_000, false);
  assert.equal(parseLiveMessage(bad.buffer), null);
});

test('a player far behind jumps, a little behind plays faster, near live plays normally', () => {
  const far = catchUp(10, 10 + JUMP_BEHIND_S + 0.5);
  assert.ok(far.seek > 13 && far.seek < 13.5);
  assert.equal(far.rate, 1);
  assert.deepEqual(catchUp(10, 11), { rate: CATCH_UP_RATE });
  assert.deepEqual(catchUp(10, 10.2), { rate: 1 });
});

test('the buffer behind the playhead is trimmed, not what is about to play', () => {
  assert.equal(trimRange(10, 0), null);
  assert.deepEqual(trimRange(100, 0), [0, 80]);
  assert.equal(trimRange(100, 79.5), null);
});

test('media time maps back to the time roeh received the picture', () => {
  const m = new WallMap(3);
  m.add(0, 1000);
  m.add(9000, 2000);
  m.add(18000, 3000);
  assert.equal(m.wallAt(0), 1000);
  assert.equal(m.wallAt(0.15), 2000);
  assert.equal(m.wallAt(0.2), 3000);
  m.add(27000, 4000); // the oldest falls out
  assert.equal(m.wallAt(0.05), null);
  assert.equal(m.wallAt(0.3), 4000);
});

test('the live URL follows the page scheme and escapes the id', () => {
  assert.equal(liveUrl({ protocol: 'https:', host: 'roeh.city:8443' }, 'a b'), 'wss://roeh.city:8443/api/cameras/a%20b/live');
  assert.equal(liveUrl({ protocol: 'http:', host: '127.0.0.1:1' }, 'x'), 'ws://127.0.0.1:1/api/cameras/x/live');
  assert.equal(liveUrl({ protocol: 'http:', host: 'h' }, 'x', 'sub'), 'ws://h/api/cameras/x/live?stream=sub');
  assert.equal(liveUrl({ protocol: 'http:', host: 'h' }, 'x', 'main'), 'ws://h/api/cameras/x/live');
});
