// The supervisor's pages without DOM: schedules as typed and as sent, points on the picture, and
// which part of the editor a refusal names.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const h = await lib('hotspots');

test('"every night 22:00–06:00 and all of August" is sent as one window and one all-day range', () => {
  const f = h.newSchedule('Asia/Jerusalem');
  f.allDay.push({ from: ' 2027-08-01', to: '2027-08-31 ', label: ' August ' });
  assert.deepEqual(h.scheduleDoc(f), {
    tz: 'Asia/Jerusalem',
    windows: [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '22:00', to: '06:00' }],
    all_day: [{ from: '2027-08-01', to: '2027-08-31', label: 'August' }],
  });
  // Empty lists and labels are left out; `always` only when ticked.
  assert.deepEqual(h.scheduleDoc({ tz: 'UTC', always: true, windows: [], allDay: [], dates: [], except: [{ from: '2026-12-24', to: '2026-12-26', label: '' }] }), {
    tz: 'UTC',
    always: true,
    except: [{ from: '2026-12-24', to: '2026-12-26' }],
  });
});

test('a stored schedule reads back into the editor with days in the week\'s order', () => {
  const f = h.scheduleForm({
    tz: 'Asia/Jerusalem',
    always: false,
    windows: [{ days: ['fri', 'Monday', 'sun'], from: '22:00', to: '06:00' }],
    dates: [],
    except: [],
    all_day: [{ from: '2027-08-01', to: '2027-08-31', label: 'August' }],
  });
  assert.deepEqual(f.windows[0].days, ['sun', 'mon', 'fri']);
  assert.equal(f.allDay[0].label, 'August');
  assert.deepEqual(h.scheduleDoc(f).all_day, [{ from: '2027-08-01', to: '2027-08-31', label: 'August' }]);
});

test('a click becomes a fraction of the picture, clamped and rounded, whatever the page direction', () => {
  const rect = { left: 100, top: 50, width: 400, height: 200 };
  assert.deepEqual(h.pointIn(300, 150, rect), [0.5, 0.5]);
  assert.deepEqual(h.pointIn(90, 260, rect), [0, 1]);
  assert.deepEqual(h.pointIn(100 + 400 / 3, 50, rect), [0.3333, 0]);
  assert.equal(h.pointIn(1, 1, { left: 0, top: 0, width: 0, height: 10 }), null);
});

test('points typed as text are read exactly or not at all', () => {
  assert.deepEqual(h.parsePoints('0.1,0.5 0.9,0.5; 0.9,1'), [
    [0.1, 0.5],
    [0.9, 0.5],
    [0.9, 1],
  ]);
  assert.deepEqual(h.parsePoints(''), []);
  assert.equal(h.parsePoints('0.1,0.5 0.9'), null);
  assert.equal(h.parsePoints('a,b'), null);
  assert.equal(h.pointsText([[0.1, 0.5], [1, 0]]), '0.1,0.5 1,0');
});

test('a refusal names the part of the editor it concerns', () => {
  const id = '(0f0e0d0c-0000-4000-8000-000000000000)';
  assert.deepEqual(h.partOf(`hotspot "Square" ${id}: zones[1].polygon: polygon is self-intersecting: edge 0 crosses edge 2`), { part: 'zones', index: 1 });
  assert.deepEqual(h.partOf(`hotspot "Square" ${id}: lines[0].line: the two points are the same`), { part: 'lines', index: 0 });
  assert.deepEqual(h.partOf(`hotspot "Square" ${id}: schedule: schedule.windows[0].from: "25:00" is not a time of day`), { part: 'schedule', index: null });
  assert.deepEqual(h.partOf('schedule.tz: "Mars" is not a known IANA time zone'), { part: 'schedule', index: null });
  assert.deepEqual(h.partOf(`hotspot "" ${id}: name: is blank`), { part: 'name', index: null });
  assert.deepEqual(h.partOf(`hotspot "Square": cameras[0]: camera 1 is not a known camera`), { part: 'cameras', index: null });
  assert.equal(h.partOf('the change would break a rule of the hotspot'), null);
});

test('a rule is sent with the fields of its kind only, numbers as typed', () => {
  const f = { ...h.newRule(), name: ' Night walkway ', target: 'walkway' };
  assert.deepEqual(h.ruleDoc('H1', f), {
    hotspot: 'H1',
    name: 'Night walkway',
    kind: 'intrusion',
    severity: 'high',
    cooldown_secs: 60,
    min_confidence: 0.5,
    zone: 'walkway',
  });
  const c = h.ruleDoc('H1', { ...f, kind: 'crowding', minCount: '7', forSecs: '' });
  assert.equal(c.min_count, 7);
  assert.ok(Number.isNaN(c.for_secs));
  assert.equal(h.ruleDoc('H1', { ...f, kind: 'line_crossing', target: 'gate' }).line, 'gate');
  assert.equal(h.ruleFieldOf('rule "X" (1): min_confidence: 1.5 is outside 0..1'), 'min_confidence');
  assert.equal(h.ruleFieldOf('rule "X" (1): zone: "z" is not a zone of hotspot "H"'), 'zone');
  assert.equal(h.ruleFieldOf('rule: missing field `severity`'), null);
});

test('new ids do not collide', () => {
  assert.equal(h.freeId('zone', []), 'zone-1');
  assert.equal(h.freeId('zone', ['zone-1', 'zone-2', 'line-1']), 'zone-3');
});

test('detections count in a zone by their feet, as the rule engine places them', () => {
  const walkway = [
    [0, 0.3],
    [1, 0.2],
    [1, 0.8],
    [0, 0.5],
  ];
  assert.deepEqual(h.footOf([0.4, 0.2, 0.6, 0.7]), [0.5, 0.7]);
  const objects = [
    { label: 'person', score: 0.9, bbox: [0.4, 0.2, 0.6, 0.6] }, // feet at (0.5, 0.6): inside
    { label: 'person', score: 0.7, bbox: [0.1, 0.0, 0.2, 0.9] }, // feet at (0.15, 0.9): below
    { label: 'person', score: 0.6, bbox: [0.8, 0.0, 0.9, 0.1] }, // feet at (0.85, 0.1): above
  ];
  assert.equal(h.countIn(objects, walkway), 1);
  assert.equal(h.countIn(objects, [[0, 0], [1, 0], [1, 1], [0, 1]]), 3);
  assert.equal(h.countIn(objects, [[0, 0], [1, 1]]), 0, 'not a polygon');
  assert.equal(h.inPolygon([0.5, 0.5], [[0, 0], [1, 0], [0, 1], [1, 1]]), false, 'crossed shapes: even-odd');
});

test('a tamper rule names no zone and sends only the limits typed', () => {
  const f = { ...h.newRule(), name: 'Cam 3 covered', kind: 'tamper', target: 'walkway', noFramesSecs: '', frozenSecs: '20', darkLumaMax: '12.5' };
  assert.deepEqual(h.ruleDoc('H1', f), {
    hotspot: 'H1',
    name: 'Cam 3 covered',
    kind: 'tamper',
    severity: 'high',
    cooldown_secs: 60,
    min_confidence: 0.5,
    frozen_secs: 20,
    dark_luma_max: 12.5,
  });
  assert.equal(h.ruleFieldOf('rule "X" (1): frozen_secs: must be at least 1'), 'frozen_secs');
});
