import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';

export interface RmOptions extends ClientCommandOptions {
  deleteFiles?: boolean;
}

/**
 * `spritzle rm <hash> [--delete-files]`: DELETE /torrent/<hash>. The API answers an empty 200, so --json
 * prints what was done in the shape of the engine's torrent_removed event.
 */
export async function runRm(hashArg: string, opts: RmOptions): Promise<number> {
  const client = clientFrom(opts);
  const hash = await resolveHash(client, hashArg);
  const deleteFiles = opts.deleteFiles === true;
  // The name, for a line that shows what went; this also answers the API's 404 for an unknown hash.
  const name = opts.json ? '' : (await client.torrentFields(hash, ['name'])).name;
  await client.removeTorrent(hash, deleteFiles);
  if (opts.json) await printJson({ info_hash: hash, deleted_files: deleteFiles });
  else await print(`removed ${nameAndHash(name, hash)}${deleteFiles ? ' and deleted its files' : ''}\n`);
  return 0;
}
