import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseMagnet } from '@spritzle/engine';
import { ApiError, resolveHash, type ApiClient } from '../client/api.js';
import { clientFrom, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { loadTorrent } from '../torrent-file.js';

export interface StreamOptions extends ClientCommandOptions {
  /** The file index (default: the largest file). */
  file?: number;
  /** Write the file's bytes to stdout instead of printing the URL. */
  stdout?: boolean;
}

const URL_LIKE = /^(?:magnet:|https?:\/\/)/i;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Adds the torrent unless the daemon has it already; its info-hash either way. */
async function addOrFind(client: ApiClient, arg: string): Promise<string> {
  let known: string | undefined;
  if (/^magnet:/i.test(arg)) {
    try {
      known = (await parseMagnet(arg)).infoHash;
    } catch (e) {
      throw new CliError(`not a usable magnet link: ${(e as Error).message}`);
    }
  }
  try {
    if (URL_LIKE.test(arg)) return (await client.addTorrent({ kind: 'url', url: arg }, {})).info_hash;
    const t = await loadTorrent(arg);
    known = t.info.infoHash;
    return (await client.addTorrent({ kind: 'file', name: arg, bytes: t.bytes }, {})).info_hash;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'duplicate_torrent' && known !== undefined) return known;
    throw e;
  }
}

/** The torrent's files once its metadata is known (a magnet's may take a while: up to the timeout). */
async function filesOf(client: ApiClient, hash: string, timeoutS: number): Promise<{ index: number; path: string; size: number; pad: boolean }[]> {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const files = await client.torrentFiles(hash);
    if (files.length > 0) return files;
    if (Date.now() > end) throw new CliError(`torrent ${hash} has no metadata after ${timeoutS} s; try again once peers sent it`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * `spritzle stream <torrent|magnet|hash>`: adds the torrent if needed and prints the URL a player opens
 * (the file's bytes arrive as they are verified, seeks included). --stdout pipes the bytes instead.
 */
export async function runStream(arg: string, opts: StreamOptions): Promise<number> {
  const client = clientFrom(opts);
  const hash = URL_LIKE.test(arg) || (await isFile(arg)) ? await addOrFind(client, arg) : await resolveHash(client, arg);
  const files = (await filesOf(client, hash, opts.timeout)).filter((f) => !f.pad);
  let file = files[0]!;
  if (opts.file !== undefined) {
    const f = files.find((x) => x.index === opts.file);
    if (!f) throw new CliError(`--file ${opts.file}: the torrent's files are ${files.map((x) => x.index).join(', ')}`);
    file = f;
  } else {
    for (const f of files) if (f.size > file.size) file = f;
  }
  const path = `/torrent/${hash}/files/${file.index}/stream`;
  if (opts.stdout) {
    const res = await fetch(`${client.url}${path}`, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} })
      .catch((e: unknown) => { throw client.unreachable(e); });
    if (!res.ok || !res.body) throw new CliError(`the daemon answered ${res.status} for ${path}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), process.stdout);
    return 0;
  }
  // A player cannot send headers: the URL carries the token when there is one.
  const url = `${client.url}${path}${opts.token ? `?token=${encodeURIComponent(opts.token)}` : ''}`;
  if (opts.json) await printJson({ info_hash: hash, file: file.index, path: file.path, size: file.size, url });
  else await print(`${url}\n`);
  return 0;
}
