/** Text output shared by the client commands: state labels, rates, tables, and writing to stdout. */
import type { TorrentStatus } from '@spritzle/engine';
import { escapeControl, escapeControlKeepLines, formatBytes, jsonForTerminal } from '../format.js';
import { ApiClient } from './api.js';
import type { ClientCommandOptions } from './options.js';

export function clientFrom(opts: ClientCommandOptions): ApiClient {
  return new ApiClient({ url: opts.url, token: opts.token, timeoutMs: opts.timeout * 1000 });
}

/**
 * Writes to stdout and waits until the data is handed to the OS: main ends with process.exit(), which would
 * cut off output still queued for a slow pipe.
 */
export function print(text: string): Promise<void> {
  // Values are escaped where they are formatted; this catches whatever was not (lines stay lines).
  return write(escapeControlKeepLines(text));
}

function write(text: string): Promise<void> {
  guardStdout();
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (e) => (e && (e as NodeJS.ErrnoException).code !== 'EPIPE' ? reject(e) : resolve()));
  });
}

let guarded = false;

/**
 * `spritzle ls | head -1`: the reader may leave before everything is written. That is no failure of the
 * command (and no reason for a stack trace): stop quietly, as a pipeline expects.
 */
function guardStdout(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/** The API's JSON as one line: what --json prints. */
export function printJson(value: unknown): Promise<void> {
  return write(`${jsonForTerminal(value)}\n`);
}

/**
 * What a person calls the torrent's state: an error or a pause says more than libtorrent's state, which
 * stays "downloading" while paused.
 */
export function stateLabel(t: Pick<TorrentStatus, 'state' | 'paused' | 'error'>): string {
  if (t.error) return 'error';
  if (t.paused) return 'paused';
  return escapeControl(t.state);
}

export function displayName(t: Pick<TorrentStatus, 'name' | 'info_hash'>): string {
  return t.name !== '' ? escapeControl(t.name) : t.info_hash;
}

/** "name (hash)" for messages, or the hash alone when there is no name. */
export function nameAndHash(name: string, hash: string): string {
  return name !== '' ? `${escapeControl(name)} (${escapeControl(hash)})` : escapeControl(hash);
}

/** "42.0%"; just under 100% stays "99.9%", so a torrent shown at 100% is really complete. */
export function percent(progress: number): string {
  return `${(Math.floor(progress * 1000) / 10).toFixed(1)}%`;
}

/** Bytes per second: "1.50 MiB/s", "0 B/s". */
export function rate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Cuts `s` to `width` characters with an ellipsis. */
export function truncate(s: string, width: number): string {
  if (s.length <= width) return s;
  return width <= 1 ? s.slice(0, width) : `${s.slice(0, width - 1)}…`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** A plain-text table: a header row, columns two spaces apart, no trailing blanks. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells
    .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
    .join('  ')
    .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].map((l) => `${l}\n`).join('');
}
