// The plain coordinate map as SVG (../lib/map.ts): hotspots, alerts and units on a flat local
// projection with a scale bar and north up, never mirrored; under them the site's map tiles
// where it configured a tile server (`[console] map_tiles`), else nothing that needs a network. Used by the units page (where a
// click picks a place) and by an alert's details (its place and the units around it).

import type { Unit } from '../lib/alerts';
import { fit, type LatLon, project, scaleBarM, tilesFor, tileUrl, unproject } from '../lib/map';
import { session, t } from '../store';

/** A hotspot on the map. */
export interface Spot {
  id: string;
  /** Drawn beside it; empty: not drawn (the caller names it elsewhere). */
  name: string;
  at: LatLon;
  /** The circle's radius (default 14), e.g. by a count. */
  r?: number;
}

export function MapSvg(props: {
  width: number;
  height: number;
  label: string;
  spots: Spot[];
  alerts: { id: string; severity: string; location: LatLon }[];
  units: Unit[];
  /** A place picked by a click, marked with a cross. */
  picked?: LatLon | null;
  /** Called with the place under a click; without it the map takes no clicks. */
  onPick?: (p: LatLon) => void;
  minSpanM?: number;
}) {
  const { width: W, height: H } = props;
  const points: LatLon[] = [
    ...props.spots.map((s) => s.at),
    ...props.units.flatMap((x) => (x.position ? [x.position] : [])),
    ...props.alerts.map((a) => a.location),
  ];
  const v = fit(points, W, H, 0.15, props.minSpanM);
  const bar = scaleBarM(v);
  const onPick = props.onPick;
  const pick = (e: MouseEvent) => {
    if (!onPick) return;
    const el = e.currentTarget as SVGSVGElement;
    const r = el.getBoundingClientRect();
    onPick(unproject(v, ((e.clientX - r.left) / r.width) * W, ((e.clientY - r.top) / r.height) * H));
  };
  const picked = props.picked ? project(v, props.picked) : null;
  const server = session.value?.map_tiles;
  const tiles = server ? tilesFor(v, server.max_zoom) : [];
  return (
    <svg
      dir="ltr"
      class={`map${onPick ? ' map-pickable' : ''}`}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={props.label}
      onClick={pick}
    >
      <rect class="map-bg" x="0" y="0" width={W} height={H} />
      {server &&
        tiles.map((tile) => (
          <image
            key={`${tile.z}/${tile.x}/${tile.y}`}
            class="map-tile"
            href={tileUrl(server.url, tile)}
            x={tile.px}
            y={tile.py}
            width={tile.w}
            height={tile.h}
            preserveAspectRatio="none"
          />
        ))}
      {props.spots.map((s) => {
        const p = project(v, s.at);
        return (
          <g key={s.id} class="map-hotspot" data-hotspot={s.id} transform={`translate(${p.x} ${p.y})`}>
            <circle r={s.r ?? 14} />
            {s.name !== '' && (
              <text y={-((s.r ?? 14) + 6)} text-anchor="middle">
                {s.name}
              </text>
            )}
          </g>
        );
      })}
      {props.alerts.map((a) => {
        const p = project(v, a.location);
        return (
          <g key={a.id} class={`map-alert sev-${a.severity}`} data-alert={a.id} transform={`translate(${p.x} ${p.y})`}>
            <path d="M0 -11 L11 0 L0 11 L-11 0 Z" />
          </g>
        );
      })}
      {props.units.map((x) => {
        if (!x.position) return null;
        const p = project(v, x.position);
        return (
          <g key={x.id} class={`map-unit status-${x.status}`} data-unit={x.id} transform={`translate(${p.x} ${p.y})`}>
            <rect x="-7" y="-7" width="14" height="14" />
            <text x="11" y="5">
              {x.name}
            </text>
          </g>
        );
      })}
      {picked && (
        <g class="map-pick" transform={`translate(${picked.x} ${picked.y})`}>
          <circle r="9" />
          <path d="M-15 0 H15 M0 -15 V15" />
        </g>
      )}
      <g class="map-scale" transform={`translate(16 ${H - 18})`}>
        <path d={`M0 0 H${bar * v.scale}`} />
        <text x="0" y="-6">
          {bar >= 1000 ? `${bar / 1000} km` : `${bar} m`}
        </text>
      </g>
      <text class="map-north" x={W - 20} y="28" text-anchor="middle">
        {t.value('units.north')}
      </text>
      {server?.attribution && (
        <text class="map-attribution" x={W - 8} y={H - 8} text-anchor="end">
          {server.attribution}
        </text>
      )}
    </svg>
  );
}
