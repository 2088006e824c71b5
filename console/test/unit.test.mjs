// The patrol unit's phone: tasks from the server's list and from push messages, receipts in order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib, rfc3339, summary, T0, SEC } from './helpers.mjs';

const { tasksFrom, applyToTasks, nextReceipt, receiptId, sortedTasks, geoUri } = await lib('unit');

const UNIT = 'aaaaaaaa-0000-4000-8000-000000000001';
const OTHER = 'aaaaaaaa-0000-4000-8000-000000000002';
const A = summary({ state: 'dispatched' });

function msg(kind, over = {}) {
  return {
    seq: 10,
    alert: (over.summary ?? A).id,
    kind,
    time: rfc3339(T0),
    actor: 'dana',
    state: (over.summary ?? A).state,
    detail: over.detail ?? {},
    summary: over.summary ?? A,
    issued_at: rfc3339(T0),
    expires_at: rfc3339(T0 + 60 * SEC),
    ...(over.unit ? { unit: over.unit } : {}),
  };
}

test('the server list gives one task per open dispatch with its receipts', () => {
  const closedAlert = summary({ id: 'x', state: 'resolved' });
  const tasks = tasksFrom({
    unit: UNIT,
    name: 'Car 7',
    status: 'busy',
    dispatches: [
      { alert: A, seq: 3, dispatched_at: rfc3339(T0), delivered_at: rfc3339(T0), accepted_at: null, arrived_at: null },
      { alert: closedAlert, seq: 4, dispatched_at: rfc3339(T0), delivered_at: null, accepted_at: null, arrived_at: null },
    ],
  });
  assert.deepEqual([...tasks.keys()], [A.id]);
  const t = tasks.get(A.id);
  assert.equal(t.delivered, true);
  assert.equal(nextReceipt(t), 'accepted');
});

test('a dispatch to this unit adds a task; one to another unit does not', () => {
  const other = applyToTasks(new Map(), msg('dispatch', { unit: OTHER }), UNIT);
  assert.equal(other.tasks.size, 0);
  const mine = applyToTasks(new Map(), msg('dispatch', { unit: UNIT }), UNIT);
  assert.equal(mine.tasks.size, 1);
  assert.equal(mine.added.alert.id, A.id);
  // The same dispatch again (a replay) adds nothing new.
  assert.equal(applyToTasks(mine.tasks, msg('dispatch', { unit: UNIT }), UNIT).added, undefined);
});

test('receipts go forward; another unit\'s receipt changes nothing; closed removes the task', () => {
  let { tasks } = applyToTasks(new Map(), msg('dispatch', { unit: UNIT }), UNIT);
  tasks = applyToTasks(tasks, msg('receipt', { unit: OTHER, detail: { kind: 'arrived' } }), UNIT).tasks;
  assert.equal(nextReceipt(tasks.get(A.id)), 'accepted');
  tasks = applyToTasks(tasks, msg('receipt', { unit: UNIT, detail: { kind: 'accepted' } }), UNIT).tasks;
  assert.equal(nextReceipt(tasks.get(A.id)), 'arrived');
  const onScene = summary({ state: 'on_scene' });
  tasks = applyToTasks(tasks, msg('receipt', { unit: UNIT, detail: { kind: 'arrived' }, summary: onScene }), UNIT).tasks;
  assert.equal(nextReceipt(tasks.get(A.id)), 'closed');
  assert.equal(tasks.get(A.id).alert.state, 'on_scene');
  tasks = applyToTasks(tasks, msg('receipt', { unit: UNIT, detail: { kind: 'closed' } }), UNIT).tasks;
  assert.equal(tasks.size, 0);
});

test('an alert resolved by the control room leaves the phone', () => {
  let { tasks } = applyToTasks(new Map(), msg('dispatch', { unit: UNIT }), UNIT);
  tasks = applyToTasks(tasks, msg('resolve', { summary: summary({ state: 'resolved' }) }), UNIT).tasks;
  assert.equal(tasks.size, 0);
});

test('receipt ids repeat per alert and kind; newest first; geo links', () => {
  assert.equal(receiptId('a', 'arrived'), receiptId('a', 'arrived'));
  assert.notEqual(receiptId('a', 'arrived'), receiptId('a', 'accepted'));
  const m = new Map([
    ['1', { alert: summary({ id: '1' }), dispatchedAt: rfc3339(T0), delivered: true, accepted: false, arrived: false }],
    ['2', { alert: summary({ id: '2' }), dispatchedAt: rfc3339(T0 + SEC), delivered: true, accepted: false, arrived: false }],
  ]);
  assert.deepEqual(sortedTasks(m).map((t) => t.alert.id), ['2', '1']);
  assert.equal(geoUri(32.08, 34.7812346), 'geo:32.080000,34.781235');
});
