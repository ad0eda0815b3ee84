import { resolveHash } from '../client/api.js';
import { clientFrom, nameAndHash, print, printJson, table } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { escapeControl } from '../format.js';

export interface CategoryOptions extends ClientCommandOptions {
  /** For `add`: where its torrents are saved (on the daemon's side); none: the session's save path. */
  savePath?: string;
}

export const CATEGORY_ACTIONS = ['ls', 'add', 'rm', 'set'] as const;
const USAGE = 'spritzle category ls | add <name> [--save-path <dir>] | rm <name> | set <hash> <name> ("" for none)';

function want(args: string[], n: number, action: string): void {
  if (args.length !== n) throw new CliError(`category ${action}: expected ${n} argument${n === 1 ? '' : 's'}; usage: ${USAGE}`);
}

/**
 * `spritzle category ...`: qBittorrent's categories through the REST API. ls: GET /session/categories;
 * add: PUT /session/categories/<name> (also changes a save path); rm: DELETE (its torrents stay, in no
 * category); set: PATCH /torrent/<hash> {category}.
 */
export async function runCategory(action: string, args: string[], opts: CategoryOptions): Promise<number> {
  const client = clientFrom(opts);
  switch (action) {
    case 'ls': {
      want(args, 0, action);
      const all = await client.categories();
      if (opts.json) await printJson(all);
      else if (all.length > 0) await print(table([{ header: 'CATEGORY' }, { header: 'SAVE PATH' }], all.map((c) => [escapeControl(c.name), c.save_path === '' ? '(default)' : escapeControl(c.save_path)])));
      return 0;
    }
    case 'add': {
      want(args, 1, action);
      const c = await client.setCategory(args[0]!, opts.savePath ?? '');
      if (opts.json) await printJson(c);
      else await print(`category ${escapeControl(c.name)}${c.save_path !== '' ? ` saves to ${escapeControl(c.save_path)}` : ''}\n`);
      return 0;
    }
    case 'rm': {
      want(args, 1, action);
      await client.removeCategory(args[0]!);
      if (opts.json) await printJson({ name: args[0] });
      else await print(`removed category ${escapeControl(args[0]!)}\n`);
      return 0;
    }
    case 'set': {
      want(args, 2, action);
      const st = await client.updateTorrent(await resolveHash(client, args[0]!), { category: args[1] });
      if (opts.json) await printJson(st);
      else await print(`${nameAndHash(st.name, st.info_hash)}: ${st.category === '' ? 'no category' : `category ${escapeControl(st.category)}`}\n`);
      return 0;
    }
    default:
      throw new CliError(`category: "${escapeControl(action)}" is not one of ${CATEGORY_ACTIONS.join(', ')}; usage: ${USAGE}`);
  }
}
