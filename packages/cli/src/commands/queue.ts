import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { escapeControl } from '../format.js';

export type QueueOptions = ClientCommandOptions;

export const QUEUE_MOVES = ['top', 'up', 'down', 'bottom'] as const;
export type QueueMove = (typeof QUEUE_MOVES)[number];

/** Beyond any queue: the daemon clamps a position to the queue's end. */
const LAST = Number.MAX_SAFE_INTEGER;

/** Where a move takes a torrent at `position` (0 at the top). */
export function queueTarget(move: QueueMove, position: number): number {
  switch (move) {
    case 'top': return 0;
    case 'up': return Math.max(0, position - 1);
    case 'down': return position + 1;
    case 'bottom': return LAST;
  }
}

/**
 * `spritzle queue top|up|down|bottom <hash>`: libtorrent's queue_position_* through the REST API (GET its
 * queue_position, PATCH the new one). Only torrents still downloading are queued; a finished one is refused.
 */
export async function runQueue(move: string, hashArg: string, opts: QueueOptions): Promise<number> {
  if (!(QUEUE_MOVES as readonly string[]).includes(move)) throw new CliError(`queue: "${escapeControl(move)}" is not one of ${QUEUE_MOVES.join(', ')}`);
  const client = clientFrom(opts);
  const hash = await resolveHash(client, hashArg);
  const { queue_position: position, name } = await client.torrentFields(hash, ['queue_position', 'name']);
  if (position < 0) throw new CliError(`${nameAndHash(name, hash)} is not in the download queue (finished torrents are not queued)`);
  const st = await client.updateTorrent(hash, { queue_position: queueTarget(move as QueueMove, position) });
  if (opts.json) await printJson(st);
  else await print(`${nameAndHash(st.name, st.info_hash)}: queue position ${st.queue_position} (0 is the top)\n`);
  return 0;
}
