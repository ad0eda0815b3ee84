import path from 'node:path';
import bencode from 'bencode';
import { SpritzleError } from '../errors.js';
import { bdecode } from '../metainfo/bencode.js';
import { MAX_TORRENT_FILE_SIZE, METADATA_DECODE_LIMITS } from '../metainfo/metainfo.js';
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
  if (r.info_hash2) d['info-hash2'] = Buffer.from(r.info_hash2, 'hex');
  if (r.info) d.info = bdecode(r.info, METADATA_DECODE_LIMITS);
  if (r.info) d['info-bytes'] = r.info;
  if (r.pieces) d.pieces = r.pieces;
  if (r.piece_layers) d['piece layers'] = r.piece_layers;
  if (r.file_sizes) d['file sizes'] = r.file_sizes.map(([size, mtime]) => [size, Math.round(mtime)]);
  if (r.file_priorities) d.file_priorities = r.file_priorities;
  if (r.category) d.category = r.category;
  if (r.first_last_piece_priority) d.first_last_piece_priority = 1;
  if (r.renamed_files && r.renamed_files.length > 0) d.renamed_files = r.renamed_files;
  if (r.tags && r.tags.length > 0) d.tags = r.tags;
  if (r.share_limits) {
    // bencode has no fractions: the ratio is kept in thousandths.
    const l = r.share_limits;
    d.share_limits = {
      ratio_limit_milli: l.ratio_limit < 0 ? l.ratio_limit : Math.round(l.ratio_limit * 1000),
      seeding_time_limit: l.seeding_time_limit, inactive_seeding_time_limit: l.inactive_seeding_time_limit, action: l.action,
    };
  }
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
