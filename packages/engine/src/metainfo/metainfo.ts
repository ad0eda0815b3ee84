import { createHash } from 'node:crypto';
import { bdecode, checkBencode, BencodeError, type BencodeLimits } from './bencode.js';
import { SpritzleError } from '../errors.js';
import { sanitizeTorrentPath } from '../storage/paths.js';
import { bencode, RawBencode, type BOut } from './bencode-writer.js';
import { checkHybrid } from './hybrid.js';
import { bestInfoHash, type InfoHashes } from './info-hashes.js';
import { readV2, type V2Info } from './v2.js';

/** A parsed, validated .torrent (v1, v2 or hybrid): everything the engine needs, paths already made safe. */
export interface TorrentInfo {
  /**
   * The hash the torrent is known by, 40 lower-case hex characters: the v1 info-hash, or for a v2-only
   * torrent its v2 info-hash truncated to 20 bytes (libtorrent's info_hashes.get_best()).
   */
  readonly infoHash: string;
  readonly infoHashBytes: Uint8Array;
  /** Both info-hashes (libtorrent's info_hashes): v1 for v1 and hybrid, v2 (64 hex) for v2 and hybrid. */
  readonly infoHashes: InfoHashes;
  /** The BEP 52 part of a v2 or hybrid torrent: file tree, merkle trees, layout. */
  readonly v2?: V2Info;
  readonly name: string;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly numPieces: number;
  /** 20-byte SHA-1 per piece (views into one buffer); empty for a v2-only torrent (its pieces are checked by v2's trees). */
  readonly pieceHashes: readonly Uint8Array[];
  /** Relative paths under save_path (for multi-file torrents they start with the torrent's name). */
  readonly files: readonly { path: string; length: number; pad: boolean }[];
  readonly private: boolean;
  /** Tracker tiers (announce-list, or [[announce]]). */
  readonly announce: readonly (readonly string[])[];
  /** The raw bencoded info dictionary, as hashed (served to peers over ut_metadata). */
  readonly infoBytes: Uint8Array;
  /** BEP 19 web seeds (`url-list`): http(s) URLs only. */
  readonly urlList?: readonly string[];
  /** BEP 17 HTTP seeds (`httpseeds`): http(s) URLs only. */
  readonly httpSeeds?: readonly string[];
  readonly comment?: string;
  readonly createdBy?: string;
  readonly creationDate?: number;
}

/**
 * Limits on metadata from outside (.torrent files, resume files, ut_metadata), after libtorrent's
 * load_torrent_limits and max_metadata_size: without them one hostile file (300,000 one-byte files in 8.6 MB)
 * costs seconds of event loop and a gigabyte of heap. Exported for the wire's ut_metadata, which must
 * refuse an announced metadata_size above MAX_METADATA_SIZE before buffering it.
 */
/** Largest .torrent file (libtorrent's load_torrent_limits.max_buffer_size). */
export const MAX_TORRENT_FILE_SIZE = 10_000_000;
/** Largest info dictionary (ut_metadata's 10 MB; it also fits inside the largest .torrent file). */
export const MAX_METADATA_SIZE = 10_000_000;
/** Most pieces (load_torrent_limits.max_pieces). */
export const MAX_PIECES = 0x200000;
/** Most files in one torrent (pad files included): beyond this, per-file state costs more than any honest torrent needs. */
export const MAX_FILES = 100_000;
/** Decoder limits for metadata (load_torrent_limits.max_decode_depth and max_decode_tokens). */
export const METADATA_DECODE_LIMITS = { maxDepth: 100, maxTokens: 3_000_000 } as const satisfies BencodeLimits;

function invalid(why: string): never {
  throw new SpritzleError('invalid_torrent', `not a valid .torrent: ${why}`);
}

/** Checks `b` as one bencoded value within the metadata limits; a BencodeError becomes invalid_torrent. */
function checkMetadata(b: Uint8Array, what: string, strictEnd: boolean): void {
  try {
    checkBencode(b, { ...METADATA_DECODE_LIMITS, strictEnd });
  } catch (e) {
    if (e instanceof BencodeError) invalid(`${what} is not bencoded (${e.message})`);
    throw e;
  }
}

/**
 * Offsets of the value for `key` in the bencoded dictionary at `start` (bytes already checked), or null.
 * A scan: nothing is decoded.
 */
function findInDict(b: Uint8Array, start: number, key: string): [number, number] | null {
  const want = Buffer.from(key, 'latin1');
  let found: [number, number] | null = null;
  let i = start + 1;
  while (b[i] !== 0x65 /* e */) {
    const keyEnd = checkBencode(b, METADATA_DECODE_LIMITS, i);
    const colon = b.indexOf(0x3a /* : */, i);
    const valEnd = checkBencode(b, METADATA_DECODE_LIMITS, keyEnd);
    if (keyEnd - colon - 1 === want.length && want.equals(b.subarray(colon + 1, keyEnd))) {
      // The decoder keeps the last of two equal keys: the bytes we hash and the fields we read must agree.
      if (found) invalid(`the key "${key}" appears twice`);
      found = [keyEnd, valEnd];
    }
    i = valEnd;
  }
  return found;
}

/** Refuses an info dictionary with more than MAX_FILES files by counting list items, before anything is built. */
function checkFileCount(info: Uint8Array): void {
  if (info[0] !== 0x64 /* d */) return; // reported by the decoder's type check
  const files = findInDict(info, 0, 'files');
  if (!files || info[files[0]] !== 0x6c /* l */) return;
  let count = 0;
  for (let i = files[0] + 1; info[i] !== 0x65; i = checkBencode(info, METADATA_DECODE_LIMITS, i)) {
    if (++count > MAX_FILES) invalid(`more than ${MAX_FILES} files (the limit; this one lists ${countItems(info, files[0])})`);
  }
}

function countItems(b: Uint8Array, listStart: number): number {
  let n = 0;
  for (let i = listStart + 1; b[i] !== 0x65; i = checkBencode(b, METADATA_DECODE_LIMITS, i)) n++;
  return n;
}

const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined);

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The limits every info dictionary must meet before it is decoded (cheap scans, nothing built). */
function checkInfoBytes(infoBytes: Uint8Array): void {
  if (infoBytes.length > MAX_METADATA_SIZE) {
    invalid(`the info dictionary is ${infoBytes.length} bytes, more than the limit of ${MAX_METADATA_SIZE}`);
  }
  checkMetadata(infoBytes, 'the info dictionary', true);
  checkFileCount(infoBytes);
}

/** Parses an info dictionary (from a .torrent, a resume file or ut_metadata) into a TorrentInfo. */
export function parseInfoDict(infoBytes: Uint8Array, outer: Record<string, unknown> = {}, pieceLayers?: Uint8Array): TorrentInfo {
  if (!(infoBytes instanceof Uint8Array)) invalid('the info dictionary is not bytes');
  checkInfoBytes(infoBytes);
  return infoFromDict(bdecode(infoBytes, METADATA_DECODE_LIMITS), infoBytes, outer, pieceLayers);
}

/**
 * `pieceLayers`: the bencoded `piece layers` beside the info dictionary in a v2 .torrent (absent for metadata
 * from peers: the layers are then asked of peers).
 */
function infoFromDict(info: unknown, infoBytes: Uint8Array, outer: Record<string, unknown>, pieceLayers?: Uint8Array): TorrentInfo {
  if (!isDict(info)) invalid('info is not a dictionary');
  const name = text(info['name.utf-8']) ?? text(info.name);
  if (!name) invalid('info.name is missing');
  const pieceLength = info['piece length'];
  if (typeof pieceLength !== 'number' || !Number.isSafeInteger(pieceLength) || pieceLength < 16 || pieceLength > 256 * 1024 * 1024) {
    invalid('info["piece length"] is missing or out of range');
  }
  // BEP 52: read the v2 part (only when there is one: v1 torrents do not pay for a second walk).
  const v2 = info['meta version'] !== undefined || info['file tree'] !== undefined
    ? readV2(infoBytes, pieceLayers, sanitizeTorrentPath([name]), { maxFiles: MAX_FILES, maxPieces: MAX_PIECES, decode: METADATA_DECODE_LIMITS })
    : null;
  if (v2 && info.pieces === undefined) return v2OnlyInfo(info, v2, name, pieceLength, infoBytes, outer);
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
  // A hybrid's two views must agree byte for byte, or v1 and v2 peers would build different files.
  if (v2) checkHybrid(files, v2.layout);

  const infoHashBytes = createHash('sha1').update(infoBytes).digest();
  const pieceHashes: Uint8Array[] = [];
  for (let i = 0; i < numPieces; i++) pieceHashes.push(pieces.subarray(i * 20, i * 20 + 20));
  const infoHashes: InfoHashes = { v1: Buffer.from(infoHashBytes).toString('hex'), ...(v2 ? { v2: v2.infoHashV2 } : {}) };

  return {
    infoHash: infoHashes.v1!,
    infoHashBytes,
    infoHashes,
    ...(v2 ? { v2 } : {}),
    name: files.length === 1 && info.files === undefined ? files[0]!.path : sanitizeTorrentPath([name]),
    pieceLength,
    totalLength,
    numPieces,
    pieceHashes,
    files,
    private: info.private === 1,
    infoBytes,
    ...outerFields(outer),
  };
}

/** A v2-only torrent: the v2 layout is the file list, no SHA-1 piece hashes, known by its truncated v2 hash. */
function v2OnlyInfo(info: Record<string, unknown>, v2: V2Info, name: string, pieceLength: number, infoBytes: Uint8Array, outer: Record<string, unknown>): TorrentInfo {
  const files = v2.layout.map((f) => ({ path: f.path, length: f.length, pad: f.pad }));
  const infoHashes: InfoHashes = { v2: v2.infoHashV2 };
  const infoHash = bestInfoHash(infoHashes);
  return {
    infoHash,
    infoHashBytes: Buffer.from(infoHash, 'hex'),
    infoHashes,
    v2,
    name: v2.singleFile ? v2.files[0]!.path : sanitizeTorrentPath([name]),
    pieceLength,
    totalLength: files.reduce((a, f) => a + f.length, 0),
    numPieces: v2.numPieces,
    pieceHashes: [],
    files,
    private: info.private === 1,
    infoBytes,
    ...outerFields(outer),
  };
}

/** What a .torrent says beside its info dictionary: trackers, comment, creator, date. */
function outerFields(outer: Record<string, unknown>): Pick<TorrentInfo, 'announce' | 'urlList' | 'httpSeeds' | 'comment' | 'createdBy' | 'creationDate'> {
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
  // BEP 19: one URL or a list of them; other schemes (ftp, ...) are left out.
  const rawUrls = Array.isArray(outer['url-list']) ? outer['url-list'] : [outer['url-list']];
  const urlList = rawUrls.map(text).filter((u): u is string => u !== undefined && /^https?:\/\/\S+$/i.test(u));
  // BEP 17: a list of URLs.
  const rawSeeds = Array.isArray(outer.httpseeds) ? outer.httpseeds : [];
  const httpSeeds = rawSeeds.map(text).filter((u): u is string => u !== undefined && /^https?:\/\/\S+$/i.test(u));
  return {
    announce,
    ...(urlList.length > 0 ? { urlList } : {}),
    ...(httpSeeds.length > 0 ? { httpSeeds } : {}),
    ...(text(outer.comment) !== undefined ? { comment: text(outer.comment)! } : {}),
    ...(text(outer['created by']) !== undefined ? { createdBy: text(outer['created by'])! } : {}),
    ...(typeof outer['creation date'] === 'number' ? { creationDate: outer['creation date'] } : {}),
  };
}

/** Parses .torrent file bytes. Throws invalid_torrent (or invalid_path for a path that would escape). */
export function parseTorrentFile(bytes: Uint8Array): TorrentInfo {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) invalid('the file is empty');
  if (bytes.length > MAX_TORRENT_FILE_SIZE) invalid(`the file is ${bytes.length} bytes, more than the limit of ${MAX_TORRENT_FILE_SIZE}`);
  // Bytes after the top-level dictionary are tolerated, as libtorrent and bencode 4 do.
  checkMetadata(bytes, 'the file', false);
  if (bytes[0] !== 0x64 /* d */) invalid('the top level is not a dictionary');
  const at = findInDict(bytes, 0, 'info');
  if (!at) invalid('no info dictionary');
  // The info-hash is taken over these exact bytes, not a re-encoding.
  const infoBytes = bytes.subarray(at[0], at[1]);
  checkInfoBytes(infoBytes);
  const outer = bdecode(bytes, METADATA_DECODE_LIMITS);
  if (!isDict(outer)) invalid('the top level is not a dictionary');
  const layers = findInDict(bytes, 0, 'piece layers');
  return infoFromDict(outer.info, infoBytes, outer, layers ? bytes.subarray(layers[0], layers[1]) : undefined);
}

/**
 * A .torrent file for an info dictionary (what we write for a torrent whose metadata came from peers); for
 * v2, with the piece layers its trees know (those still missing are asked of peers again after a restart).
 */
export function encodeTorrentFile(info: TorrentInfo): Uint8Array {
  return bencode({ info: new RawBencode(info.infoBytes), ...(info.v2 ? { 'piece layers': pieceLayersOf(info) } : {}) });
}

/** A v2 torrent's `piece layers` as its trees know them now (for a .torrent or resume data), bencoded. */
export function encodePieceLayers(info: TorrentInfo): Uint8Array | undefined {
  return info.v2 ? bencode(pieceLayersOf(info)) : undefined;
}

function pieceLayersOf(info: TorrentInfo): Map<Uint8Array, BOut> {
  const layers = new Map<Uint8Array, BOut>();
  const roots = new Set<string>(); // equal files share a root: one key each
  for (const p of info.v2?.pieces ?? []) {
    const layer = p.numPieces > 1 ? p.tree.pieceLayer() : undefined;
    const key = Buffer.from(p.tree.root).toString('hex');
    if (layer && !roots.has(key)) layers.set(p.tree.root, layer);
    roots.add(key);
  }
  return layers;
}
