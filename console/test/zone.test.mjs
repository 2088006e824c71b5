// Times in the site's zone, across daylight-saving changes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const { setSiteZone, siteZone, fieldsOf, msOf } = await lib('zone');
const { formatClock, formatDateTime } = await lib('format');
const { hourStart, dayAndHour } = await lib('playback');

test('clock times are the site\'s, whatever the browser\'s zone', () => {
  assert.ok(setSiteZone('Asia/Jerusalem'));
  assert.equal(siteZone(), 'Asia/Jerusalem');
  // Winter (UTC+2) and summer (UTC+3).
  assert.equal(formatClock('2026-11-22T20:11:58Z'), '22:11:58');
  assert.equal(formatDateTime('2026-07-01T22:30:00Z'), '2026-07-02 01:30:00');
  assert.ok(setSiteZone('Europe/Stockholm'));
  assert.equal(formatClock('2026-11-22T20:11:58Z'), '21:11:58');
  // An unknown zone is refused and the previous one kept.
  assert.equal(setSiteZone('Mars/Olympus_Mons'), false);
  assert.equal(siteZone(), 'Europe/Stockholm');
});

test('a day and an hour of the site map to the instant and back, across DST', () => {
  assert.ok(setSiteZone('Europe/Stockholm'));
  // 2026-03-29: clocks go from 02:00 to 03:00; 2026-10-25: from 03:00 back to 02:00.
  const before = hourStart('2026-03-29', 1);
  const after = hourStart('2026-03-29', 3);
  assert.equal(before / 1000, Date.UTC(2026, 2, 29, 0, 0));
  assert.equal(after / 1000, Date.UTC(2026, 2, 29, 1, 0), 'one real hour later');
  assert.equal(hourStart('2026-10-25', 1) / 1000, Date.UTC(2026, 9, 24, 23, 0));
  assert.equal(hourStart('2026-10-25', 4) / 1000, Date.UTC(2026, 9, 25, 3, 0));
  for (const ms of [Date.UTC(2026, 0, 1, 12), Date.UTC(2026, 5, 30, 23, 59, 59), Date.UTC(2026, 9, 25, 0, 30)]) {
    assert.equal(msOf(fieldsOf(ms)), ms);
  }
  assert.deepEqual(dayAndHour(Date.UTC(2026, 11, 31, 23, 30) * 1000), { date: '2027-01-01', hour: 0 });
  assert.equal(hourStart('2026-02-31', 1), null);
  setSiteZone(undefined);
});

test("fields in a schedule's own zone, whatever the site's; a name that is no zone falls back to the site's", async () => {
  const z = await lib('zone');
  assert.ok(z.setSiteZone('UTC'));
  const ms = Date.UTC(2026, 11, 7, 20, 0, 0); // 22:00 in Jerusalem (UTC+2)
  assert.deepEqual(z.fieldsIn(ms, 'Asia/Jerusalem'), { year: 2026, month: 12, day: 7, hour: 22, minute: 0, second: 0 });
  assert.deepEqual(z.fieldsIn(Date.UTC(2027, 7, 1, 3, 0, 0), 'Asia/Jerusalem').hour, 6, 'summer: UTC+3');
  assert.deepEqual(z.fieldsIn(ms, 'Middle/Earth'), z.fieldsOf(ms));
});
