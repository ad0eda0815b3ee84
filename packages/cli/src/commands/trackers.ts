import { resolveHash } from '../client/api.js';
import { clientFrom, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { escapeControl } from '../format.js';

export type TrackersOptions = ClientCommandOptions;

/** `spritzle trackers <hash>`: the torrent's trackers: tier, state, peers from the last answer, URL, message. */
export async function runTrackers(hashArg: string, opts: TrackersOptions): Promise<number> {
  const client = clientFrom(opts);
  const trackers = await client.torrentTrackers(await resolveHash(client, hashArg));
  if (opts.json) {
    await printJson(trackers);
    return 0;
  }
  if (trackers.length === 0) {
    await print('no trackers\n');
    return 0;
  }
  let out = 'TIER  STATUS      PEERS  URL\n';
  for (const t of trackers) {
    const msg = t.message !== '' ? `  (${escapeControl(t.message)})` : '';
    out += `${String(t.tier).padStart(4)}  ${t.status.padEnd(10)}  ${String(t.num_peers).padStart(5)}  ${escapeControl(t.url)}${msg}\n`;
  }
  await print(out);
  return 0;
}
