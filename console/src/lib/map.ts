// The plain coordinate map: hotspots, units and alerts drawn on a local flat projection, with no
// tiles and no network (tested under Node).
//
// Invariants:
// - north is up and east is right in every language (a map is not mirrored);
// - one metre is the same number of pixels north–south and east–west (equirectangular with the
//   cosine of the middle latitude), and the view fits every point with a margin;
// - `unproject(project(p)) == p` up to rounding, so a click picks the place under the pointer;
// - tiles of a site's tile server (Web Mercator) are placed by projecting their corners: at city
//   scale this projection and Mercator agree to well under a pixel per tile.

export interface LatLon {
  lat: number;
  lon: number;
}

/** The area a map shows. */
export interface View {
  /** Centre of the view. */
  lat: number;
  lon: number;
  /** Pixels per metre. */
  scale: number;
  width: number;
  height: number;
}

const M_PER_DEG_LAT = 110_540;
const M_PER_DEG_LON_EQ = 111_320;

function mPerDegLon(lat: number): number {
  return M_PER_DEG_LON_EQ * Math.cos((lat * Math.PI) / 180);
}

/** A view of `width`×`height` pixels holding every point with `margin` of the span around them,
 * and at least `minSpanM` metres across. With no points: a 1 km view of 0,0. */
export function fit(points: readonly LatLon[], width: number, height: number, margin = 0.15, minSpanM = 400): View {
  if (points.length === 0) return { lat: 0, lon: 0, scale: Math.min(width, height) / 1000, width, height };
  let [minLat, maxLat, minLon, maxLon] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of points) {
    minLat = Math.min(minLat, p.lat);
    maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon);
    maxLon = Math.max(maxLon, p.lon);
  }
  const lat = (minLat + maxLat) / 2;
  const lon = (minLon + maxLon) / 2;
  const spanX = Math.max((maxLon - minLon) * mPerDegLon(lat), minSpanM) * (1 + 2 * margin);
  const spanY = Math.max((maxLat - minLat) * M_PER_DEG_LAT, minSpanM) * (1 + 2 * margin);
  return { lat, lon, scale: Math.min(width / spanX, height / spanY), width, height };
}

/** Pixel position of `p` in `v`. */
export function project(v: View, p: LatLon): { x: number; y: number } {
  return {
    x: v.width / 2 + (p.lon - v.lon) * mPerDegLon(v.lat) * v.scale,
    y: v.height / 2 - (p.lat - v.lat) * M_PER_DEG_LAT * v.scale,
  };
}

/** The place under pixel (x, y) of `v`. */
export function unproject(v: View, x: number, y: number): LatLon {
  return {
    lat: v.lat - (y - v.height / 2) / (M_PER_DEG_LAT * v.scale),
    lon: v.lon + (x - v.width / 2) / (mPerDegLon(v.lat) * v.scale),
  };
}

/** A round length for the scale bar: about a fifth of the view's width, metres. */
export function scaleBarM(v: View): number {
  const target = v.width / v.scale / 5;
  const pow = 10 ** Math.floor(Math.log10(target));
  for (const m of [5, 2, 1]) if (m * pow <= target) return m * pow;
  return pow;
}

/** Distance in metres between two places, on the same flat projection (good to well under 1 % at
 * city scale). */
export function distanceM(a: LatLon, b: LatLon): number {
  const lat = (a.lat + b.lat) / 2;
  const dx = (b.lon - a.lon) * mPerDegLon(lat);
  const dy = (b.lat - a.lat) * M_PER_DEG_LAT;
  return Math.hypot(dx, dy);
}

/** Metres per pixel of a 256-pixel Web Mercator tile at zoom 0 on the equator. */
const MERCATOR_M_PER_PX = 156_543.033_92;

/** One map tile placed in a view. */
export interface PlacedTile {
  z: number;
  x: number;
  y: number;
  /** Its rectangle in the view's pixels. */
  px: number;
  py: number;
  w: number;
  h: number;
}

function tileX(lon: number, n: number): number {
  return ((lon + 180) / 360) * n;
}

function tileY(lat: number, n: number): number {
  const r = (Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI) / 180;
  return ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
}

function tileLat(y: number, n: number): number {
  return (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI;
}

/** The XYZ tiles covering `v` at the zoom whose pixels are closest to the view's (at most
 * `maxZoom`, and lower while more than `maxTiles` would be needed), each with its rectangle. */
export function tilesFor(v: View, maxZoom: number, maxTiles = 48): PlacedTile[] {
  const ideal = Math.log2(MERCATOR_M_PER_PX * Math.cos((v.lat * Math.PI) / 180) * v.scale);
  let z = Math.max(0, Math.min(Math.floor(maxZoom), Math.round(ideal)));
  const nw = unproject(v, 0, 0);
  const se = unproject(v, v.width, v.height);
  for (;;) {
    const n = 2 ** z;
    const clamp = (t: number) => Math.max(0, Math.min(n - 1, Math.floor(t)));
    const [x0, x1] = [clamp(tileX(nw.lon, n)), clamp(tileX(se.lon, n))];
    const [y0, y1] = [clamp(tileY(nw.lat, n)), clamp(tileY(se.lat, n))];
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > maxTiles && z > 0) {
      z -= 1;
      continue;
    }
    const out: PlacedTile[] = [];
    for (let x = x0; x <= x1; x++) {
      for (let y = y0; y <= y1; y++) {
        const a = project(v, { lat: tileLat(y, n), lon: (x / n) * 360 - 180 });
        const b = project(v, { lat: tileLat(y + 1, n), lon: ((x + 1) / n) * 360 - 180 });
        out.push({ z, x, y, px: a.x, py: a.y, w: b.x - a.x, h: b.y - a.y });
      }
    }
    return out;
  }
}

/** A tile's address from a `{z}/{x}/{y}` template. */
export function tileUrl(template: string, t: { z: number; x: number; y: number }): string {
  return template.split('{z}').join(String(t.z)).split('{x}').join(String(t.x)).split('{y}').join(String(t.y));
}
