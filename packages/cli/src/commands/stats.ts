import { clientFrom, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';

export type StatsOptions = ClientCommandOptions;

/**
 * `spritzle stats [prefix...]`: GET /session, libtorrent's session counters by name, in the daemon's order.
 * Prefixes keep the counters whose names start with one of them (`spritzle stats net. dht.`); a prefix that
 * matches nothing is an error, so a typo is not mistaken for "no such activity".
 */
export async function runStats(prefixes: string[], opts: StatsOptions): Promise<number> {
  const all = await clientFrom(opts).sessionStats();
  let entries = Object.entries(all);
  if (prefixes.length > 0) {
    const unmatched = prefixes.find((p) => !entries.some(([name]) => name.startsWith(p)));
    if (unmatched !== undefined) throw new CliError(`no session counter name starts with "${unmatched}" (try \`spritzle stats\` for them all)`);
    entries = entries.filter(([name]) => prefixes.some((p) => name.startsWith(p)));
  }
  if (opts.json) {
    await printJson(Object.fromEntries(entries));
    return 0;
  }
  const nameWidth = Math.max(0, ...entries.map(([n]) => n.length));
  const valueWidth = Math.max(0, ...entries.map(([, v]) => String(v).length));
  await print(entries.map(([n, v]) => `${n.padEnd(nameWidth)}  ${String(v).padStart(valueWidth)}\n`).join(''));
  return 0;
}
