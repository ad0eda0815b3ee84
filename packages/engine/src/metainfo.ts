import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { SpritzleError } from './errors.js';
import { sanitizeTorrentPath } from './storage/paths.js';

/** A parsed, validated v1 .torrent: everything the engine needs, paths already made safe. */
export interface TorrentInfo {
  /** v1 info-hash, 40 lower-case hex characters. */
  readonly infoHash: string;
  readonly infoHashBytes: Uint8Array;
  readonly name: string;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly numPieces: number;
  /** 20-byte SHA-1 per piece (views into one buffer). */
  readonly pieceHashes: readonly Uint8Array[];
  /** Relative paths under save_path (for multi-file torrents they start with the torrent's name). */
  readonly files: readonly { path: string; length: number; pad: boolean }[];
  readonly private: boolean;
  /** Tracker tiers (announce-list, or [[announce]]). */
  readonly announce: readonly (readonly string[])[];
  /** The raw bencoded info dictionary, as hashed (served to peers over ut_metadata). */
  readonly infoBytes: Uint8Array;
  readonly comment?: string;
  readonly createdBy?: string;
  readonly creationDate?: number;
}

const MAX_PIECES = 4_000_000;

function invalid(why: string): never {
  throw new SpritzleError('invalid_torrent', `not a valid .torrent: ${why}`);
}

/** Byte offset just past the bencoded value that starts at `i`. */
function skipValue(b: Uint8Array, i: number, depth = 0): number {
  if (depth > 64) invalid('nested too deeply');
  const c = b[i];
  if (c === undefined) invalid('truncated');
  if (c === 0x69 /* i */) {
    const end = b.indexOf(0x65, i + 1);
    if (end < 0) invalid('unterminated integer');
    return end + 1;
  }
  if (c === 0x6c /* l */ || c === 0x64 /* d */) {
    let j = i + 1;
    while (b[j] !== 0x65 /* e */) {
      if (j >= b.length) invalid('unterminated list or dictionary');
      j = skipValue(b, j, depth + 1);
    }
    return j + 1;
  }
  if (c >= 0x30 && c <= 0x39) {
    const colon = b.indexOf(0x3a, i);
    if (colon < 0 || colon - i > 12) invalid('bad string length');
    const len = Number(new TextDecoder().decode(b.subarray(i, colon)));
    if (!Number.isSafeInteger(len) || colon + 1 + len > b.length) invalid('string runs past the end');
    return colon + 1 + len;
  }
  invalid(`unexpected byte 0x${c.toString(16)}`);
}

/** The exact bytes of the top-level "info" value: the info-hash must be taken over them, not a re-encoding. */
function rawInfo(b: Uint8Array): Uint8Array {
  if (b[0] !== 0x64) invalid('the top level is not a dictionary');
  let i = 1;
  while (i < b.length && b[i] !== 0x65) {
    const keyEnd = skipValue(b, i);
    const colon = b.indexOf(0x3a, i);
    const key = new TextDecoder().decode(b.subarray(colon + 1, keyEnd));
    const valEnd = skipValue(b, keyEnd);
    if (key === 'info') return b.subarray(keyEnd, valEnd);
    i = valEnd;
  }
  invalid('no info dictionary');
}

const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined);

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Parses an info dictionary (from a .torrent or from ut_metadata) into a TorrentInfo. */
export function parseInfoDict(infoBytes: Uint8Array, outer: Record<string, unknown> = {}): TorrentInfo {
  let info: unknown;
  try {
    info = bencode.decode(infoBytes);
  } catch (e) {
    invalid(`the info dictionary does not decode (${(e as Error).message})`);
  }
  if (!isDict(info)) invalid('info is not a dictionary');
  const name = text(info['name.utf-8']) ?? text(info.name);
  if (!name) invalid('info.name is missing');
  const pieceLength = info['piece length'];
  if (typeof pieceLength !== 'number' || !Number.isSafeInteger(pieceLength) || pieceLength < 16 || pieceLength > 256 * 1024 * 1024) {
    invalid('info["piece length"] is missing or out of range');
  }
  const pieces = info.pieces;
  if (!(pieces instanceof Uint8Array) || pieces.length === 0 || pieces.length % 20 !== 0) invalid('info.pieces is not a list of SHA-1 hashes');
  const numPieces = pieces.length / 20;
  if (numPieces > MAX_PIECES) invalid('too many pieces');

  const files: { path: string; length: number; pad: boolean }[] = [];
  if (info.files !== undefined) {
    if (!Array.isArray(info.files) || info.files.length === 0) invalid('info.files is empty');
    const root = sanitizeTorrentPath([name]);
    for (const f of info.files) {
      if (!isDict(f)) invalid('a file entry is not a dictionary');
      const length = f.length;
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) invalid('a file length is missing or negative');
      const rawPath = f['path.utf-8'] ?? f.path;
      if (!Array.isArray(rawPath) || rawPath.length === 0) invalid('a file path is missing');
      const comps = rawPath.map((c) => {
        const s = text(c);
        if (s === undefined) invalid('a file path component is not a string');
        return s;
      });
      const attr = text(f.attr) ?? '';
      const pad = attr.includes('p') || /^_____padding_file_/.test(comps[comps.length - 1]!);
      files.push({ path: `${root}/${sanitizeTorrentPath(comps)}`, length, pad });
    }
  } else {
    const length = info.length;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) invalid('info.length is missing');
    files.push({ path: sanitizeTorrentPath([name]), length, pad: false });
  }
  const totalLength = files.reduce((a, f) => a + f.length, 0);
  if (totalLength === 0) invalid('the torrent holds no data');
  if (Math.ceil(totalLength / pieceLength) !== numPieces) {
    invalid(`${numPieces} piece hashes for ${totalLength} bytes in pieces of ${pieceLength}`);
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (f.pad) continue;
    if (seen.has(f.path)) invalid(`the path "${f.path}" appears twice`);
    seen.add(f.path);
  }

  const infoHashBytes = createHash('sha1').update(infoBytes).digest();
  const pieceHashes: Uint8Array[] = [];
  for (let i = 0; i < numPieces; i++) pieceHashes.push(pieces.subarray(i * 20, i * 20 + 20));

  const announce: string[][] = [];
  const list = outer['announce-list'];
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.map(text).filter((u): u is string => !!u);
      if (urls.length) announce.push(urls);
    }
  }
  const single = text(outer.announce);
  if (announce.length === 0 && single) announce.push([single]);

  const result: TorrentInfo = {
    infoHash: Buffer.from(infoHashBytes).toString('hex'),
    infoHashBytes,
    name: files.length === 1 && info.files === undefined ? files[0]!.path : sanitizeTorrentPath([name]),
    pieceLength,
    totalLength,
    numPieces,
    pieceHashes,
    files,
    private: info.private === 1,
    announce,
    infoBytes,
    ...(text(outer.comment) !== undefined ? { comment: text(outer.comment)! } : {}),
    ...(text(outer['created by']) !== undefined ? { createdBy: text(outer['created by'])! } : {}),
    ...(typeof outer['creation date'] === 'number' ? { creationDate: outer['creation date'] } : {}),
  };
  return result;
}

/** Parses .torrent file bytes. Throws invalid_torrent (or invalid_path for a path that would escape). */
export function parseTorrentFile(bytes: Uint8Array): TorrentInfo {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) invalid('the file is empty');
  if (bytes.length > 64 * 1024 * 1024) invalid('larger than 64 MiB');
  let outer: unknown;
  try {
    outer = bencode.decode(bytes);
  } catch (e) {
    invalid(`it is not bencoded (${(e as Error).message})`);
  }
  if (!isDict(outer)) invalid('the top level is not a dictionary');
  return parseInfoDict(rawInfo(bytes), outer);
}

/** A .torrent file for an info dictionary (what we write for a torrent whose metadata came from peers). */
export function encodeTorrentFile(info: TorrentInfo): Uint8Array {
  const head = new TextEncoder().encode('d4:info');
  const tail = new TextEncoder().encode('e');
  const out = new Uint8Array(head.length + info.infoBytes.length + tail.length);
  out.set(head, 0);
  out.set(info.infoBytes, head.length);
  out.set(tail, head.length + info.infoBytes.length);
  return out;
}
