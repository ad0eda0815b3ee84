import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AddSource } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError, describeError } from '../errors.js';

export interface AddOptions extends ClientCommandOptions {
  savePath?: string;
  paused?: boolean;
  /** host:port peers for the daemon to connect (add_torrent_params.peers). */
  peer?: string[];
}

/** magnet: links and http(s) URLs go to the daemon as `url` (it fetches the .torrent); anything else is a local file. */
const URL_LIKE = /^(?:magnet:|https?:\/\/)/i;

async function sourceOf(arg: string): Promise<AddSource> {
  if (URL_LIKE.test(arg)) return { kind: 'url', url: arg };
  try {
    return { kind: 'file', name: basename(arg), bytes: await readFile(arg) };
  } catch (e) {
    const { message } = describeError(e);
    const missing = (e as { code?: unknown }).code === 'ENOENT';
    throw new CliError(missing ? `${message} (give a .torrent file, an http(s):// URL or a magnet: link)` : message);
  }
}

/**
 * `spritzle add`: POST /torrent. A local .torrent is uploaded (the daemon may run elsewhere); --save-path
 * and --paused go in `args` as add_torrent_params. `paused: true` rather than `flags: ["paused"]`: a flags
 * list replaces the default flags, the boolean only adds the pause (and drops auto_managed, which would
 * start the torrent again).
 */
export async function runAdd(arg: string, opts: AddOptions): Promise<number> {
  const client = clientFrom(opts);
  const source = await sourceOf(arg);
  const args: Record<string, unknown> = {};
  if (opts.savePath !== undefined) args.save_path = opts.savePath;
  if (opts.paused) args.paused = true;
  if (opts.peer?.length) args.peers = opts.peer;
  const added = await client.addTorrent(source, args);
  if (opts.json) {
    await printJson(added);
    return 0;
  }
  // The name only makes the line friendlier: the torrent is added whatever this second request does.
  let name = '';
  try {
    name = (await client.torrentFields(added.info_hash, ['name'])).name;
  } catch {
    name = '';
  }
  const what = nameAndHash(name === added.info_hash ? '' : name, added.info_hash);
  await print(`added ${what}${opts.paused ? ', paused' : ''}\n`);
  return 0;
}
