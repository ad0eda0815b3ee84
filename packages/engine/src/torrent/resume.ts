import path from 'node:path';
import { SpritzleError } from '../errors.js';
import { BencodeError, bdecode, checkBencode, type BencodeLimits } from '../metainfo/bencode.js';
import { RawBencode, bencode, type BOut } from '../metainfo/bencode-writer.js';
import { MAX_FILES, MAX_TORRENT_FILE_SIZE, METADATA_DECODE_LIMITS } from '../metainfo/metainfo.js';
import { validateCategoryName, validateTags } from './labels.js';
import { DEFAULT_TORRENT_SHARE_LIMITS, USE_GLOBAL, validateShareLimits, type TorrentShareLimits } from './share-limits.js';

/**
 * Fast-resume data, in the spirit of libtorrent's: enough to bring a torrent back in its previous state
 * without re-hashing data whose files did not change since it was written. Bencoded; the keys follow
 * libtorrent's resume file where one exists.
 */
export interface ResumeData {
  info_hash: string;
  /**
   * BEP 52: the v2 info-hash (64 hex) when known (libtorrent's info-hash2), so that a v2 magnet saved
   * before its metadata came still checks the metadata against it after a restart.
   */
  info_hash2?: string;
  name: string;
  save_path: string;
  /** torrent_flags bits. */
  flags: number;
  /** The raw info dictionary (libtorrent's save_info_dict), absent for a magnet still without metadata. */
  info?: Uint8Array;
  /**
   * BEP 52: the piece layers a v2 or hybrid torrent's merkle trees know (bencoded as a .torrent's), so a
   * restart neither asks peers for them again nor fails to check the data on disk.
   */
  piece_layers?: Uint8Array;
  /** Verified pieces whose data is on disk, as a wire bitfield. */
  pieces?: Uint8Array;
  /** [size, mtime in ms] per file as they were when `pieces` was recorded. */
  file_sizes?: [number, number][];
  file_priorities?: number[];
  trackers: string[];
  tracker_tiers: number[];
  /** "ip:port" of peers worth dialling again. */
  peers: string[];
  added_time: number;
  completed_time: number;
  total_uploaded: number;
  total_downloaded: number;
  active_time: number;
  finished_time: number;
  seeding_time: number;
  /** Share limits and their action (spritzle's, as qBittorrent keeps them in its resume files). */
  share_limits?: TorrentShareLimits;
  /** Its category ("" for none) and tags. */
  category?: string;
  tags?: string[];
  /** Each wanted file's first and last piece first (qBittorrent's). */
  first_last_piece_priority?: boolean;
  /** Files renamed by rename_file: [index, path under the save path] (libtorrent's renamed_files). */
  renamed_files?: [number, string][];
}

const FORMAT = 'spritzle resume file';
const VERSION = 1;

/**
 * A torrent's fast-resume data as bencoded bytes (libtorrent's write_resume_data_buf); decodeResumeData reads
 * them back. Linear and cheap in the file count: the info dictionary is written as the bytes it already is
 * (decoding and re-encoding a 100,000-file one held the event loop for most of a second at every save), and
 * the per-file lists are written as text in one go.
 */
export function encodeResumeData(r: ResumeData): Uint8Array {
  const d: Record<string, BOut> = {
    'file-format': FORMAT,
    'file-version': VERSION,
    'info-hash': Buffer.from(r.info_hash, 'hex'),
    name: r.name,
    save_path: r.save_path,
    flags: whole(r.flags),
    trackers: r.trackers,
    tracker_tiers: r.tracker_tiers.map(whole),
    peers: r.peers,
    added_time: whole(r.added_time),
    completed_time: whole(r.completed_time),
    total_uploaded: whole(r.total_uploaded),
    total_downloaded: whole(r.total_downloaded),
    active_time: whole(r.active_time),
    finished_time: whole(r.finished_time),
    seeding_time: whole(r.seeding_time),
  };
  if (r.info_hash2) d['info-hash2'] = Buffer.from(r.info_hash2, 'hex');
  if (r.info) {
    // Written raw, so it must be one sound bencoded value (it was hashed as such; this scan allocates nothing).
    checkBencode(r.info, { ...METADATA_DECODE_LIMITS, strictEnd: true });
    d.info = new RawBencode(r.info);
    d['info-bytes'] = r.info;
  }
  if (r.pieces) d.pieces = r.pieces;
  if (r.piece_layers) d['piece layers'] = r.piece_layers;
  if (r.file_sizes) d['file sizes'] = rawList(r.file_sizes, ([size, mtime]) => `li${whole(size)}ei${Math.round(mtime)}ee`);
  if (r.file_priorities) d.file_priorities = rawList(r.file_priorities, (p) => `i${whole(p)}e`);
  if (r.category) d.category = r.category;
  if (r.first_last_piece_priority) d.first_last_piece_priority = 1;
  if (r.renamed_files && r.renamed_files.length > 0) d.renamed_files = r.renamed_files.map(([i, p]) => [whole(i), p]);
  if (r.tags && r.tags.length > 0) d.tags = r.tags;
  if (r.share_limits) {
    // bencode has no fractions: the ratio is kept in thousandths.
    const l = r.share_limits;
    d.share_limits = {
      ratio_limit_milli: l.ratio_limit < 0 ? whole(l.ratio_limit) : Math.round(l.ratio_limit * 1000),
      seeding_time_limit: whole(l.seeding_time_limit), inactive_seeding_time_limit: whole(l.inactive_seeding_time_limit), action: l.action,
    };
  }
  return bencode(d);
}

/** A number as a bencode integer: a fraction is cut to its whole part, as the bencode package did. */
function whole(n: number): number {
  return Math.trunc(n);
}

/** A list of per-file items as one bencoded value, written as text (100,000 items in a few milliseconds). */
function rawList<T>(items: readonly T[], item: (x: T) => string): RawBencode {
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) parts[i] = item(items[i]!);
  return new RawBencode(Buffer.from(`l${parts.join('')}e`, 'latin1'));
}

function bad(why: string): never {
  throw new SpritzleError('invalid_param', `resume_data: ${why}`, { field: 'resume_data' });
}

const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined);
const int = (v: unknown, dflt = 0): number => (typeof v === 'number' && Number.isSafeInteger(v) ? v : dflt);
const ints = (v: unknown): number[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x)) ? (v as number[]) : undefined;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(text).filter((s): s is string => s !== undefined) : []);

/** The top-level keys decodeResumeData reads (`info`, the decoded copy of `info-bytes`, is not one of them). */
const KNOWN_KEYS = new Set([
  'file-format', 'info-hash', 'name', 'save_path', 'flags', 'trackers', 'tracker_tiers', 'peers', 'added_time',
  'completed_time', 'total_uploaded', 'total_downloaded', 'active_time', 'finished_time', 'seeding_time', 'info-bytes',
  'piece layers', 'pieces', 'file sizes', 'file_priorities', 'first_last_piece_priority', 'renamed_files', 'category',
  'tags', 'share_limits', 'info-hash2',
]);

/** The top-level dictionary is depth 1: its values nest at most this much deeper (libtorrent's limit in all). */
const VALUE_LIMITS: BencodeLimits = { ...METADATA_DECODE_LIMITS, maxDepth: METADATA_DECODE_LIMITS.maxDepth - 1 };
/** Per-file lists hold one entry per file: a list of pairs is 3 values per file, a list of integers 1 (and checkBencode counts the closing "e" while it reads it). */
const PER_FILE_LIMITS = new Map<string, BencodeLimits>([
  ['file sizes', { ...VALUE_LIMITS, maxTokens: 2 + 3 * MAX_FILES }],
  ['file_priorities', { ...VALUE_LIMITS, maxTokens: 2 + MAX_FILES }],
]);

/**
 * The top-level dictionary of resume data with only KNOWN_KEYS decoded: every value is checked (one scan
 * that allocates nothing), but the decoded info dictionary, most of the bytes and 100,000 objects for the
 * largest torrents (a few hundred ms of event loop at every start), is skipped. Throws BencodeError.
 */
function decodeKnownKeys(bytes: Uint8Array): Record<string, unknown> {
  if (bytes[0] !== 0x64) throw new BencodeError('not a dictionary', 0);
  const out: Record<string, unknown> = {};
  let pos = 1;
  while (pos < bytes.length && bytes[pos] !== 0x65) {
    const keyEnd = checked(bytes, VALUE_LIMITS, pos);
    if (!isDigit(bytes[pos]!)) throw new BencodeError('dictionary key is not a string', pos);
    const keyStart = contentStart(bytes, pos);
    const name = latin1(bytes, keyStart, keyEnd);
    const end = checked(bytes, PER_FILE_LIMITS.get(name) ?? VALUE_LIMITS, keyEnd);
    if (name === 'file sizes') out[name] = intPairs(bytes, keyEnd);
    else if (name === 'file_priorities') out[name] = intList(bytes, keyEnd);
    else if (KNOWN_KEYS.has(name)) out[name] = checkedValue(bytes, keyEnd, end);
    pos = end;
  }
  if (pos >= bytes.length) throw new BencodeError('truncated', pos);
  return out;
}

// The per-file lists, read straight from checked bytes: bdecode's general path took 50-100 ms for 100,000
// pairs. Anything of another shape reads as null (the caller's checks then call it malformed).
const LIST = 0x6c, INT = 0x69, END = 0x65, MINUS = 0x2d, ZERO = 0x30;

/** The checked integer at r.pos (its "i"); leaves r.pos after its "e". */
function readInt(b: Uint8Array, r: { pos: number }): number {
  let p = r.pos + 1;
  const neg = b[p] === MINUS;
  if (neg) p++;
  let n = 0;
  for (let c = b[p]!; c !== END; c = b[++p]!) n = n * 10 + (c - ZERO);
  r.pos = p + 1;
  return neg ? -n : n;
}

const isDigit = (c: number): boolean => c >= ZERO && c <= ZERO + 9;

/** checkBencode's most digits of a string length and of an integer. */
const MAX_LEN_DIGITS = 15;
const MAX_INT_DIGITS = 20;

/**
 * The end of the value at `pos`, as checkBencode(b, limits, pos) gives it: a string or an integer it would
 * accept is measured here (one token, within any limits), anything else is left to it (a list, a
 * dictionary, or bytes it refuses with its own error). Keys and most values of resume data are strings
 * and integers, and a checkBencode call per key and per value was a good part of the decode's cost.
 */
function checked(b: Uint8Array, limits: BencodeLimits, pos: number): number {
  const c = b[pos];
  if (c === undefined) return checkBencode(b, limits, pos);
  if (isDigit(c)) {
    let len = 0;
    let p = pos;
    while (p < b.length && isDigit(b[p]!)) len = len * 10 + (b[p++]! - ZERO);
    if (p - pos <= MAX_LEN_DIGITS && b[p] === 0x3a && len <= b.length - (p + 1)) return p + 1 + len;
  } else if (c === INT) {
    let p = pos + 1;
    if (b[p] === MINUS) p++;
    const digits = p;
    while (p < b.length && isDigit(b[p]!)) p++;
    const n = p - digits;
    const negativeZero = digits > pos + 1 && n === 1 && b[digits] === ZERO;
    if (n > 0 && n <= MAX_INT_DIGITS && b[p] === END && !negativeZero) return p + 1;
  }
  return checkBencode(b, limits, pos);
}

/** Bytes as latin1 text: built directly for a short key (a Buffer per key cost more than the rest of its decode). */
function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
  let t = '';
  for (let i = start; i < end; i++) t += String.fromCharCode(b[i]!);
  return t;
}

/** Where the content of the checked string at `at` starts (past its length and ":"). */
function contentStart(b: Uint8Array, at: number): number {
  let p = at;
  while (b[p] !== 0x3a) p++;
  return p + 1;
}

/**
 * The checked value between `at` and `end`, as bdecode gives it. Integers and strings, most of resume
 * data's values, are read here (a string as a copy of its own, as bdecode's is): a bdecode call per value
 * copied and scanned it again, most of the decode's cost with 50,000 torrents to restore.
 */
function checkedValue(b: Uint8Array, at: number, end: number): unknown {
  const c = b[at]!;
  if (c === INT) return readInt(b, { pos: at });
  if (isDigit(c)) return b.slice(contentStart(b, at), end);
  return bdecode(b.subarray(at, end));
}

/** A checked list of integers at `at`, or null. */
function intList(b: Uint8Array, at: number): number[] | null {
  if (b[at] !== LIST) return null;
  const out: number[] = [];
  const r = { pos: at + 1 };
  while (b[r.pos] !== END) {
    if (b[r.pos] !== INT) return null;
    out.push(readInt(b, r));
  }
  return out;
}

/** A checked list of two-integer lists at `at`, or null. */
function intPairs(b: Uint8Array, at: number): [number, number][] | null {
  if (b[at] !== LIST) return null;
  const out: [number, number][] = [];
  const r = { pos: at + 1 };
  while (b[r.pos] !== END) {
    if (b[r.pos] !== LIST || b[r.pos + 1] !== INT) return null;
    r.pos++;
    const x = readInt(b, r);
    if (b[r.pos] !== INT) return null;
    const y = readInt(b, r);
    if (b[r.pos] !== END) return null;
    r.pos++;
    out.push([x, y]);
  }
  return out;
}

/** Decodes and validates resume data; anything damaged is an invalid_param error for `resume_data`. */
export function decodeResumeData(bytes: Uint8Array): ResumeData {
  if (!(bytes instanceof Uint8Array)) bad('not bytes');
  // It holds the info dictionary twice (decoded and raw): twice the largest .torrent, and some room.
  if (bytes.length > 2 * MAX_TORRENT_FILE_SIZE + 1_000_000) bad(`${bytes.length} bytes is more than any resume file needs`);
  let r: Record<string, unknown>;
  try {
    // Read from a copy of our own: one kind of array in the loops below, however the caller's bytes were made.
    r = decodeKnownKeys(new Uint8Array(bytes));
  } catch (e) {
    bad(`not bencoded (${(e as Error).message})`);
  }
  if (text(r['file-format']) !== FORMAT) bad('not a spritzle resume file');
  const ih = r['info-hash'];
  if (!(ih instanceof Uint8Array) || ih.length !== 20) bad('info-hash is missing');
  const savePath = text(r.save_path);
  if (!savePath) bad('save_path is missing');
  const out: ResumeData = {
    info_hash: Buffer.from(ih).toString('hex'),
    name: text(r.name) ?? '',
    save_path: savePath,
    flags: int(r.flags),
    trackers: strings(r.trackers),
    tracker_tiers: ints(r.tracker_tiers) ?? [],
    peers: strings(r.peers),
    added_time: int(r.added_time),
    completed_time: int(r.completed_time),
    total_uploaded: int(r.total_uploaded),
    total_downloaded: int(r.total_downloaded),
    active_time: int(r.active_time),
    finished_time: int(r.finished_time),
    seeding_time: int(r.seeding_time),
  };
  const ih2 = r['info-hash2'];
  if (ih2 !== undefined) {
    if (!(ih2 instanceof Uint8Array) || ih2.length !== 32) bad('info-hash2 is not 32 bytes');
    out.info_hash2 = Buffer.from(ih2).toString('hex');
  }
  const info = r['info-bytes'];
  if (info !== undefined) {
    if (!(info instanceof Uint8Array)) bad('info-bytes is not a string');
    out.info = info;
  }
  if (r['piece layers'] !== undefined) {
    if (!(r['piece layers'] instanceof Uint8Array)) bad('piece layers is not a string');
    out.piece_layers = r['piece layers'];
  }
  if (r.pieces !== undefined) {
    if (!(r.pieces instanceof Uint8Array)) bad('pieces is not a bitfield');
    out.pieces = r.pieces;
  }
  const sizes = r['file sizes'];
  if (sizes !== undefined) {
    if (!Array.isArray(sizes) || !sizes.every((e) => Array.isArray(e) && e.length === 2 && ints(e))) bad('file sizes is malformed');
    out.file_sizes = sizes as [number, number][];
  }
  const prios = ints(r.file_priorities);
  if (prios) out.file_priorities = prios;
  if (r.first_last_piece_priority !== undefined) out.first_last_piece_priority = r.first_last_piece_priority === 1;
  if (r.renamed_files !== undefined) {
    const list = r.renamed_files;
    if (!Array.isArray(list) || !list.every((e) => Array.isArray(e) && e.length === 2 && Number.isSafeInteger(e[0]) && e[0] >= 0 && e[1] instanceof Uint8Array)) bad('renamed_files is malformed');
    out.renamed_files = (list as [number, Uint8Array][]).map(([i, p]) => {
      const name = Buffer.from(p).toString('utf8');
      // A renamed path is a relative path inside the save path: checked again by the storage when opened.
      if (name === '' || name.includes('\0') || path.isAbsolute(name) || name.split(/[\\/]/).includes('..')) bad('renamed_files holds a path that leaves the save path');
      return [i, name];
    });
  }
  if (r.category !== undefined) {
    try {
      out.category = validateCategoryName(text(r.category), 'resume_data.category');
    } catch (e) {
      bad(`category: ${(e as Error).message}`);
    }
  }
  if (r.tags !== undefined) {
    try {
      out.tags = validateTags(Array.isArray(r.tags) ? r.tags.map(text) : r.tags, 'resume_data.tags');
    } catch (e) {
      bad(`tags: ${(e as Error).message}`);
    }
  }
  const limits = r.share_limits;
  if (limits !== undefined) {
    if (typeof limits !== 'object' || limits === null || Array.isArray(limits) || limits instanceof Uint8Array) bad('share_limits is not a dictionary');
    const l = limits as Record<string, unknown>;
    const milli = int(l.ratio_limit_milli, USE_GLOBAL);
    try {
      out.share_limits = {
        ...DEFAULT_TORRENT_SHARE_LIMITS,
        ...validateShareLimits({
          ratio_limit: milli < 0 ? milli : milli / 1000, seeding_time_limit: int(l.seeding_time_limit, USE_GLOBAL),
          inactive_seeding_time_limit: int(l.inactive_seeding_time_limit, USE_GLOBAL), action: text(l.action) ?? 'pause',
        }),
      };
    } catch (e) {
      bad(`share_limits: ${(e as Error).message}`);
    }
  }
  return out;
}
