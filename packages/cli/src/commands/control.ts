import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';

export type ControlAction = 'pause' | 'resume' | 'recheck';
export interface ControlOptions extends ClientCommandOptions {
  /** resume only: a force-start (auto_managed false first, as qBittorrent's "Force Resume"). */
  force?: boolean;
}

const DONE: Readonly<Record<ControlAction, string>> = { pause: 'paused', resume: 'resumed', recheck: 'rechecking' };

/**
 * `spritzle pause|resume|recheck <hash>`: POST /torrent/<hash>/<action>. The API answers with the status
 * after the change, which --json prints; recheck answers once checking has started. `resume --force`
 * first PATCHes auto_managed false, so that the queue does not hold the torrent back.
 */
export async function runControl(action: ControlAction, hashArg: string, opts: ControlOptions): Promise<number> {
  const client = clientFrom(opts);
  const hash = await resolveHash(client, hashArg);
  if (action === 'resume' && opts.force === true) await client.updateTorrent(hash, { auto_managed: false });
  const status = await client.torrentAction(hash, action);
  if (opts.json) await printJson(status);
  else await print(`${action === 'resume' && opts.force === true ? 'force-started' : DONE[action]} ${nameAndHash(status.name, status.info_hash)}\n`);
  return 0;
}
