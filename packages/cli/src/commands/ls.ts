import { clientFrom, displayName, percent, print, printJson, rate, stateLabel, table, truncate, type Column } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';

export type LsOptions = ClientCommandOptions;

/** The status fields the table needs (GET /torrent?fields=...), so the daemon does not send piece bitfields. */
const FIELDS = ['name', 'state', 'paused', 'error', 'progress', 'download_payload_rate', 'upload_payload_rate'] as const;

const COLUMNS: readonly Column[] = [
  { header: 'NAME' }, { header: 'STATE' }, { header: 'PROGRESS', align: 'right' },
  { header: 'DOWN', align: 'right' }, { header: 'UP', align: 'right' }, { header: 'HASH' },
];

/** `spritzle ls`: one row per torrent, in the daemon's order. --json prints the API's list as it came. */
export async function runLs(opts: LsOptions): Promise<number> {
  const torrents = await clientFrom(opts).listTorrents(FIELDS);
  if (opts.json) {
    await printJson(torrents);
    return 0;
  }
  if (torrents.length === 0) {
    await print('no torrents\n');
    return 0;
  }
  const rows = torrents.map((t) => [
    displayName(t), stateLabel(t), percent(t.progress), rate(t.download_payload_rate), rate(t.upload_payload_rate), t.info_hash,
  ]);
  // On a terminal long names are cut so rows do not wrap; into a pipe they stay whole.
  const cols = process.stdout.isTTY ? process.stdout.columns : undefined;
  if (cols !== undefined && cols > 0) {
    const others = COLUMNS.slice(1).reduce((sum, c, i) => sum + Math.max(c.header.length, ...rows.map((r) => r[i + 1]!.length)) + 2, 0);
    const width = Math.max(12, cols - others);
    for (const r of rows) r[0] = truncate(r[0]!, width);
  }
  await print(table(COLUMNS, rows));
  return 0;
}
