// The investigator's pages without DOM: pages by role, times typed in the site's zone, refusals
// next to their field, export progress, the offline check's commands, cases and their log.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const ev = await lib('evidence');
const { setSiteZone } = await lib('zone');

test('each role is shown exactly the pages its permissions serve', () => {
  assert.deepEqual(ev.pagesFor('investigator'), ['playback', 'search', 'exports', 'holds', 'custody']);
  assert.deepEqual(ev.pagesFor('operator'), ['alerts', 'live', 'playback', 'units']);
  assert.deepEqual(ev.pagesFor('admin'), [
    'alerts', 'live', 'hotspots', 'stats', 'operations', 'playback', 'units', 'search', 'exports', 'holds', 'custody', 'users', 'audit', 'keys',
    'cameras', 'onvif', 'webhooks',
  ]);
  // Supervisors read the audit log but manage no users, cameras or webhooks.
  const notSupervisors = ['users', 'cameras', 'onvif', 'webhooks'];
  assert.deepEqual(ev.pagesFor('supervisor'), ev.pagesFor('admin').filter((p) => !notSupervisors.includes(p)));
  // Integrators aim cameras live, set cameras up, and see no recordings, alerts or evidence
  // (nor the hotspot editor: reading hotspots needs incidents).
  assert.deepEqual(ev.pagesFor('integrator'), ['live', 'cameras', 'onvif']);
  assert.deepEqual(ev.pagesFor('unit'), []);
  assert.deepEqual(ev.pagesFor('nobody'), []);
  assert.equal(ev.homeOf('investigator'), 'search');
  assert.equal(ev.homeOf('integrator'), 'cameras');
  assert.equal(ev.homeOf('operator'), 'alerts');
  assert.equal(ev.homeOf('unit'), null);
  // Investigators have no queue: no alert stream for them.
  assert.equal(ev.takesPush('investigator'), false);
  assert.equal(ev.takesPush('operator'), true);
  assert.equal(ev.takesPush('unit'), true);
  assert.equal(ev.takesPush('integrator'), false);
});

test('typed times are the site\'s, and written back the same', () => {
  assert.ok(setSiteZone('Asia/Jerusalem'));
  // 2026-12-07 10:00 in Jerusalem (UTC+2 in winter).
  const us = ev.parseLocal('2026-12-07T10:00');
  assert.equal(us, Date.UTC(2026, 11, 7, 8, 0, 0) * 1000);
  assert.equal(ev.parseLocal('2026-12-07T10:00:30'), us + 30_000_000);
  assert.equal(ev.toLocal(us + 30_000_000), '2026-12-07T10:00:30');
  assert.equal(ev.rfc3339(us), '2026-12-07T08:00:00.000Z');
  // Summer: UTC+3.
  assert.equal(ev.parseLocal('2026-07-01 12:00'), Date.UTC(2026, 6, 1, 9, 0, 0) * 1000);
  for (const bad of ['', 'yesterday', '2026-02-30T10:00', '2026-12-07T24:00', '2026-12-07', '2026-12-07T10:61']) {
    assert.equal(ev.parseLocal(bad), null, bad);
  }
  assert.ok(setSiteZone(undefined));
});

test('a refusal points at the field it names, else at the form', () => {
  const fields = ['case', 'reason', 'camera', 'start', 'end', 'incident'];
  assert.equal(ev.fieldOf('case is required', fields), 'case');
  assert.equal(ev.fieldOf('reason is required', fields), 'reason');
  assert.equal(ev.fieldOf('reason is longer than 500 characters', fields), 'reason');
  assert.equal(ev.fieldOf('end must be after start', fields), 'end');
  assert.equal(ev.fieldOf('start must be RFC 3339 (e.g. 2026-11-22T20:00:00Z) or microseconds', fields), 'start');
  assert.equal(ev.fieldOf('no such incident', fields), 'incident');
  assert.equal(ev.fieldOf('no recorded footage in that range', fields), null);
  assert.equal(ev.fieldOf('the hold is cleared already', ['reason']), null);
  // Whole words only: "cases" or "showcase" are not the case field.
  assert.equal(ev.fieldOf('showcases are closed', fields), null);
});

test('export progress: percent of bytes, 100 only once done, and when to stop reading it', () => {
  const job = (state, done, total) => ({ state, bytes_done: done, bytes_total: total });
  assert.equal(ev.percent(job('queued', 0, 0)), 0);
  assert.equal(ev.percent(job('running', 50, 200)), 25);
  assert.equal(ev.percent(job('running', 200, 200)), 99);
  assert.equal(ev.percent(job('running', 300, 200)), 99);
  assert.equal(ev.percent(job('done', 0, 0)), 100);
  assert.equal(ev.percent(job('failed', 10, 200)), 5);
  assert.equal(ev.finished(job('running', 1, 2)), false);
  assert.equal(ev.finished(job('queued', 0, 2)), false);
  assert.equal(ev.finished(job('done', 2, 2)), true);
  assert.equal(ev.finished(job('failed', 1, 2)), true);
});

test('the offline check: the verifier, then the checkpoint signature with OpenSSL', () => {
  const id = '0e3c5b9a-1f2d-4c6b-8a7e-9d0f1b2c3d4e';
  const name = ev.bundleName(id);
  assert.equal(name, `roeh-evidence-${id}.zip`);
  assert.deepEqual(ev.verifyCommands(name), [
    `roeh-verify --key site-key.pem ${name}`,
    `unzip -o ${name} checkpoint.txt checkpoint.sig`,
    'openssl pkeyutl -verify -pubin -inkey site-key.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig',
  ]);
  assert.equal(ev.KEY_FILE, 'site-key.pem');
});

test('cases gather their exports and holds; the log is read through one of them', () => {
  const x = (id, c, at) => ({ id, case: c, created_at: at });
  const h = (id, c, at) => ({ id, case: c, created_at: at });
  const cases = ev.casesOf(
    [x('e1', 'PD-1', '2026-12-07T08:00:00Z'), x('e2', 'PD-2', '2026-12-07T09:00:00Z'), x('e3', 'PD-1', '2026-12-07T07:00:00Z')],
    [h(4, 'PD-3', '2026-12-07T10:00:00Z'), h(5, 'PD-1', '2026-12-07T06:00:00Z')],
  );
  assert.deepEqual(cases.map((c) => c.case), ['PD-3', 'PD-2', 'PD-1']);
  const pd1 = cases.find((c) => c.case === 'PD-1');
  assert.deepEqual(pd1.exports.map((e) => e.id), ['e1', 'e3']);
  assert.deepEqual(pd1.holds.map((e) => e.id), [5]);
  assert.equal(ev.custodyPath(pd1), '/api/exports/e1/custody');
  assert.equal(ev.custodyPath(cases[0]), '/api/holds/4/custody');
  assert.equal(ev.custodyPath(undefined), null);
  // Case numbers are compared exactly, as the server does.
  assert.equal(ev.casesOf([x('a', 'pd-1', 't'), x('b', 'PD-1', 't')], []).length, 2);
});
