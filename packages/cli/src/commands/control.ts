import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';

export type ControlAction = 'pause' | 'resume' | 'recheck';
export type ControlOptions = ClientCommandOptions;

const DONE: Readonly<Record<ControlAction, string>> = { pause: 'paused', resume: 'resumed', recheck: 'rechecking' };

/**
 * `spritzle pause|resume|recheck <hash>`: POST /torrent/<hash>/<action>. The API answers with the status
 * after the change, which --json prints; recheck answers once checking has started.
 */
export async function runControl(action: ControlAction, hashArg: string, opts: ControlOptions): Promise<number> {
  const client = clientFrom(opts);
  const status = await client.torrentAction(await resolveHash(client, hashArg), action);
  if (opts.json) await printJson(status);
  else await print(`${DONE[action]} ${nameAndHash(status.name, status.info_hash)}\n`);
  return 0;
}
