// Saved camera groups of the live grid.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const { readGroups, saveGroup, dropGroup, MAX_GROUPS } = await lib('groups');

test('stored groups are checked; what is not a group is dropped whole', () => {
  assert.deepEqual(readGroups(null), []);
  assert.deepEqual(readGroups('not json'), []);
  assert.deepEqual(readGroups('{"name":"x"}'), []);
  const text = JSON.stringify([
    { name: ' Night ', cameras: ['a', 'b', 'a'] },
    { name: '', cameras: ['a'] },
    { name: 'Empty', cameras: [] },
    { name: 'Night', cameras: ['c'] },
    { name: 'Bad', cameras: [1, null] },
    { name: 'x'.repeat(61), cameras: ['a'] },
    'junk',
  ]);
  assert.deepEqual(readGroups(text), [{ name: 'Night', cameras: ['a', 'b'] }]);
});

test('saving replaces a group of the same name; deleting removes it', () => {
  let g = saveGroup([], 'Promenade', ['a', 'b']);
  g = saveGroup(g, 'Bus station', ['c']);
  assert.deepEqual(g.map((x) => x.name), ['Bus station', 'Promenade']);
  g = saveGroup(g, 'Promenade', ['b']);
  assert.deepEqual(g.find((x) => x.name === 'Promenade').cameras, ['b']);
  assert.equal(saveGroup(g, '  ', ['a']), null);
  assert.equal(saveGroup(g, 'No cameras', []), null);
  assert.deepEqual(dropGroup(g, 'Promenade').map((x) => x.name), ['Bus station']);
  const full = Array.from({ length: MAX_GROUPS }, (_, i) => ({ name: `g${i}`, cameras: ['a'] }));
  assert.equal(saveGroup(full, 'one more', ['a']), null);
  assert.ok(saveGroup(full, 'g3', ['b']), 'replacing one is still possible');
});
