import { clientFrom, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { TABLE_FIELDS, torrentTable } from '../client/torrent-table.js';

export type LsOptions = ClientCommandOptions;

/** The terminal's width, if stdout is one (into a pipe nothing is cut). */
export function terminalColumns(): number | undefined {
  const cols = process.stdout.isTTY ? process.stdout.columns : undefined;
  return cols !== undefined && cols > 0 ? cols : undefined;
}

/**
 * `spritzle ls`: one row per torrent, in the daemon's order: name, state, done, size, rates, peers, ETA,
 * ratio and hash (8 characters on a terminal, whole into a pipe). --json prints the API's list as it came.
 */
export async function runLs(opts: LsOptions): Promise<number> {
  const torrents = await clientFrom(opts).listTorrents(TABLE_FIELDS);
  if (opts.json) {
    await printJson(torrents);
    return 0;
  }
  if (torrents.length === 0) {
    await print('no torrents\n');
    return 0;
  }
  await print(torrentTable(torrents, { columns: terminalColumns() }));
  return 0;
}
