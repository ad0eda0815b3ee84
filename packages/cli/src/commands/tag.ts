import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { escapeControl } from '../format.js';

export type TagOptions = ClientCommandOptions;

export const TAG_ACTIONS = ['ls', 'add', 'rm', 'create', 'delete'] as const;
const USAGE = 'spritzle tag ls | add <hash> <tag...> | rm <hash> <tag...> | create <tag...> | delete <tag...>';

/**
 * `spritzle tag ...`: qBittorrent's tags through the REST API. ls: GET /session/tags; add and rm read the
 * torrent's tags and PATCH /torrent/<hash> {tags} with the new set (the daemon validates each tag); create
 * and delete: PUT and DELETE /session/tags/<tag> (delete takes it off every torrent).
 */
export async function runTag(action: string, args: string[], opts: TagOptions): Promise<number> {
  const client = clientFrom(opts);
  if (action === 'ls') {
    if (args.length > 0) throw new CliError(`tag ls takes no arguments; usage: ${USAGE}`);
    const tags = await client.tags();
    if (opts.json) await printJson(tags);
    else await print(tags.map((t) => `${escapeControl(t)}\n`).join(''));
    return 0;
  }
  if (action === 'create' || action === 'delete') {
    if (args.length === 0) throw new CliError(`tag ${action}: expected at least one tag; usage: ${USAGE}`);
    let tags: string[] = [];
    for (const t of args) tags = action === 'create' ? await client.createTag(t) : await client.deleteTag(t);
    if (opts.json) await printJson(tags);
    else await print(`${action === 'create' ? 'created' : 'deleted'} ${args.map(escapeControl).join(', ')}\n`);
    return 0;
  }
  if (action !== 'add' && action !== 'rm') throw new CliError(`tag: "${escapeControl(action)}" is not one of ${TAG_ACTIONS.join(', ')}; usage: ${USAGE}`);
  if (args.length < 2) throw new CliError(`tag ${action}: expected a torrent and at least one tag; usage: ${USAGE}`);
  const hash = await resolveHash(client, args[0]!);
  const given = args.slice(1);
  const { tags } = await client.torrentFields(hash, ['tags']);
  const next = action === 'add' ? [...new Set([...tags, ...given])] : tags.filter((t) => !given.includes(t));
  const st = await client.updateTorrent(hash, { tags: next });
  if (opts.json) await printJson(st);
  else await print(`${nameAndHash(st.name, st.info_hash)}: ${st.tags.length === 0 ? 'no tags' : `tags ${st.tags.map(escapeControl).join(', ')}`}\n`);
  return 0;
}
