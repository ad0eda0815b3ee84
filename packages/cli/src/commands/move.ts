import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { escapeControl } from '../format.js';

export type MoveOptions = ClientCommandOptions;

/**
 * `spritzle move <hash> <dir>`: POST /torrent/<hash>/move (libtorrent's move_storage). The daemon moves
 * the files on its side, within its download root, and answers once they are there.
 */
export async function runMove(hashArg: string, savePath: string, opts: MoveOptions): Promise<number> {
  const client = clientFrom(opts);
  const st = await client.moveStorage(await resolveHash(client, hashArg), savePath);
  if (opts.json) await printJson(st);
  else await print(`moved ${nameAndHash(st.name, st.info_hash)} to ${escapeControl(st.save_path)}\n`);
  return 0;
}
