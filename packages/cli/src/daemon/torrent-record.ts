import bencode from 'bencode';
import { checkBencode } from '@spritzle/engine';

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

/** A record's limits: a flat dictionary of strings, so no depth or token count beyond a handful. */
const RECORD_LIMITS = { maxDepth: 2, maxTokens: 16, strictEnd: true } as const;

/**
 * A record back from bytes (a frame that passed its checksum, so damage here means bytes written by
 * someone else): throws when they are not a record. Its parts are views into `bytes`, not copies: at
 * start-up each record is read once, and the journal keeps its frame anyway (resume data is decoded
 * into a copy of its own; a .torrent's parse copies it).
 */
export function decodeTorrentRecord(bytes: Uint8Array): TorrentRecord {
  checkBencode(bytes, RECORD_LIMITS);
  if (bytes[0] !== D) throw new Error('not a dictionary');
  const parts = new Map<string, Uint8Array | null>();
  let pos = 1;
  while (bytes[pos] !== E) {
    const key = stringAt(bytes, pos);
    const name = Buffer.from(key.bytes).toString('utf8');
    if (isDigit(bytes[key.end]!)) {
      const value = stringAt(bytes, key.end);
      parts.set(name, value.bytes);
      pos = value.end;
    } else {
      // Not a string (checked above, within the limits): an error only for the three keys of a record.
      parts.set(name, null);
      pos = checkBencode(bytes, undefined, key.end);
    }
  }
  const r: TorrentRecord = {};
  const part = (name: string): Uint8Array | undefined => {
    const v = parts.get(name);
    if (v === null) throw new Error(`${name} is not a string`);
    return v;
  };
  const resume = part('resume');
  if (resume !== undefined) r.resume = resume;
  const torrent = part('torrent');
  if (torrent !== undefined) r.torrent = torrent;
  const savePath = part('save_path');
  if (savePath !== undefined) r.savePath = Buffer.from(savePath).toString('utf8');
  return r;
}

const D = 0x64, E = 0x65, COLON = 0x3a;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** The checked string at `pos`: its content (a view) and the offset after it. */
function stringAt(b: Uint8Array, pos: number): { bytes: Uint8Array; end: number } {
  let len = 0;
  let p = pos;
  while (b[p] !== COLON) len = len * 10 + (b[p++]! - 0x30);
  return { bytes: b.subarray(p + 1, p + 1 + len), end: p + 1 + len };
}
