import bencode from 'bencode';
import { bdecode } from '@spritzle/engine';

/**
 * What the state journal keeps of one torrent (the value under its info-hash): its fast-resume data (with
 * the info dictionary), where its files are, and, for a torrent migrated from a state directory of the
 * per-torrent-file layout, its .torrent as it was there. Each part is optional, as each of those files
 * was: restoring uses whatever is there and usable.
 */
export interface TorrentRecord {
  resume?: Uint8Array;
  torrent?: Uint8Array;
  savePath?: string;
}

/** A record as bencode: `d6:resume...9:save_path...7:torrent...e`. */
export function encodeTorrentRecord(r: TorrentRecord): Uint8Array {
  const d: Record<string, Uint8Array | string> = {};
  if (r.resume) d.resume = r.resume;
  if (r.savePath !== undefined) d.save_path = r.savePath;
  if (r.torrent) d.torrent = r.torrent;
  return bencode.encode(d);
}

/**
 * A record back from bytes (a frame that passed its checksum, so damage here means bytes written by
 * someone else): throws when they are not a record.
 */
export function decodeTorrentRecord(bytes: Uint8Array): TorrentRecord {
  // A flat dictionary of strings: no depth or token count beyond a handful.
  const d = bdecode(bytes, { maxDepth: 2, maxTokens: 16, strictEnd: true });
  if (typeof d !== 'object' || d === null || Array.isArray(d) || d instanceof Uint8Array) throw new Error('not a dictionary');
  const r: TorrentRecord = {};
  const { resume, torrent, save_path: savePath } = d as Record<string, unknown>;
  if (resume !== undefined) {
    if (!(resume instanceof Uint8Array)) throw new Error('resume is not a string');
    r.resume = resume;
  }
  if (torrent !== undefined) {
    if (!(torrent instanceof Uint8Array)) throw new Error('torrent is not a string');
    r.torrent = torrent;
  }
  if (savePath !== undefined) {
    if (!(savePath instanceof Uint8Array)) throw new Error('save_path is not a string');
    r.savePath = Buffer.from(savePath).toString('utf8');
  }
  return r;
}
