/**
 * The torrent table of `ls` and `watch`: fixed-width columns for everything but the name, so a row's
 * numbers never move whatever the state or the name, and the name takes what the terminal has left
 * (cut with "…", never the numbers).
 */
import type { TorrentStatus } from '@spritzle/engine';
import { compactBytes, compactDuration, compactRatio, displayWidth, escapeControl, fitWidth } from '../format.js';
import { displayName, percent } from './display.js';

/** The status fields a row shows (GET /torrent?fields=..., and the stats event). */
export const TABLE_FIELDS = [
  'name', 'state', 'paused', 'error', 'progress', 'total_wanted', 'download_payload_rate', 'upload_payload_rate',
  'num_peers', 'eta', 'ratio',
] as const satisfies readonly (keyof TorrentStatus)[];

export type TableTorrent = Pick<TorrentStatus, 'info_hash' | (typeof TABLE_FIELDS)[number]>;

/** A short info-hash: the commands take any unique start of one. */
export const SHORT_HASH = 8;

/** Short state labels, all within the STATE column. */
export function shortState(t: Pick<TorrentStatus, 'state' | 'paused' | 'error'>): string {
  if (t.error) return 'error';
  if (t.paused) return 'paused';
  switch (t.state) {
    case 'checking_files':
    case 'checking_resume_data': return 'checking';
    case 'downloading_metadata': return 'metadata';
    default: return escapeControl(t.state).slice(0, STATE_WIDTH);
  }
}

const STATE_WIDTH = 11;

interface Cell { header: string; width: number; value: (t: TableTorrent) => string }

/** Right-aligned figures, one space apart (each is narrower than its column, so they never touch). */
const FIGURES: readonly Cell[] = [
  { header: 'DONE', width: 6, value: (t) => percent(t.progress) },
  { header: 'SIZE', width: 5, value: (t) => compactBytes(t.total_wanted) },
  { header: 'DOWN', width: 5, value: (t) => compactBytes(t.download_payload_rate) },
  { header: 'UP', width: 5, value: (t) => compactBytes(t.upload_payload_rate) },
  { header: 'PEERS', width: 5, value: (t) => String(t.num_peers) },
  { header: 'ETA', width: 5, value: (t) => (t.eta === 0 ? 'done' : compactDuration(t.eta)) },
  { header: 'RATIO', width: 5, value: (t) => compactRatio(t.ratio) },
];

/** STATE and the figures: the same width on every row. */
function fixedPart(cells: (c: Cell) => string, state: string): string {
  return `${state.padEnd(STATE_WIDTH)}  ${FIGURES.map((c) => cells(c).padStart(c.width)).join(' ')}`;
}

export const FIXED_WIDTH = STATE_WIDTH + 2 + FIGURES.reduce((s, c) => s + c.width + 1, -1);
const MIN_NAME = 8;

export interface TableOptions {
  /** Terminal columns; undefined into a pipe (names whole, hashes whole). */
  columns?: number;
  /** Drop the HASH column (watch: its rows are not addressed). */
  noHash?: boolean;
}

/** The table, header first, each line ending in a newline and fitting `columns` when given. */
export function torrentTable(torrents: readonly TableTorrent[], opts: TableOptions = {}): string {
  const { columns, noHash = false } = opts;
  const hashWidth = noHash ? 0 : columns !== undefined ? SHORT_HASH : 40;
  const names = torrents.map((t) => displayName(t));
  const longest = Math.max(4, ...names.map(displayWidth));
  const room = columns === undefined ? longest : columns - 1 - FIXED_WIDTH - 2 - (noHash ? 0 : hashWidth + 2);
  const nameWidth = Math.max(MIN_NAME, Math.min(longest, room));
  const line = (name: string, fixed: string, hash: string): string =>
    `${fitWidth(name, nameWidth)}  ${fixed}${noHash ? '' : `  ${hash}`}`.trimEnd() + '\n';
  let out = line('NAME', fixedPart((c) => c.header, 'STATE'), 'HASH');
  torrents.forEach((t, i) => {
    out += line(names[i]!, fixedPart((c) => c.value(t), shortState(t)), escapeControl(t.info_hash).slice(0, hashWidth));
  });
  return out;
}
