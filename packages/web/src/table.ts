import { etaSeconds } from './format.js';
import type { Row } from './live.js';

/** What the torrent table shows: filter, search and sort as pure functions of the rows. */

export type SortKey = 'name' | 'size' | 'progress' | 'state' | 'down' | 'up' | 'eta' | 'ratio' | 'peers' | 'added';
export type StateFilter = 'all' | 'downloading' | 'seeding' | 'paused' | 'checking' | 'error' | 'active';

/** Every category or tag: ALL; no category (no tag): NONE; otherwise the name. */
export const ALL = '\u0000all';
export const NONE = '';

export interface View { filter: StateFilter; category: string; tag: string; search: string; sort: SortKey; desc: boolean }

/** The state a user sees: paused and error win over the engine's phase. */
export function displayState(r: Row): string {
  if (r.error) return 'error';
  if (r.paused) return 'paused';
  if (r.state === 'checking_files' || r.state === 'checking_resume_data') return 'checking';
  if (r.state === 'downloading_metadata') return 'metadata';
  if (r.state === 'finished' || r.state === 'seeding') return 'seeding';
  return 'downloading';
}

function matches(r: Row, f: StateFilter): boolean {
  switch (f) {
    case 'all': return true;
    case 'active': return r.download_payload_rate > 0 || r.upload_payload_rate > 0;
    case 'downloading': { const s = displayState(r); return s === 'downloading' || s === 'metadata'; }
    default: return displayState(r) === f;
  }
}

function inCategory(r: Row, c: string): boolean {
  return c === ALL || (r.category ?? '') === c;
}

function hasTag(r: Row, t: string): boolean {
  if (t === ALL) return true;
  const tags = r.tags ?? [];
  return t === NONE ? tags.length === 0 : tags.includes(t);
}

/** The categories and tags the rows carry, sorted: what the filters offer. */
export function labelsOf(rows: readonly Row[]): { categories: string[]; tags: string[] } {
  const categories = new Set<string>();
  const tags = new Set<string>();
  for (const r of rows) {
    if (r.category) categories.add(r.category);
    for (const t of r.tags ?? []) tags.add(t);
  }
  return { categories: [...categories].sort(), tags: [...tags].sort() };
}

export function ratio(r: Row): number {
  const down = r.all_time_download ?? 0;
  const up = r.all_time_upload ?? 0;
  return down > 0 ? up / down : up > 0 ? Infinity : 0;
}

export function eta(r: Row): number {
  return etaSeconds(r.total_wanted - r.total_done, r.download_payload_rate);
}

const KEY: Record<SortKey, (r: Row) => number | string> = {
  name: (r) => r.name.toLowerCase(),
  size: (r) => r.total_wanted,
  progress: (r) => r.progress,
  state: (r) => displayState(r),
  down: (r) => r.download_payload_rate,
  up: (r) => r.upload_payload_rate,
  eta: (r) => eta(r),
  ratio: (r) => ratio(r),
  peers: (r) => r.num_peers,
  added: (r) => r.added_time ?? 0,
};

export function visibleRows(rows: readonly Row[], v: View): Row[] {
  const q = v.search.trim().toLowerCase();
  const out = rows.filter((r) => matches(r, v.filter) && inCategory(r, v.category) && hasTag(r, v.tag) && (q === '' || r.name.toLowerCase().includes(q)));
  const key = KEY[v.sort];
  const dir = v.desc ? -1 : 1;
  // Keys computed once per row, not once per comparison: 10,000 rows sort in a few ms.
  const keyed = out.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => (a.k < b.k ? -dir : a.k > b.k ? dir : a.r.info_hash < b.r.info_hash ? -1 : 1));
  return keyed.map((x) => x.r);
}
