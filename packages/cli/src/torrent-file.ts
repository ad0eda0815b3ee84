import { readFile, stat } from 'node:fs/promises';
import { isSpritzleError, parseTorrentFile, type TorrentInfo } from '@spritzle/engine';
import { CliError, describeError } from './errors.js';

/** A .torrent read from disk and validated by the engine. */
export interface LoadedTorrent {
  path: string;
  bytes: Uint8Array;
  info: TorrentInfo;
}

/** .torrent files are small (metadata only); a bigger file is surely the wrong one. */
const MAX_TORRENT_FILE = 64 << 20;

/**
 * Reads and parses a .torrent. Every failure names the file, so "spritzle: x.torrent: not a valid
 * .torrent: ..." tells the user which argument was wrong.
 */
export async function loadTorrent(path: string): Promise<LoadedTorrent> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CliError(`${path}: is a directory, not a .torrent file`);
    if (st.size > MAX_TORRENT_FILE) throw new CliError(`${path}: too large for a .torrent file (${st.size} bytes)`);
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof CliError) throw e;
    // describeError already prefixes the path of system errors.
    throw new CliError(`cannot read torrent file: ${describeError(e).message}`);
  }
  try {
    return { path, bytes, info: parseTorrentFile(bytes) };
  } catch (e) {
    if (isSpritzleError(e)) throw new CliError(`${path}: ${e.message}`);
    throw e;
  }
}
