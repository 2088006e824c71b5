// The situational picture and operations without DOM: the default range, the paths, the heat
// grid's classes, the charts' data and a rate ratio in words.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const s = await lib('stats');

test('the default range is the last 12 full ISO weeks, Monday to Sunday', () => {
  // Wednesday 2026-03-18: this week began on Monday the 16th.
  assert.deepEqual(s.defaultRange('2026-03-18'), { from: '2025-12-22', to: '2026-03-15' });
  // On a Monday the week just begun is left out; on a Sunday the week is not yet full.
  assert.deepEqual(s.defaultRange('2026-03-16'), { from: '2025-12-22', to: '2026-03-15' });
  assert.deepEqual(s.defaultRange('2026-03-22'), { from: '2025-12-22', to: '2026-03-15' });
  assert.deepEqual(s.defaultRange('2026-03-23', 1), { from: '2026-03-16', to: '2026-03-22' });
  const r = s.defaultRange('2027-01-01');
  assert.equal(new Date(`${r.from}T00:00:00Z`).getUTCDay(), 1);
  assert.equal(new Date(`${r.to}T00:00:00Z`).getUTCDay(), 0);
});

test('the last 12 months end today and begin the day after the same date a year before', () => {
  assert.deepEqual(s.lastMonths('2026-03-15'), { from: '2025-03-16', to: '2026-03-15' });
  assert.deepEqual(s.lastMonths('2026-01-01'), { from: '2025-01-02', to: '2026-01-01' });
  assert.deepEqual(s.lastMonths('2026-12-31'), { from: '2026-01-01', to: '2026-12-31' });
  // A day the earlier month lacks is its last day.
  assert.deepEqual(s.lastMonths('2028-02-29'), { from: '2027-03-01', to: '2028-02-29' });
  assert.deepEqual(s.lastMonths('2026-05-31', 3), { from: '2026-03-01', to: '2026-05-31' });
  assert.deepEqual(s.lastMonths('2026-03-31', 1), { from: '2026-03-01', to: '2026-03-31' });
  const q = { ...s.lastMonths('2026-03-15'), interval: 'month' };
  assert.equal(s.incidentsPath(q), '/api/stats/incidents?from=2025-03-16&to=2026-03-15&interval=month');
});

test('an operation offers the kinds that occurred, most first, then the rule kinds without any', () => {
  const rules = ['intrusion', 'loitering', 'crowding', 'line_crossing', 'tamper'];
  // Without statistics (not yet loaded, or refused): the rule kinds as they are.
  assert.deepEqual(s.operationKinds(rules, null), rules);
  assert.deepEqual(s.operationKinds(rules, undefined), rules);
  assert.deepEqual(s.operationKinds(rules, []), rules);
  const byKind = [
    { key: 'loitering', count: 4 },
    { key: 'violence', count: 9 },
    { key: 'noise', count: 4 },
    { key: 'intrusion', count: 2 },
    { key: 'tamper', count: 0 },
    { key: '', count: 3 },
  ];
  assert.deepEqual(s.operationKinds(rules, byKind), ['violence', 'loitering', 'noise', 'intrusion', 'crowding', 'line_crossing', 'tamper']);
  // Each kind once: a repeated key adds up, a repeated rule kind is offered once.
  assert.deepEqual(
    s.operationKinds(['intrusion', 'intrusion', 'tamper'], [
      { key: 'graffiti', count: 3 },
      { key: 'tamper', count: 2 },
      { key: 'tamper', count: 2 },
    ]),
    ['tamper', 'graffiti', 'intrusion'],
  );
  // No rule kinds at all: only what occurred.
  assert.deepEqual(s.operationKinds([], [{ key: 'violence', count: 1 }]), ['violence']);
});

test('dates are checked as real dates in order', () => {
  assert.equal(s.parseDate('2026-02-30'), null);
  assert.equal(s.parseDate('2026-2-3'), null);
  assert.equal(s.addDays('2026-02-28', 1), '2026-03-01');
  assert.equal(s.addDays('2028-02-28', 1), '2028-02-29');
  assert.ok(s.rangeOk({ from: '2026-01-01', to: '2026-01-01' }));
  assert.ok(!s.rangeOk({ from: '2026-01-02', to: '2026-01-01' }));
  assert.ok(!s.rangeOk({ from: '', to: '2026-01-01' }));
});

test('paths carry only the parameters given, encoded', () => {
  const q = { from: '2026-01-05', to: '2026-03-29', interval: 'week' };
  assert.equal(s.incidentsPath(q), '/api/stats/incidents?from=2026-01-05&to=2026-03-29&interval=week');
  assert.equal(
    s.incidentsPath({ ...q, hotspot: 'h-1', kind: 'line_crossing' }),
    '/api/stats/incidents?from=2026-01-05&to=2026-03-29&hotspot=h-1&kind=line_crossing&interval=week',
  );
  assert.equal(s.alertsPath({ ...q, hotspot: 'h-1', kind: 'x' }), '/api/stats/alerts?from=2026-01-05&to=2026-03-29&hotspot=h-1&interval=week');
  assert.equal(s.externalPath({ ...q, hotspot: 'h-1' }), '/api/stats/external?from=2026-01-05&to=2026-03-29&interval=week');
  assert.equal(s.importPath('police', 'north 2026.csv'), '/api/stats/imports?source=police&file_name=north+2026.csv');
  assert.equal(s.operationPath('a/b'), '/api/operations/a%2Fb');
  assert.equal(s.operationPath('a', true), '/api/operations/a/effect');
});

test('response times read the same local days as instants, the last day included (UTC site here)', () => {
  assert.deepEqual(s.instantsOf({ from: '2026-01-05', to: '2026-01-11' }), {
    from: '2026-01-05T00:00:00.000Z',
    to: '2026-01-12T00:00:00.000Z',
  });
  assert.equal(
    s.responseTimesPath({ from: '2026-01-05', to: '2026-01-11', interval: 'week' }),
    '/api/reports/response-times?from=2026-01-05T00%3A00%3A00.000Z&to=2026-01-12T00%3A00%3A00.000Z&group=hotspot',
  );
  assert.equal(s.responseTimesPath({ from: 'x', to: '2026-01-11', interval: 'week' }), null);
});

test('heat classes: nothing is heat-0, the largest heat-6, anything above zero at least heat-1', () => {
  assert.equal(s.heatClass(0, 10), 'heat-0');
  assert.equal(s.heatClass(0, 0), 'heat-0');
  assert.equal(s.heatClass(10, 10), 'heat-6');
  assert.equal(s.heatClass(1, 1000), 'heat-1');
  assert.equal(s.heatClass(5, 10), 'heat-3');
  assert.equal(s.heatClass(6, 10), 'heat-4');
  const classes = new Set(Array.from({ length: 101 }, (_, i) => s.heatClass(i, 100)));
  assert.deepEqual([...classes].sort(), ['heat-0', 'heat-1', 'heat-2', 'heat-3', 'heat-4', 'heat-5', 'heat-6']);
  const g = s.fullGrid([[1, 2], [3]]);
  assert.equal(g.length, 7);
  assert.ok(g.every((row) => row.length === 24));
  assert.deepEqual(g[0].slice(0, 3), [1, 2, 0]);
  assert.equal(s.gridMax(g), 3);
  assert.equal(s.gridMax(s.fullGrid(undefined)), 0);
});

test('map circles grow with the area, not the radius', () => {
  assert.equal(s.bubbleRadius(0, 10), 5);
  assert.equal(s.bubbleRadius(10, 10), 30);
  assert.equal(s.bubbleRadius(10, 40), 18);
  assert.ok(s.bubbleRadius(1, 100) > 5);
});

test('the trend chart: total, each hotspot by name, external series aligned by period', () => {
  const inc = {
    by_hotspot: [{ hotspot: 'h1', name: 'Promenade', lat: null, lon: null, count: 5 }],
    trend: {
      periods: ['2026-W01', '2026-W02', '2026-W03'],
      total: [4, 2, 1],
      by_hotspot: [
        { hotspot: 'h1', counts: [3, 1, 1] },
        { hotspot: 'h2aaaaaa-0000', counts: [1, 1] },
      ],
    },
  };
  const ext = {
    periods: ['2025-W52', '2026-W02', '2026-W03'],
    series: [{ source: 'police', category: 'violence', area: { kind: 'district', value: 'North' }, area_name: 'North', counts: [9, 7, 5] }],
  };
  const c = s.trendChart(inc, ext);
  assert.deepEqual(c.periods, ['2026-W01', '2026-W02', '2026-W03']);
  assert.deepEqual(
    c.lines.map((l) => [l.kind, l.name, l.values]),
    [
      ['total', '', [4, 2, 1]],
      ['hotspot', 'Promenade', [3, 1, 1]],
      ['hotspot', 'h2aaaaaa', [1, 1, null]],
      ['external', 'North', [null, 7, 5]],
    ],
  );
  assert.equal(c.lines[3].source, 'police');
  assert.equal(c.lines[3].category, 'violence');
  assert.deepEqual(s.plotData(c)[0], [0, 1, 2]);
  assert.equal(s.plotData(c).length, 5);
  assert.equal(s.trendChart(inc, null).lines.length, 3);
});

test('a rate ratio in words: more than noise only when the interval leaves 1 out', () => {
  const r = (ratio, low, high) => ({ ratio, low, high, dispersion: 1 });
  assert.equal(s.verdictOf(r(0.61, 0.55, 0.68)), 'fell');
  assert.equal(s.verdictOf(r(1.4, 1.1, 1.8)), 'rose');
  assert.equal(s.verdictOf(r(0.8, 0.5, 1.2)), 'none');
  assert.equal(s.verdictOf(r(0.8, 0.5, 1)), 'none', 'an interval reaching 1 is no clear change');
  assert.equal(s.verdictOf(r(null, 0.1, 40)), 'unknown');
  assert.equal(s.verdictOf(null), 'unknown');
  assert.equal(s.ratioText(r(0.61, 0.5512, 0.678)), '0.61 (0.55–0.68)');
  assert.equal(s.ratioText(r(null, 0, 1)), null);
  assert.equal(s.changePercent(r(0.61, 0.55, 0.68)), -39);
  assert.equal(s.changePercent(r(1.25, 1, 2)), 25);
});

test('the weekly chart of an operation and its phases as runs', () => {
  const weeks = [
    { first_day: '2026-01-05', phase: 'before', incidents: 5, comparison_incidents: 4 },
    { first_day: '2026-01-12', phase: 'before', incidents: 6, comparison_incidents: 5 },
    { first_day: '2026-01-19', phase: 'during', incidents: 2, comparison_incidents: 5 },
    { first_day: '2026-01-26', phase: 'after', incidents: 3, comparison_incidents: 4 },
  ];
  const c = s.effectChart(weeks);
  assert.deepEqual(c.periods, ['2026-01-05', '2026-01-12', '2026-01-19', '2026-01-26']);
  assert.deepEqual(c.target, [5, 6, 2, 3]);
  assert.deepEqual(c.comparison, [4, 5, 5, 4]);
  assert.deepEqual(s.phaseRuns(c.phases), [
    ['before', 0, 1],
    ['during', 2, 2],
    ['after', 3, 3],
  ]);
  assert.deepEqual(s.phaseRuns([]), []);
  // Against nine comparison hotspots, the comparison is the average hotspot's.
  const avg = s.effectChart(
    weeks.map((w) => ({ ...w, comparison_incidents: w.comparison_incidents * 9 })),
    9,
  );
  assert.deepEqual(avg.comparison, [4, 5, 5, 4]);
  assert.deepEqual(avg.target, [5, 6, 2, 3]);
});

test('per-member averages round to one decimal and keep gaps', () => {
  assert.deepEqual(s.averageSeries([150, 10, null, 0], 9), [16.7, 1.1, null, 0]);
  assert.deepEqual(s.averageSeries([3, null], 0), [null, null]);
});

test('the trend splits into total, hotspots and imported series', () => {
  const c = {
    periods: ['a', 'b'],
    lines: [
      { kind: 'total', name: '', values: [2000, 1800] },
      { kind: 'hotspot', name: 'H1', values: [40, 50] },
      { kind: 'hotspot', name: 'H2', values: [200, 250] },
      { kind: 'external', name: 'D1', source: 'police', category: 'x', values: [7, null] },
    ],
  };
  const p = s.splitChart(c);
  assert.deepEqual(p.total.periods, ['a', 'b']);
  assert.deepEqual(p.total.lines.map((l) => l.kind), ['total']);
  assert.deepEqual(p.hotspots.lines.map((l) => l.name), ['H1', 'H2']);
  assert.deepEqual(p.external.lines.map((l) => l.name), ['D1']);
  assert.deepEqual(s.splitChart({ periods: [], lines: [] }).external.lines, []);
});

test('ISO weeks and the last full one', () => {
  const d = (x) => new Date(`${x}T12:00:00Z`);
  assert.equal(s.isoWeek(d('2026-12-07')), '2026-W50'); // a Monday
  assert.equal(s.isoWeek(d('2026-12-06')), '2026-W49'); // a Sunday
  assert.equal(s.isoWeek(d('2027-01-01')), '2026-W53'); // 2026 has 53 weeks
  assert.equal(s.isoWeek(d('2025-12-29')), '2026-W01');
  assert.equal(s.isoWeek(d('2021-01-03')), '2020-W53');
  assert.equal(s.lastFullWeek(d('2026-12-07')), '2026-W49');
  assert.equal(s.lastFullWeek(d('2026-12-13')), '2026-W49');
  assert.equal(s.lastFullWeek(d('2026-01-05')), '2026-W01');
  assert.equal(s.lastFullWeek(d('2026-01-04')), '2025-W52');
  assert.ok(s.weekOk('2026-W49'));
  assert.ok(!s.weekOk('2026-W54'));
  assert.ok(!s.weekOk('2026-W00'));
  assert.ok(!s.weekOk(''));
});

test('the weekly report paths', () => {
  assert.equal(s.weeklyReportPath('2026-W49', 'he', 'pdf'), '/api/reports/weekly?week=2026-W49&lang=he&format=pdf');
  assert.equal(s.weeklyReportPath('2026-W49', 'en', 'csv'), '/api/reports/weekly?week=2026-W49&lang=en&format=csv');
  assert.equal(s.reportFilePath('weekly-2026-W48-he.pdf'), '/api/reports/files/weekly-2026-W48-he.pdf');
  assert.equal(s.reportFilePath('a b/c'), '/api/reports/files/a%20b%2Fc');
});

test('the operation form: what it lacks, and the body it sends', () => {
  const f = { ...s.newOperationForm(), name: ' Night patrol ', start: '2026-02-01', end: '2026-02-28' };
  assert.equal(s.operationProblem(s.newOperationForm()), 'name');
  assert.equal(s.operationProblem({ ...f, start: '2026-02-30' }), 'start');
  assert.equal(s.operationProblem({ ...f, end: '2026-01-31' }), 'end');
  assert.equal(s.operationProblem(f), 'hotspots');
  const g = { ...f, hotspots: ['h1'], comparison: ['h1', 'h2'], kinds: ['loitering'] };
  assert.equal(s.operationProblem(g), null);
  assert.equal(s.operationProblem({ ...g, windowStart: '22:00' }), 'window');
  assert.equal(s.operationProblem({ ...g, windowStart: '22:00', windowUntil: '4:00' }), 'window');
  assert.deepEqual(s.operationBody(g), {
    name: 'Night patrol',
    start: '2026-02-01',
    end: '2026-02-28',
    hotspots: ['h1'],
    kinds: ['loitering'],
    comparison: ['h2'],
  });
  assert.deepEqual(s.operationBody({ ...g, windowStart: '22:00', windowUntil: '04:00' }).window, { from: '22:00', to: '04:00' });
  assert.equal(s.operationFieldOf('window.to must be HH:MM'), 'window');
  assert.equal(s.operationFieldOf('comparison hotspot 1234 does not exist'), 'hotspots');
  assert.equal(s.operationFieldOf('end must not be before start'), 'end');
  assert.equal(s.operationFieldOf('name is required'), 'name');
  assert.equal(s.operationFieldOf('database unavailable'), null);
  assert.deepEqual(s.toggle(['a'], 'b'), ['a', 'b']);
  assert.deepEqual(s.toggle(['a', 'b'], 'a'), ['b']);
});

test('counts, shares and fixed decimals', () => {
  assert.equal(s.countOf([{ key: 'false_alarm', count: 3 }], 'false_alarm'), 3);
  assert.equal(s.countOf([], 'false_alarm'), 0);
  assert.equal(s.percent(1, 3), 33);
  assert.equal(s.percent(1, 0), null);
  assert.equal(s.fixed(0.605), '0.60');
  assert.equal(s.fixed(Infinity), '∞');
});
