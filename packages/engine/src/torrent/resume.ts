import bencode from 'bencode';
import { SpritzleError } from '../errors.js';
import { bdecode } from '../metainfo/bencode.js';
import { MAX_TORRENT_FILE_SIZE, METADATA_DECODE_LIMITS } from '../metainfo/metainfo.js';

/**
 * Fast-resume data, in the spirit of libtorrent's: enough to bring a torrent back in its previous state
 * without re-hashing data whose files did not change since it was written. Bencoded; the keys follow
 * libtorrent's resume file where one exists.
 */
export interface ResumeData {
  info_hash: string;
  name: string;
  save_path: string;
  /** torrent_flags bits. */
  flags: number;
  /** The raw info dictionary (libtorrent's save_info_dict), absent for a magnet still without metadata. */
  info?: Uint8Array;
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
}

const FORMAT = 'spritzle resume file';
const VERSION = 1;

/** A torrent's fast-resume data as bencoded bytes (libtorrent's write_resume_data_buf); decodeResumeData reads them back. */
export function encodeResumeData(r: ResumeData): Uint8Array {
  const d: Record<string, unknown> = {
    'file-format': FORMAT,
    'file-version': VERSION,
    'info-hash': Buffer.from(r.info_hash, 'hex'),
    name: r.name,
    save_path: r.save_path,
    flags: r.flags,
    trackers: r.trackers,
    tracker_tiers: r.tracker_tiers,
    peers: r.peers,
    added_time: r.added_time,
    completed_time: r.completed_time,
    total_uploaded: r.total_uploaded,
    total_downloaded: r.total_downloaded,
    active_time: r.active_time,
    finished_time: r.finished_time,
    seeding_time: r.seeding_time,
  };
  if (r.info) d.info = bdecode(r.info, METADATA_DECODE_LIMITS);
  if (r.info) d['info-bytes'] = r.info;
  if (r.pieces) d.pieces = r.pieces;
  if (r.file_sizes) d['file sizes'] = r.file_sizes.map(([size, mtime]) => [size, Math.round(mtime)]);
  if (r.file_priorities) d.file_priorities = r.file_priorities;
  return bencode.encode(d);
}

function bad(why: string): never {
  throw new SpritzleError('invalid_param', `resume_data: ${why}`, { field: 'resume_data' });
}

const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined);
const int = (v: unknown, dflt = 0): number => (typeof v === 'number' && Number.isSafeInteger(v) ? v : dflt);
const ints = (v: unknown): number[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x)) ? (v as number[]) : undefined;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(text).filter((s): s is string => s !== undefined) : []);

/** Decodes and validates resume data; anything damaged is an invalid_param error for `resume_data`. */
export function decodeResumeData(bytes: Uint8Array): ResumeData {
  if (!(bytes instanceof Uint8Array)) bad('not bytes');
  // It holds the info dictionary twice (decoded and raw): twice the largest .torrent, and some room.
  if (bytes.length > 2 * MAX_TORRENT_FILE_SIZE + 1_000_000) bad(`${bytes.length} bytes is more than any resume file needs`);
  let d: unknown;
  try {
    d = bdecode(bytes, METADATA_DECODE_LIMITS);
  } catch (e) {
    bad(`not bencoded (${(e as Error).message})`);
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d) || d instanceof Uint8Array) bad('not a dictionary');
  const r = d as Record<string, unknown>;
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
  const info = r['info-bytes'];
  if (info !== undefined) {
    if (!(info instanceof Uint8Array)) bad('info-bytes is not a string');
    out.info = info;
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
  return out;
}
