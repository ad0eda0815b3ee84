import { resolveHash } from '../client/api.js';
import { clientFrom, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { escapeControl } from '../format.js';

export type RenameOptions = ClientCommandOptions;

/**
 * `spritzle rename <hash> <index> <name>`: POST /torrent/<hash>/rename (libtorrent's rename_file). The
 * name is a path relative to the torrent's save path; the daemon answers with the file list after it.
 */
export async function runRename(hashArg: string, index: number, name: string, opts: RenameOptions): Promise<number> {
  const client = clientFrom(opts);
  const files = await client.renameFile(await resolveHash(client, hashArg), index, name);
  if (opts.json) await printJson(files);
  else await print(`file ${index} is now ${escapeControl(files[index]?.path ?? name)}\n`);
  return 0;
}
