// The open-alert queue: order, applying summaries and lists, reading pushed bodies, and the
// lifecycle port that enables the action buttons (crates/roeh-alerts/src/lifecycle.rs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEC, T0, body, lib, rfc3339, summary } from './helpers.mjs';

const a = await lib('alerts');

const id = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

test('queue order: severity first, then oldest first, then id', () => {
  const list = [
    summary({ id: id(1), severity: 'low', created_at: rfc3339(T0 - 900 * SEC) }),
    summary({ id: id(2), severity: 'critical', created_at: rfc3339(T0 - 10 * SEC) }),
    summary({ id: id(3), severity: 'high', created_at: rfc3339(T0 - 5 * SEC) }),
    summary({ id: id(4), severity: 'critical', created_at: rfc3339(T0 - 20 * SEC) }),
    summary({ id: id(5), severity: 'medium', created_at: rfc3339(T0 - 20 * SEC) }),
    summary({ id: id(7), severity: 'high', created_at: rfc3339(T0 - 5 * SEC) }),
    summary({ id: id(6), severity: 'high', created_at: rfc3339(T0 - 5 * SEC) }),
  ];
  const q = new Map(list.map((s) => [s.id, s]));
  assert.deepEqual(
    a.sortedQueue(q).map((s) => s.id),
    [id(4), id(2), id(3), id(6), id(7), id(5), id(1)],
  );
  // An unknown severity ranks as medium, as on the server.
  assert.equal(a.severityRank('weird'), a.severityRank('medium'));
});

test('applying a summary adds, replaces in place, and removes closed alerts', () => {
  const s = summary({ id: id(1) });
  let r = a.applySummary(new Map(), s);
  assert.equal(r.added, s);
  assert.equal(r.queue.size, 1);
  const claimed = { ...s, state: 'claimed', claimed_by: 7 };
  r = a.applySummary(r.queue, claimed);
  assert.equal(r.added, null);
  assert.equal(r.queue.get(s.id).claimed_by, 7);
  r = a.applySummary(r.queue, { ...s, state: 'false_alarm' });
  assert.equal(r.removed, true);
  assert.equal(r.queue.size, 0);
  // A closed alert that was not there stays out and is not "removed".
  r = a.applySummary(r.queue, { ...s, state: 'resolved' });
  assert.equal(r.removed, false);
  assert.equal(r.queue.size, 0);
});

test('a full list replaces the queue and names what is new', () => {
  const old = new Map([[id(1), summary({ id: id(1) })]]);
  const r = a.replaceAll(old, [
    summary({ id: id(1) }),
    summary({ id: id(2) }),
    summary({ id: id(3), state: 'resolved' }),
  ]);
  assert.deepEqual([...r.queue.keys()], [id(1), id(2)]);
  assert.deepEqual(r.added.map((s) => s.id), [id(2)]);
});

test('pushed bodies are read as the server writes them; bodies without a summary are not', () => {
  const b = a.parsePushBody(body(5, T0, 60 * SEC));
  assert.equal(b.seq, 5);
  assert.equal(b.kind, 'raised');
  assert.equal(b.summary.severity, 'high');
  assert.equal(a.parsePushBody('{"seq":5}'), null);
  assert.equal(a.parsePushBody('nope'), null);
  const other = JSON.parse(body(5, T0, 60 * SEC));
  other.alert = id(9);
  assert.equal(a.parsePushBody(JSON.stringify(other)), null, 'summary of another alert');
});

test('actions allowed as the server’s transition allows them', () => {
  const op = { id: 7, role: 'operator' };
  const sup = { id: 1, role: 'supervisor' };
  const admin = { id: 2, role: 'admin' };
  const inv = { id: 3, role: 'investigator' };
  const may = (action, state, by, me) => a.mayAct(action, state, by, me);
  // Claim: new; escalated only for supervisors.
  assert.equal(may('claim', 'new', null, op), true);
  assert.equal(may('claim', 'claimed', 7, op), false);
  assert.equal(may('claim', 'escalated', null, op), false);
  assert.equal(may('claim', 'escalated', null, sup), true);
  assert.equal(may('claim', 'escalated', null, admin), true);
  // Acknowledge: claimed or escalated, by the claimer or a supervisor.
  assert.equal(may('acknowledge', 'claimed', 7, op), true);
  assert.equal(may('acknowledge', 'claimed', 8, op), false);
  assert.equal(may('acknowledge', 'claimed', 8, sup), true);
  assert.equal(may('acknowledge', 'new', null, op), false);
  assert.equal(may('acknowledge', 'escalated', null, op), false);
  assert.equal(may('acknowledge', 'escalated', 7, op), true);
  // Dispatch: acknowledged, dispatched, on scene.
  for (const s of ['acknowledged', 'dispatched', 'on_scene']) assert.equal(may('dispatch', s, 7, op), true, s);
  for (const s of ['new', 'claimed', 'escalated']) assert.equal(may('dispatch', s, 7, op), false, s);
  assert.equal(may('dispatch', 'acknowledged', 8, op), false);
  // Resolve: not from new; false alarm from any open state; both by the holder.
  assert.equal(may('resolve', 'new', null, op), false);
  assert.equal(may('resolve', 'claimed', 7, op), true);
  assert.equal(may('resolve', 'escalated', null, op), true);
  assert.equal(may('false_alarm', 'new', null, op), true);
  assert.equal(may('false_alarm', 'dispatched', 8, op), false);
  assert.equal(may('false_alarm', 'dispatched', 8, sup), true);
  // Escalate: anything open but escalated, whoever holds it.
  assert.equal(may('escalate', 'claimed', 8, op), true);
  assert.equal(may('escalate', 'escalated', null, sup), false);
  // Final states: nothing but a note; other roles: nothing.
  for (const act of a.ACTIONS.filter((x) => x !== 'note')) {
    assert.equal(may(act, 'resolved', 7, sup), false, act);
    assert.equal(may(act, 'new', null, inv), false, act);
  }
  assert.equal(may('note', 'resolved', 7, op), true);
});

test('action paths and final actions', () => {
  assert.equal(a.actionPath('false_alarm'), 'false-alarm');
  assert.equal(a.actionPath('claim'), 'claim');
  assert.equal(a.isFinalAction('resolve'), true);
  assert.equal(a.isFinalAction('escalate'), false);
  assert.equal(a.isLoud('critical'), true);
  assert.equal(a.isLoud('medium'), false);
  assert.equal(a.escalationRuns('claimed'), true);
  assert.equal(a.escalationRuns('acknowledged'), false);
});
