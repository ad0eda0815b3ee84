import type { TorrentStatus } from '@spritzle/engine';
import { resolveHash } from '../client/api.js';
import { clientFrom, percent, print, printJson, rate } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { compactDuration, compactRatio, escapeControl, formatBytes } from '../format.js';

export type StatusOptions = ClientCommandOptions;

function time(unixSeconds: number): string {
  return unixSeconds > 0 ? new Date(unixSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
}

/** The human view of a status: the fields people ask about, one per line. */
export function describeStatus(s: TorrentStatus): string {
  const lines: [string, string][] = [
    ['name', s.name !== '' ? escapeControl(s.name) : '(not known yet: no metadata)'],
    ['info-hash', escapeControl(s.info_hash)],
    ['state', `${escapeControl(s.state)}${s.paused ? ', paused' : ''}`],
    ['progress', `${percent(s.progress)}${s.has_metadata ? ` (${formatBytes(s.total_wanted_done)} of ${formatBytes(s.total_wanted)})` : ''}`],
    ['download', `${rate(s.download_payload_rate)} (${formatBytes(s.all_time_download)} in all)`],
    ['upload', `${rate(s.upload_payload_rate)} (${formatBytes(s.all_time_upload)} in all)`],
    ['eta', s.eta === 0 ? 'complete' : s.eta < 0 ? 'unknown (nothing flowing)' : compactDuration(s.eta)],
    ['ratio', compactRatio(s.ratio)],
    ['peers', `${s.num_peers} connected, ${s.num_seeds} of them seed${s.num_seeds === 1 ? '' : 's'}`],
    ['save path', escapeControl(s.save_path)],
    ['added', time(s.added_time)],
    ['completed', time(s.completed_time)],
  ];
  if (s.error) lines.push(['error', escapeControl(s.error)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join('');
}

/** `spritzle status <hash>`: GET /torrent/<hash>; --json prints the API's whole status object. */
export async function runStatus(hashArg: string, opts: StatusOptions): Promise<number> {
  const client = clientFrom(opts);
  const status = await client.torrentStatus(await resolveHash(client, hashArg));
  await (opts.json ? printJson(status) : print(describeStatus(status)));
  return 0;
}
