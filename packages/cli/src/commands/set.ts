import type { TorrentStatus } from '@spritzle/engine';
import { resolveHash } from '../client/api.js';
import { clientFrom, displayName, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { escapeControl } from '../format.js';

export interface SetOptions extends ClientCommandOptions {
  /** Change this torrent's settings instead of the session's. */
  torrent?: string;
}

/** What a torrent's PATCH takes (the rest of its status is read-only). */
export const TORRENT_SETTINGS = [
  'upload_limit', 'download_limit', 'max_uploads', 'max_connections', 'sequential_download', 'first_last_piece_priority', 'auto_managed',
] as const;

/** Share limits, set by their own names on the command line and sent in the PATCH's share_limits object. */
export const SHARE_LIMIT_SETTINGS: Readonly<Record<string, string>> = {
  ratio_limit: 'ratio_limit', seeding_time_limit: 'seeding_time_limit', inactive_seeding_time_limit: 'inactive_seeding_time_limit',
  share_limit_action: 'action',
};

/** A torrent's assignments → its PATCH body: the share-limit names go into share_limits, the rest as they are. */
export function torrentChanges(changes: Record<string, string | number | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let limits: Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(changes)) {
    const limit = Object.hasOwn(SHARE_LIMIT_SETTINGS, name) ? SHARE_LIMIT_SETTINGS[name]! : undefined;
    if (limit !== undefined) (limits ??= {})[limit] = value;
    else out[name] = value;
  }
  if (limits !== undefined) out.share_limits = limits;
  return out;
}

/** What the torrent's status shows of an assignment after the PATCH. */
function shownValue(st: TorrentStatus, name: string, given: unknown): unknown {
  const limit = Object.hasOwn(SHARE_LIMIT_SETTINGS, name) ? SHARE_LIMIT_SETTINGS[name]! : undefined;
  const key = limit ?? name;
  const found = Object.entries(limit !== undefined ? st.share_limits : st).find(([k]) => k === key);
  return found !== undefined ? found[1] : given;
}

/**
 * `name=value` → [name, value]: true/false are booleans, integers are numbers, anything else a string
 * (the daemon checks names, types and ranges, and its 400 names the field); decimals are numbers too.
 */
export function parseAssignment(arg: string): [string, string | number | boolean] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new CliError(`${escapeControl(arg)}: expected name=value, e.g. download_rate_limit=1048576`);
  const name = arg.slice(0, eq);
  const raw = arg.slice(eq + 1);
  if (raw === 'true' || raw === 'false') return [name, raw === 'true'];
  // Decimals too: a ratio limit is 1.5.
  if (/^-?\d+(\.\d+)?$/.test(raw)) return [name, Number(raw)];
  return [name, raw];
}

function lines(values: Record<string, unknown>, names: readonly string[]): string {
  const width = Math.max(0, ...names.map((n) => n.length));
  return names.map((n) => `${escapeControl(n).padEnd(width)}  ${escapeControl(String(values[n]))}\n`).join('');
}

/**
 * `spritzle set [name=value...]`: the session's settings by libtorrent's names (PATCH /session/settings;
 * persisted by the daemon), or with --torrent one torrent's limits (PATCH /torrent/<hash>). Without
 * assignments it prints the current values.
 */
export async function runSet(assignments: string[], opts: SetOptions): Promise<number> {
  const client = clientFrom(opts);
  const changes = Object.fromEntries(assignments.map(parseAssignment));
  if (opts.torrent !== undefined) {
    const hash = await resolveHash(client, opts.torrent);
    if (assignments.length === 0) throw new CliError(`give name=value for the torrent (${[...TORRENT_SETTINGS, ...Object.keys(SHARE_LIMIT_SETTINGS)].join(', ')})`);
    // The answer is the torrent's status, which does not echo every limit: a 200 means all of them took.
    const st = await client.updateTorrent(hash, torrentChanges(changes));
    if (opts.json) await printJson(st);
    else {
      const shown = Object.fromEntries(Object.keys(changes).map((n) => [n, shownValue(st, n, changes[n])]));
      await print(`${displayName(st)}:\n${lines(shown, Object.keys(changes))}`);
    }
    return 0;
  }
  const after = assignments.length > 0 ? await client.applySettings(changes) : await client.settings();
  const names = assignments.length > 0 ? Object.keys(changes) : Object.keys(after).sort();
  if (opts.json) await printJson(assignments.length > 0 ? Object.fromEntries(names.map((n) => [n, after[n]])) : after);
  else await print(lines(after, names));
  return 0;
}
