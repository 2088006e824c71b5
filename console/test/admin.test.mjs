// The admin's pages without DOM: scopes as sent and as shown, pickers, audit queries and pages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const admin = await lib('admin');

test('a scope naming nothing is sent as absent (unrestricted), else exactly its ids', () => {
  assert.equal(admin.scopeBody({ cameras: [], hotspots: [] }), undefined);
  assert.deepEqual(admin.scopeBody({ cameras: [], hotspots: ['h1', 'h1', ''] }), { cameras: [], hotspots: ['h1'] });
  assert.deepEqual(admin.scopeBody({ cameras: ['c1'], hotspots: ['h2'] }), { cameras: ['c1'], hotspots: ['h2'] });
});

test('a scope as the server shows it: null when unrestricted', () => {
  assert.equal(admin.scopeOf(null), null);
  assert.equal(admin.scopeOf({}), null);
  // The keys without ids grant nothing: never shown as the whole site.
  assert.deepEqual(admin.scopeOf({ cameras: [], hotspots: [] }), { cameras: [], hotspots: [] });
  assert.deepEqual(admin.scopeOf({ cameras: [] }), { cameras: [], hotspots: [] });
  assert.equal(admin.scopeOf([]), null);
  assert.deepEqual(admin.scopeOf({ hotspots: ['h1', 7] }), { cameras: [], hotspots: ['h1'] });
  assert.deepEqual(admin.scopeOf({ cameras: ['c1'] }), { cameras: ['c1'], hotspots: [] });
});

test('a picker adds and removes one id', () => {
  assert.deepEqual(admin.toggled(['a'], 'b', true), ['a', 'b']);
  assert.deepEqual(admin.toggled(['a', 'b'], 'a', false), ['b']);
  assert.deepEqual(admin.toggled(['a'], 'a', true), ['a']);
});

test('the audit query carries only the filters given, times as RFC 3339', () => {
  const none = { actor: '', action: ' ', since: null, until: null };
  assert.equal(admin.auditQuery(none, null), 'limit=100');
  const q = new URLSearchParams(
    admin.auditQuery({ actor: ' dana ', action: 'POST /api/users', since: 1_000_000, until: 2_000_500 }, 42, 10),
  );
  assert.equal(q.get('actor'), 'dana');
  assert.equal(q.get('action'), 'POST /api/users');
  assert.equal(q.get('since'), '1970-01-01T00:00:01.000Z');
  assert.equal(q.get('until'), '1970-01-01T00:00:02.000Z');
  assert.equal(q.get('before'), '42');
  assert.equal(q.get('limit'), '10');
});

test('the next page starts below the last id of a full page; a short page is the last', () => {
  assert.equal(admin.nextBefore([{ id: 9 }, { id: 7 }], 2), 7);
  assert.equal(admin.nextBefore([{ id: 9 }], 2), null);
  assert.equal(admin.nextBefore([], 2), null);
});

test("a checkpoint's time is its RFC 3339 line", () => {
  const text = 'roeh-checkpoint/v1\nroeh\n4\n5c2e\n2026-12-07T07:48:53.781524Z\n12cc0ef655bb2505\n';
  assert.equal(admin.checkpointTime(text), '2026-12-07T07:48:53.781524Z');
  assert.equal(admin.checkpointTime('roeh-checkpoint/v1\n4\n'), null);
});

test("a refusal of the unit's username is shown at its name", () => {
  assert.equal(admin.unitFieldOf("username must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'"), 'name');
  assert.equal(admin.unitFieldOf('kind: unknown variant'), 'kind');
  assert.equal(admin.unitFieldOf('only supervisors and admins register units'), null);
});

test("a unit's sign-in link carries its token in the fragment", () => {
  assert.equal(admin.deviceLink('https://roeh.city', 'roeh_ab'), 'https://roeh.city/#/device/roeh_ab');
});

test('retention limits for people', () => {
  assert.equal(admin.sizeText(512), '512 B');
  assert.equal(admin.sizeText(1536), '1.5 KiB');
  assert.equal(admin.sizeText(500 * 1024 ** 3), '500 GiB');
  assert.equal(admin.sizeText(2 * 1024 ** 4), '2.0 TiB');
  assert.equal(admin.retentionDays(30 * 86_400), 30);
  assert.equal(admin.retentionDays(86_401), 2);
  assert.equal(admin.retentionDays(null), null);
  assert.equal(admin.retentionDays(0), null);
});
