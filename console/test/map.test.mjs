// The plain coordinate map: fitting, projecting both ways, the scale bar.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lib } from './helpers.mjs';

const map = await lib('map');
const { fit, project, unproject, scaleBarM } = map;

const tlv = [
  { lat: 32.08, lon: 34.77 },
  { lat: 32.09, lon: 34.78 },
];

test('every point fits inside the view, north up and east right', () => {
  const v = fit(tlv, 800, 600);
  for (const p of tlv) {
    const { x, y } = project(v, p);
    assert.ok(x > 0 && x < 800 && y > 0 && y < 600, `${x},${y}`);
  }
  const sw = project(v, tlv[0]);
  const ne = project(v, tlv[1]);
  assert.ok(ne.x > sw.x, 'east is right');
  assert.ok(ne.y < sw.y, 'north is up');
});

test('a metre is a metre both ways', () => {
  const v = fit(tlv, 800, 600);
  const o = project(v, { lat: 32.085, lon: 34.775 });
  const north = project(v, { lat: 32.085 + 100 / 110_540, lon: 34.775 });
  const east = project(v, { lat: 32.085, lon: 34.775 + 100 / (111_320 * Math.cos((32.085 * Math.PI) / 180)) });
  assert.ok(Math.abs(o.y - north.y - (east.x - o.x)) < 0.01);
});

test('a click picks the place under it', () => {
  const v = fit(tlv, 800, 600);
  for (const p of [...tlv, { lat: 32.0812, lon: 34.7731 }]) {
    const { x, y } = project(v, p);
    const back = unproject(v, x, y);
    assert.ok(Math.abs(back.lat - p.lat) < 1e-9 && Math.abs(back.lon - p.lon) < 1e-9);
  }
});

test('one point or none still gives a usable view, and the scale bar is round', () => {
  const one = fit([{ lat: 59.33, lon: 18.06 }], 500, 500);
  assert.ok(one.scale > 0 && Number.isFinite(one.scale));
  assert.deepEqual(project(one, { lat: 59.33, lon: 18.06 }), { x: 250, y: 250 });
  assert.ok(fit([], 100, 100).scale > 0);
  const bar = scaleBarM(one);
  assert.ok([1, 2, 5].includes(bar / 10 ** Math.floor(Math.log10(bar))), String(bar));
});

test('distances on the flat projection match the great circle at city scale', () => {
  // Tel Aviv: 0.01° of latitude is about 1105 m, 0.01° of longitude about 943 m at 32°N.
  const a = { lat: 32.08, lon: 34.77 };
  assert.ok(Math.abs(map.distanceM(a, { lat: 32.09, lon: 34.77 }) - 1105.4) < 1);
  assert.ok(Math.abs(map.distanceM(a, { lat: 32.08, lon: 34.78 }) - 943.4) < 2);
  assert.equal(map.distanceM(a, a), 0);
  const far = { lat: 32.3, lon: 34.95 };
  assert.equal(map.distanceM(a, far), map.distanceM(far, a));
  assert.ok(map.distanceM(a, far) > 25_000);
});

test('tiles of a tile server cover the view, at the zoom of its pixels, in place', () => {
  const v = fit(tlv, 800, 560);
  const tiles = map.tilesFor(v, 19);
  assert.ok(tiles.length > 0 && tiles.length <= 48, `${tiles.length}`);
  const z = tiles[0].z;
  assert.ok(tiles.every((t) => t.z === z));
  // A tile's pixels are about the view's pixels: 256 wide, within a factor of √2.
  for (const t of tiles) {
    assert.ok(t.w > 256 / Math.SQRT2 - 1 && t.w < 256 * Math.SQRT2 + 1, `${t.w}`);
    assert.ok(Math.abs(t.w - t.h) < 0.02 * t.w, 'square at city scale');
  }
  // Together they cover the view.
  const left = Math.min(...tiles.map((t) => t.px));
  const top = Math.min(...tiles.map((t) => t.py));
  const right = Math.max(...tiles.map((t) => t.px + t.w));
  const bottom = Math.max(...tiles.map((t) => t.py + t.h));
  assert.ok(left <= 0 && top <= 0 && right >= 800 && bottom >= 560, `${left} ${top} ${right} ${bottom}`);
  // At the scale of zoom 15's pixels, the tile under Tel Aviv's 32.08 N 34.77 E is x 19548,
  // y 13298 (the slippy-map numbering), and it is drawn where that place is.
  const at = { lat: 32.08, lon: 34.77 };
  const scale = 2 ** 15 / (156543.03392 * Math.cos((at.lat * Math.PI) / 180));
  const v15 = { lat: at.lat, lon: at.lon, scale, width: 512, height: 512 };
  const t15 = map.tilesFor(v15, 19);
  assert.ok(t15.every((t) => t.z === 15));
  const home = t15.find((t) => t.x === 19548 && t.y === 13298);
  assert.ok(home, JSON.stringify(t15.map((t) => [t.x, t.y])));
  const p = project(v15, at);
  assert.ok(p.x >= home.px && p.x <= home.px + home.w && p.y >= home.py && p.y <= home.py + home.h);
  // A low maximum zoom is kept; too many tiles lower the zoom.
  assert.ok(map.tilesFor(v, 12).every((t) => t.z <= 12));
  assert.ok(map.tilesFor(v, 19, 4).length <= 4);
  assert.equal(map.tileUrl('https://t/{z}/{x}/{y}.png', { z: 3, x: 4, y: 5 }), 'https://t/3/4/5.png');
});
