// The stream's decisions (gap, replay, stale, refused, back-off) and the push client driven
// end to end by a fake server that signs every message like the real one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEC, T0, body, lib, newSigner, subtle, summary, until } from './helpers.mjs';

const r = await lib('resync');
const { PushClient } = await lib('pushclient');

test('gap rules: in order applies, a jump resyncs, the first message after since=last may jump', () => {
  let p = r.opened(null);
  assert.deepEqual(r.onAccepted(p, 40), { do: 'apply' }, 'no position yet: anything goes');
  p = r.applied(p, 40);
  assert.deepEqual(r.onAccepted(p, 41), { do: 'apply' });
  assert.deepEqual(r.onAccepted(p, 40), { do: 'ignore' });
  assert.deepEqual(r.onAccepted(p, 43), { do: 'resync', last: 40 });
  // Reopened with since=40: the server read 41.. from the store, so 43 first is a hidden 41-42.
  p = r.opened(40);
  assert.deepEqual(r.onAccepted(p, 43), { do: 'apply' });
  p = r.applied(p, 43);
  assert.deepEqual(r.onAccepted(p, 45), { do: 'resync', last: 43 }, 'only the first message may jump');
  // A refused message takes that trust away.
  p = r.refused(r.opened(40));
  assert.deepEqual(r.onAccepted(p, 43), { do: 'resync', last: 40 });
});

test('refusal rules: replays are dropped, stale ones reconnect at once, forged ones are counted', () => {
  assert.deepEqual(r.onRejected({ kind: 'replayed', seq: 1, last: 2 }), { do: 'ignore' });
  assert.deepEqual(r.onRejected({ kind: 'expired', seq: 1 }), { do: 'reconnect', why: 'stale', clock: false });
  assert.deepEqual(r.onRejected({ kind: 'from_the_future', seq: 1 }), { do: 'reconnect', why: 'stale', clock: true });
  for (const kind of ['bad_signature', 'unknown_key', 'malformed']) {
    assert.equal(r.onRejected({ kind, why: '', key: '' }).why, 'refused');
  }
});

test('back-off doubles from 1 s to 30 s with a ±25 % spread', () => {
  assert.equal(r.backoffMs(0, 0.5), 1000);
  assert.equal(r.backoffMs(1, 0.5), 2000);
  assert.equal(r.backoffMs(4, 0.5), 16000);
  assert.equal(r.backoffMs(5, 0.5), 30000);
  assert.equal(r.backoffMs(50, 0.5), 30000);
  assert.equal(r.backoffMs(0, 0), 750);
  assert.equal(r.backoffMs(0, 0.999999), 1250);
});

test('the push URL follows the page’s scheme and carries since', () => {
  assert.equal(r.pushUrl({ protocol: 'https:', host: 'roeh.example:8443' }, null), 'wss://roeh.example:8443/api/push/ws');
  assert.equal(r.pushUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, 42), 'ws://127.0.0.1:8080/api/push/ws?since=42');
});

// ----- the client against a fake server -----

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.closed = false;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
  }
  open() {
    this.onopen?.({});
  }
  deliver(text) {
    this.onmessage?.({ data: text });
  }
  lose() {
    this.onclose?.({ code: 1006 });
  }
  close() {
    this.closed = true;
  }
}

async function harness(opts = {}) {
  const signer = opts.signer ?? (await newSigner());
  const h = {
    signer,
    sockets: [],
    timers: [],
    nowMs: T0 / 1000,
    fetches: 0,
    list: [summary()],
    holdList: null,
    states: [],
    log: [],
    refused: [],
    clock: [],
  };
  h.socket = () => h.sockets[h.sockets.length - 1];
  h.runTimers = () => {
    const due = h.timers.filter((t) => !t.done && !t.cleared);
    for (const t of due) {
      t.done = true;
      t.fn();
    }
    return due.map((t) => t.ms);
  };
  h.seal = (seq, over = {}) => signer.seal(body(seq, h.nowMs * 1000, 60 * SEC, over));
  const deps = {
    subtle: opts.noCrypto ? null : await subtle(),
    openSocket: (url) => {
      const s = new FakeSocket(url);
      h.sockets.push(s);
      return s;
    },
    fetchKey: async () => ({
      algorithm: 'Ed25519',
      key_id: opts.keyId ?? signer.keyId,
      public_key: signer.publicPem,
      context: 'roeh/push/v1\n',
      ttl_secs: 60,
    }),
    fetchOpen: async () => {
      h.fetches++;
      if (h.holdList) await h.holdList;
      return h.list;
    },
    now: () => h.nowMs,
    setTimer: (fn, ms) => {
      const t = { fn, ms };
      h.timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      t.cleared = true;
    },
    random: () => 0.5,
    location: { protocol: 'https:', host: 'roeh.example' },
    maxAgeUs: 120 * SEC,
    pollEveryMs: 5000,
  };
  h.client = new PushClient(deps, {
    onState: (s) => h.states.push(s),
    onSnapshot: (list) => h.log.push(`snapshot:${list.length}`),
    onMessage: (b) => h.log.push(`msg:${b.seq}`),
    onRefused: (x) => h.refused.push(x.kind),
    onClockSuspect: (x) => h.clock.push(x),
  });
  return h;
}

/** Starts the client and opens its first socket; the first list is read. */
async function live(h) {
  h.client.start();
  await until(() => h.sockets.length === 1, 'the first socket');
  h.socket().open();
  await until(() => h.client.connState === 'live', 'live');
}

test('connect, read the list, then apply verified messages in order', async () => {
  const h = await harness();
  await live(h);
  assert.equal(h.sockets[0].url, 'wss://roeh.example/api/push/ws');
  assert.deepEqual(h.states, ['connecting', 'live']);
  h.socket().deliver(await h.seal(10));
  h.socket().deliver(await h.seal(11));
  await until(() => h.log.length === 3, 'two messages');
  assert.deepEqual(h.log, ['snapshot:1', 'msg:10', 'msg:11']);
  assert.equal(h.client.lastSeq, 11);
});

test('a gap resyncs: the list is read again and the stream reopens with since=last', async () => {
  const h = await harness();
  await live(h);
  h.socket().deliver(await h.seal(10));
  h.socket().deliver(await h.seal(11));
  h.socket().deliver(await h.seal(14));
  await until(() => h.client.connState === 'reconnecting', 'resync');
  assert.equal(h.sockets[0].closed, true);
  assert.deepEqual(h.log, ['snapshot:1', 'msg:10', 'msg:11'], '14 is not applied');
  assert.deepEqual(h.runTimers(), [0], 'a resync reconnects at once');
  await until(() => h.sockets.length === 2, 'the second socket');
  assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws?since=11');
  h.socket().open();
  await until(() => h.fetches === 2, 'the list read again');
  // The server replays from the store: 12 and 13 were out of this operator's scope.
  h.socket().deliver(await h.seal(14));
  h.socket().deliver(await h.seal(15));
  await until(() => h.log.length === 6, 'replayed messages');
  assert.deepEqual(h.log.slice(3), ['snapshot:1', 'msg:14', 'msg:15']);
  assert.equal(h.client.lastSeq, 15);
});

test('messages arriving while the list is read are held and applied after it', async () => {
  const h = await harness();
  let release;
  h.holdList = new Promise((res) => (release = res));
  h.client.start();
  await until(() => h.sockets.length === 1, 'socket');
  h.socket().open();
  h.socket().deliver(await h.seal(20));
  h.socket().deliver(await h.seal(21));
  await until(() => h.client.lastSeq === 21, 'verified while held');
  assert.deepEqual(h.log, []);
  release();
  await until(() => h.log.length === 3, 'released');
  assert.deepEqual(h.log, ['snapshot:1', 'msg:20', 'msg:21']);
});

test('forged, foreign and tampered messages are refused, counted, and the stream reopens', async () => {
  const h = await harness();
  await live(h);
  h.socket().deliver(await h.seal(10));
  const other = await newSigner();
  h.socket().deliver(await other.seal(body(11, h.nowMs * 1000, 60 * SEC)));
  await until(() => h.refused.length === 1, 'refused');
  assert.deepEqual(h.refused, ['unknown_key']);
  assert.equal(h.client.connState, 'reconnecting');
  assert.deepEqual(h.runTimers(), [1000], 'with back-off');
  await until(() => h.sockets.length === 2, 'reopened');
  assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws?since=10');
  h.socket().open();
  await until(() => h.client.connState === 'live', 'live again');
  const forged = await other.seal(body(11, h.nowMs * 1000, 60 * SEC), { key: h.signer.keyId });
  h.socket().deliver(forged);
  await until(() => h.refused.length === 2, 'refused again');
  assert.deepEqual(h.refused, ['unknown_key', 'bad_signature']);
  assert.deepEqual(h.runTimers(), [2000], 'the back-off grows');
  await until(() => h.sockets.length === 3, 'reopened again');
  h.socket().open();
  await until(() => h.client.connState === 'live', 'live');
  const good = JSON.parse(await h.seal(11, { summary: summary({ state: 'claimed', claimed_by: 3 }) }));
  good.msg = good.msg.replace('"claimed_by":3', '"claimed_by":4');
  h.socket().deliver(JSON.stringify(good));
  h.socket().deliver('{"v":1');
  await until(() => h.refused.length === 3, 'tampered');
  assert.equal(h.refused[2], 'bad_signature');
  assert.deepEqual(h.log, ['snapshot:1', 'msg:10', 'snapshot:1', 'snapshot:1']);
  assert.equal(h.client.lastSeq, 10);
});

test('a replayed message is dropped quietly', async () => {
  const h = await harness();
  await live(h);
  const m = await h.seal(10);
  h.socket().deliver(m);
  h.socket().deliver(m);
  h.socket().deliver(await h.seal(11));
  await until(() => h.log.length === 3, 'two applied');
  assert.deepEqual(h.log, ['snapshot:1', 'msg:10', 'msg:11']);
  assert.deepEqual(h.refused, []);
  assert.equal(h.client.connState, 'live');
});

test('an expired message reopens the stream at once; the clock is suspected after three', async () => {
  const h = await harness();
  await live(h);
  h.socket().deliver(await h.seal(10));
  await until(() => h.client.lastSeq === 10, 'applied');
  for (let i = 0; i < 3; i++) {
    const stale = await h.signer.seal(body(11, (h.nowMs - 200_000) * 1000, 60 * SEC));
    h.socket().deliver(stale);
    await until(() => h.refused.length === i + 1, 'stale refused');
    assert.equal(h.client.connState, 'reconnecting');
    const delays = h.runTimers();
    assert.equal(delays.length, 1);
    assert.equal(delays[0], i === 0 ? 0 : 1000 * 2 ** i);
    await until(() => h.sockets.length === i + 2, 'reopened');
    assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws?since=10');
    h.socket().open();
    await until(() => h.client.connState === 'live', 'live');
  }
  assert.deepEqual(h.refused, ['expired', 'expired', 'expired']);
  assert.deepEqual(h.clock, [true]);
  h.socket().deliver(await h.seal(11));
  await until(() => h.client.lastSeq === 11, 'fresh one applied');
  assert.deepEqual(h.clock, [true, false]);
});

test('a lost connection shows reconnecting, backs off, and resumes after the last seq', async () => {
  const h = await harness();
  await live(h);
  h.socket().deliver(await h.seal(7));
  await until(() => h.client.lastSeq === 7, 'applied');
  h.socket().lose();
  assert.equal(h.client.connState, 'reconnecting');
  assert.deepEqual(h.runTimers(), [1000]);
  await until(() => h.sockets.length === 2, 'second');
  h.socket().lose();
  assert.deepEqual(h.runTimers(), [2000]);
  await until(() => h.sockets.length === 3, 'third');
  assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws?since=7');
  // A connection that stayed up long enough starts the back-off over.
  h.socket().open();
  await until(() => h.client.connState === 'live', 'live');
  h.nowMs += 11_000;
  h.socket().lose();
  assert.deepEqual(h.runTimers(), [1000]);
  assert.deepEqual(h.states, ['connecting', 'live', 'reconnecting', 'live', 'reconnecting']);
});

test('a key whose id does not match the served id is not trusted', async () => {
  const h = await harness({ keyId: '0000000000000000' });
  h.client.start();
  await until(() => h.client.connState === 'reconnecting', 'refused key');
  assert.equal(h.sockets.length, 0);
  assert.deepEqual(h.runTimers(), [1000]);
});

test('events of a stopped client’s socket are ignored', async () => {
  const h = await harness();
  await live(h);
  const s = h.socket();
  h.client.stop();
  assert.equal(s.closed, true);
  s.deliver(await h.seal(10));
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(h.log, ['snapshot:1']);
  assert.equal(h.client.connState, 'stopped');
});

test('without WebCrypto no push message is used: the list is polled', async () => {
  const h = await harness({ noCrypto: true });
  h.client.start();
  await until(() => h.fetches === 1, 'first poll');
  assert.equal(h.client.connState, 'unsupported');
  assert.equal(h.sockets.length, 0);
  await until(() => h.timers.length === 1, 'next poll scheduled');
  assert.deepEqual(h.runTimers(), [5000]);
  await until(() => h.fetches === 2, 'second poll');
  h.client.stop();
});

test('a restart resumes after the last seq; a reset (another user) resumes nowhere', async () => {
  const h = await harness();
  await live(h);
  h.socket().deliver(await h.seal(30));
  await until(() => h.client.lastSeq === 30, 'applied');
  h.client.stop();
  h.client.start();
  await until(() => h.sockets.length === 2, 'restarted');
  assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws?since=30');
  h.client.reset();
  assert.equal(h.client.connState, 'stopped');
  h.client.start();
  await until(() => h.sockets.length === 3, 'started after reset');
  assert.equal(h.socket().url, 'wss://roeh.example/api/push/ws');
  h.client.stop();
});
