import { createHash } from 'node:crypto';
import { parseInfoDict, type TorrentInfo } from './metainfo.js';

/**
 * Checking an info dictionary that came from peers (BEP 9) for the torrent that asked for it: first its
 * hash (so that a peer's junk is told apart from the torrent's own bad metadata), then its parse. Pure:
 * the caller picks the thread (parse-thread.ts runs it on a worker for big metadata).
 */

/** The hashes a magnet knows its metadata by. */
export interface ExpectedHashes {
  /** 40 hex: the v1 info-hash, or a v2 one truncated. */
  infoHash: string;
  /** A btmh magnet's full v2 info-hash (64 hex). */
  v2?: string | undefined;
}

/** What checking a copy of the metadata found. */
export type MetadataCheck =
  | { ok: true; info: TorrentInfo }
  /** Not the torrent's info dictionary: the peer that sent it is at fault. */
  | { ok: false; mismatch: true }
  /** The torrent's own info dictionary, but it does not parse: the torrent is at fault. */
  | { ok: false; mismatch: false; error: Error };

/**
 * Whether `bytes` are the torrent's info dictionary: their SHA-1 is `infoHash`, or (BEP 52) their SHA-256
 * is `v2` or, with no v2 hash given, starts with `infoHash`.
 */
export function isTorrentsInfoDict(bytes: Uint8Array, expect: ExpectedHashes): boolean {
  if (createHash('sha1').update(bytes).digest('hex') === expect.infoHash) return true;
  const h2 = createHash('sha256').update(bytes).digest('hex');
  return expect.v2 !== undefined ? h2 === expect.v2 : h2.slice(0, 40) === expect.infoHash;
}

/** The hash check and the parse, on this thread. */
export function checkMetadata(bytes: Uint8Array, expect: ExpectedHashes): MetadataCheck {
  if (!isTorrentsInfoDict(bytes, expect)) return { ok: false, mismatch: true };
  try {
    return { ok: true, info: parseInfoDict(bytes) };
  } catch (e) {
    return { ok: false, mismatch: false, error: e as Error };
  }
}
