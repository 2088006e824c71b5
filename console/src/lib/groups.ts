// Saved camera groups of the live grid (per browser, in localStorage), without the DOM (tested
// under Node).
//
// Invariants:
// - what storage holds is checked before use: a group has a non-empty name (at most 60
//   characters) and at least one camera id; anything else is dropped, never shown half;
// - names are unique (saving a name again replaces that group); at most MAX_GROUPS are kept.

export interface Group {
  name: string;
  cameras: string[];
}

export const GROUPS_KEY = 'roeh.live.groups';
export const MAX_GROUPS = 50;
const MAX_NAME = 60;

/** The groups stored as `text` (JSON), checked; [] for anything unreadable. */
export function readGroups(text: string | null): Group[] {
  if (!text) return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: Group[] = [];
  for (const g of v) {
    if (typeof g !== 'object' || g === null) continue;
    const { name, cameras } = g as { name?: unknown; cameras?: unknown };
    if (typeof name !== 'string' || !Array.isArray(cameras)) continue;
    const n = name.trim();
    const cams = cameras.filter((c): c is string => typeof c === 'string' && c !== '');
    if (n === '' || n.length > MAX_NAME || cams.length === 0) continue;
    if (out.some((x) => x.name === n)) continue;
    out.push({ name: n, cameras: [...new Set(cams)] });
    if (out.length >= MAX_GROUPS) break;
  }
  return out;
}

/** `groups` with `name` saved as `cameras` (replacing a group of that name); null when the name
 * or the camera list is not acceptable. */
export function saveGroup(groups: readonly Group[], name: string, cameras: readonly string[]): Group[] | null {
  const n = name.trim();
  if (n === '' || n.length > MAX_NAME || cameras.length === 0) return null;
  const rest = groups.filter((g) => g.name !== n);
  if (rest.length >= MAX_GROUPS) return null;
  return [...rest, { name: n, cameras: [...new Set(cameras)] }].sort((a, b) => a.name.localeCompare(b.name));
}

/** `groups` without the group `name`. */
export function dropGroup(groups: readonly Group[], name: string): Group[] {
  return groups.filter((g) => g.name !== name);
}
