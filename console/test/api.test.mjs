// The API client against a fake fetch: the exact requests (paths, bodies, the CSRF header) and
// the handling of the server's error body and of 401.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib, summary } from './helpers.mjs';

const { Api, ApiError, CSRF_HEADER, errorOf } = await lib('api');

function fakeServer(routes) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const key = `${init.method} ${url}`;
    const r = typeof routes === 'function' ? routes(key, init) : routes[key];
    if (!r) return { status: 404, ok: false, text: async () => '{"error":{"kind":"not_found","message":"no route"}}' };
    const [status, payload] = r;
    return {
      status,
      ok: status >= 200 && status < 300,
      text: async () => (payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload)),
    };
  };
  return { fetch, calls };
}

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k), m };
}

test('sign-in uses the cookie session and sends its CSRF token on every POST', async () => {
  const srv = fakeServer({
    'POST /api/auth/login': [200, { username: 'dana', role: 'operator', expires_at: 'x', csrf: 'c1' }],
    'POST /api/alerts/a1/claim': [200, summary({ id: 'a1', state: 'claimed', claimed_by: 4 })],
    'GET /api/auth/me': [200, { id: 4, username: 'dana', role: 'operator', scope: null }],
  });
  const storage = memoryStorage();
  const api = new Api({ fetch: srv.fetch, onUnauthorized: () => assert.fail('no 401 here'), storage });
  await api.login('dana', 'correct horse battery');
  assert.deepEqual(srv.calls[0].body, { username: 'dana', password: 'correct horse battery', kind: 'session' });
  assert.equal(srv.calls[0].headers['content-type'], 'application/json');
  assert.equal(srv.calls[0].credentials, 'same-origin');
  assert.equal(api.csrf, 'c1');
  const s = await api.act('a1', 'claim');
  assert.equal(s.claimed_by, 4);
  assert.equal(srv.calls[1].headers[CSRF_HEADER], 'c1');
  assert.deepEqual(srv.calls[1].body, {});
  // GETs carry no CSRF header.
  await api.me();
  assert.equal(srv.calls[2].headers[CSRF_HEADER], undefined);
  // After a reload the token comes from storage, or from /api/auth/me when it sends one.
  const again = new Api({ fetch: srv.fetch, onUnauthorized() {}, storage });
  assert.equal(again.csrf, 'c1');
});

test('GET /api/auth/me with csrf replaces the token', async () => {
  const srv = fakeServer({ 'GET /api/auth/me': [200, { id: 4, username: 'dana', role: 'operator', scope: null, csrf: 'c2' }] });
  const api = new Api({ fetch: srv.fetch, onUnauthorized() {} });
  await api.me();
  assert.equal(api.csrf, 'c2');
});

test('every action posts to its route with its body', async () => {
  const srv = fakeServer((key) => {
    if (key.endsWith('/note')) return [201, { seq: 9 }];
    if (key.endsWith('/dispatch')) return [200, { alert: summary(), dispatched: ['u1'] }];
    return [200, summary()];
  });
  const api = new Api({ fetch: srv.fetch, onUnauthorized() {} });
  for (const act of ['claim', 'acknowledge', 'resolve', 'false_alarm', 'escalate']) await api.act('a 1', act);
  assert.deepEqual(
    srv.calls.map((c) => `${c.method} ${c.url}`),
    [
      'POST /api/alerts/a%201/claim',
      'POST /api/alerts/a%201/acknowledge',
      'POST /api/alerts/a%201/resolve',
      'POST /api/alerts/a%201/false-alarm',
      'POST /api/alerts/a%201/escalate',
    ],
  );
  assert.deepEqual(await api.note('a1', 'seen on cam 2'), { seq: 9 });
  assert.deepEqual(srv.calls.at(-1).body, { text: 'seen on cam 2' });
  await api.dispatch('a1', ['u1']);
  assert.deepEqual(srv.calls.at(-1).body, { units: ['u1'] });
  await api.units('a1').catch(() => {});
  assert.equal(srv.calls.at(-1).url, '/api/units?alert=a1');
});

test('setup posts token, username and password, then nothing else', async () => {
  const srv = fakeServer({ 'POST /api/auth/setup': [201, { id: 1, username: 'admin', role: 'admin' }] });
  const api = new Api({ fetch: srv.fetch, onUnauthorized() {} });
  const v = await api.setup('tok', 'admin', 'a long password');
  assert.equal(v.role, 'admin');
  assert.deepEqual(srv.calls[0].body, { token: 'tok', username: 'admin', password: 'a long password' });
});

test('a 401 on a signed-in request signs out; on sign-in it is only an error', async () => {
  let outs = 0;
  const srv = fakeServer({
    'GET /api/push/key': [401, { error: { kind: 'unauthenticated', message: 'sign in first' } }],
    'POST /api/auth/login': [401, { error: { kind: 'unauthenticated', message: 'wrong username or password' } }],
  });
  const storage = memoryStorage();
  storage.setItem('roeh.csrf', 'old');
  const api = new Api({ fetch: srv.fetch, onUnauthorized: () => outs++, storage });
  await assert.rejects(api.pushKey(), (e) => e instanceof ApiError && e.status === 401 && e.message === 'sign in first');
  assert.equal(outs, 1);
  assert.equal(api.csrf, null);
  assert.equal(storage.getItem('roeh.csrf'), null);
  await assert.rejects(api.login('x', 'y'), /wrong username or password/);
  assert.equal(outs, 1);
});

test('server errors keep their kind and message as plain text; anything else is generic', async () => {
  const e = errorOf(409, '{"error":{"kind":"failed_precondition","message":"the alert is claimed by another operator"}}');
  assert.equal(e.kind, 'failed_precondition');
  assert.equal(e.message, 'the alert is claimed by another operator');
  const html = errorOf(502, '<html><body><script>alert(1)</script></body></html>');
  assert.equal(html.kind, 'bad_response');
  assert.equal(html.message, 'HTTP 502');
  const api = new Api({ fetch: async () => { throw new TypeError('offline'); }, onUnauthorized() {} });
  await assert.rejects(api.me(), (x) => x.kind === 'network' && x.status === 0);
});

test('the open queue is read per open state and paged with the before cursor', async () => {
  const page = (n, prefix) => Array.from({ length: n }, (_, i) => summary({ id: `${prefix}-${i}` }));
  const srv = fakeServer((key) => {
    const url = new URL(key.slice(4), 'http://x');
    const state = url.searchParams.get('state');
    assert.equal(url.searchParams.get('limit'), '1000');
    if (state === 'new') return [200, url.searchParams.get('before') === null ? page(1000, 'n') : page(3, 'm')];
    if (state === 'claimed') return [200, page(2, 'c')];
    return [200, []];
  });
  const api = new Api({ fetch: srv.fetch, onUnauthorized() {} });
  const all = await api.openAlerts();
  assert.equal(all.length, 1005);
  const states = srv.calls.map((c) => new URL(c.url, 'http://x').searchParams.get('state'));
  assert.deepEqual([...new Set(states)].sort(), ['acknowledged', 'claimed', 'dispatched', 'escalated', 'new', 'on_scene']);
  const second = srv.calls.find((c) => c.url.includes('before='));
  assert.equal(new URL(second.url, 'http://x').searchParams.get('before'), 'n-999');
});
