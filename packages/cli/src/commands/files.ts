import { resolveHash } from '../client/api.js';
import { clientFrom, percent, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { compactBytes, escapeControl } from '../format.js';

export interface FilesOptions extends ClientCommandOptions {
  /** `index=priority` (0 = skip, 1..7, 4 normal), repeatable. */
  priority?: string[];
}

/** `--priority 3=0` → [3, 0], checked against the torrent's file count. */
function parsePriority(arg: string, files: number): [number, number] {
  const m = /^(\d+)=([0-7])$/.exec(arg);
  if (!m) throw new CliError(`--priority ${escapeControl(arg)}: expected <file index>=<0..7>, e.g. 2=0 to skip file 2`);
  const index = Number(m[1]);
  if (index >= files) throw new CliError(`--priority ${arg}: the torrent has ${files} file${files === 1 ? '' : 's'} (0..${files - 1})`);
  return [index, Number(m[2])];
}

/**
 * `spritzle files <hash>`: the torrent's files, with progress and priority (libtorrent's 0..7: 0 skips
 * the file, 4 is normal). `--priority index=prio` changes some first (PATCH file_priorities).
 */
export async function runFiles(hashArg: string, opts: FilesOptions): Promise<number> {
  const client = clientFrom(opts);
  const hash = await resolveHash(client, hashArg);
  let files = await client.torrentFiles(hash);
  if (opts.priority?.length) {
    if (files.length === 0) throw new CliError('the torrent has no metadata yet, so no files to prioritise');
    const prios = files.map((f) => f.priority);
    for (const arg of opts.priority) {
      const [i, p] = parsePriority(arg, files.length);
      prios[i] = p;
    }
    await client.updateTorrent(hash, { file_priorities: prios });
    files = await client.torrentFiles(hash);
  }
  if (opts.json) {
    await printJson(files);
    return 0;
  }
  if (files.length === 0) {
    await print('no files known yet (no metadata)\n');
    return 0;
  }
  const real = files.filter((f) => !f.pad);
  const width = String(files.length - 1).length;
  let out = `${'#'.padStart(width)}  PRIO    DONE   SIZE  PATH\n`;
  for (const f of real) {
    out += `${String(f.index).padStart(width)}  ${String(f.priority).padStart(4)}  ${percent(f.progress).padStart(6)}  ${compactBytes(f.size).padStart(5)}  ${escapeControl(f.path)}\n`;
  }
  await print(out);
  return 0;
}
