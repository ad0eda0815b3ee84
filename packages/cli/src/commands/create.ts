import { stat, writeFile } from 'node:fs/promises';
import createTorrent from 'create-torrent';
import type { CreateTorrentOptions } from 'create-torrent';
import { createTorrentFromPath, parseTorrentFile } from '@spritzle/engine';
import { CliError, describeError } from '../errors.js';
import { hashProgress } from '../progress.js';
import { VERSION } from '../version.js';

export interface CreateOptions {
  output: string;
  pieceLength?: number;
  announce?: string[];
  private?: boolean;
  name?: string;
  comment?: string;
  /** BEP 52: a v2-only torrent (libtorrent's create_torrent v2_only). */
  v2?: boolean;
  /** BEP 52: a hybrid torrent, v1 and v2 (libtorrent's create_torrent default). */
  hybrid?: boolean;
}

function make(path: string, opts: CreateTorrentOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    createTorrent(path, opts, (err, torrent) => (err ? reject(err) : resolve(torrent)));
  });
}

/** `spritzle create`: hashes <path> into a .torrent, writes it and prints the info-hash. */
export async function runCreate(path: string, opts: CreateOptions): Promise<number> {
  try {
    await stat(path);
  } catch (e) {
    throw new CliError(`cannot read ${describeError(e).message}`);
  }
  if (opts.v2 && opts.hybrid) throw new CliError('--v2 and --hybrid exclude each other (a hybrid is v2 too)');
  if (opts.v2 || opts.hybrid) return runCreateV2(path, opts);
  const progress = hashProgress();
  const ctOpts: CreateTorrentOptions = {
    // create-torrent adds public trackers and web seeds when these are absent: a torrent made here must
    // announce exactly what the user asked for (a private test swarm must not leak to the internet).
    announceList: (opts.announce ?? []).map((url) => [url]),
    urlList: [],
    createdBy: `spritzle/${VERSION}`,
    onProgress: (done, total) => progress.update(done, total),
  };
  if (opts.pieceLength !== undefined) ctOpts.pieceLength = opts.pieceLength;
  if (opts.private) ctOpts.private = true;
  if (opts.name !== undefined) ctOpts.name = opts.name;
  if (opts.comment !== undefined) ctOpts.comment = opts.comment;
  return writeCreated(path, opts.output, progress, () => make(path, ctOpts));
}

/**
 * Both creators end here: builds the torrent (stopping the progress line either way), checks it with the
 * engine's parser, writes it and prints the info-hash.
 */
async function writeCreated(
  path: string,
  output: string,
  progress: ReturnType<typeof hashProgress>,
  build: () => Promise<Uint8Array>,
): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = await build();
  } catch (e) {
    throw new CliError(`cannot create a torrent from ${path}: ${describeError(e).message}`);
  } finally {
    progress.stop();
  }
  // Parsing our own output with the engine proves it is a torrent spritzle accepts and gives the hash
  // exactly as the engine (and every client) computes it: v1 for a v1 or hybrid torrent, the truncated
  // v2 for a v2-only torrent (get_best).
  const info = parseTorrentFile(bytes);
  try {
    await writeFile(output, bytes);
  } catch (e) {
    throw new CliError(`cannot write ${describeError(e).message}`);
  }
  process.stdout.write(`${info.infoHash}\n`);
  return 0;
}

/** `spritzle create --v2 | --hybrid`: the engine's BEP 52 creator (libtorrent's info dict byte for byte). */
async function runCreateV2(path: string, opts: CreateOptions): Promise<number> {
  const progress = hashProgress();
  return writeCreated(path, opts.output, progress, async () => {
    const created = await createTorrentFromPath(path, {
      version: opts.v2 ? 'v2' : 'hybrid',
      ...(opts.pieceLength !== undefined ? { pieceLength: opts.pieceLength } : {}),
      trackers: (opts.announce ?? []).map((url) => [url]),
      ...(opts.private ? { private: true } : {}),
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
      createdBy: `spritzle/${VERSION}`,
      creationDate: Math.floor(Date.now() / 1000),
      onProgress: (done, total) => progress.update(done, total),
    });
    return created.torrent;
  });
}
