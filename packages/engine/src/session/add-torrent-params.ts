import { SpritzleError } from '../errors.js';
import { decodeResumeData, type ResumeData } from '../torrent/resume.js';
import { validateCategoryName, validateTags } from '../torrent/labels.js';
import { validateShareLimits, type TorrentShareLimits } from '../torrent/share-limits.js';
import { MAX_TRACKERS, tooManyTrackers } from '../discovery/tracker.js';

/** libtorrent 2.0's torrent_flags_t bit values, by name. */
export const TORRENT_FLAGS = {
  seed_mode: 1,
  upload_mode: 2,
  share_mode: 4,
  apply_ip_filter: 8,
  paused: 16,
  auto_managed: 32,
  duplicate_is_error: 64,
  update_subscribe: 128,
  super_seeding: 256,
  sequential_download: 512,
  stop_when_ready: 1024,
  override_trackers: 2048,
  override_web_seeds: 4096,
  need_save_resume: 8192,
  disable_dht: 1 << 19,
  disable_lsd: 1 << 20,
  disable_pex: 1 << 21,
  no_verify_files: 1 << 22,
  default_dont_download: 1 << 23,
} as const;

/** A libtorrent torrent_flags name ('paused', 'sequential_download', 'seed_mode', ...). */
export type TorrentFlagName = keyof typeof TORRENT_FLAGS;

/**
 * Flags a torrent gets when the caller names none. libtorrent's default_flags also hold `paused`, relying
 * on its auto-manager to start the torrent a moment later; spritzle starts it directly, so the visible
 * result is the same: a torrent that runs.
 */
export const DEFAULT_FLAGS = TORRENT_FLAGS.apply_ip_filter | TORRENT_FLAGS.auto_managed | TORRENT_FLAGS.update_subscribe;

const ALL_FLAG_BITS = Object.values(TORRENT_FLAGS).reduce((a, b) => a | b, 0);

/** The deprecated boolean keys (libtorrent 1.1, the original spritzle's `args`), each mapping to a flag. */
const BOOLEAN_FLAG_KEYS = [
  'seed_mode', 'upload_mode', 'share_mode', 'apply_ip_filter', 'paused', 'auto_managed', 'duplicate_is_error',
  'super_seeding', 'sequential_download', 'stop_when_ready',
] as const satisfies readonly TorrentFlagName[];

/**
 * What a caller passes to `session.addTorrent`, named as libtorrent's add_torrent_params. Exactly one of
 * `ti`, `info_hash` or `url` names the torrent.
 */
export interface AddTorrentParams {
  /** The .torrent file's bytes. */
  ti?: Uint8Array;
  /** A v1 info-hash, 40 hex characters, or a v2 one, 64 (metadata then comes from peers). */
  info_hash?: string;
  /** A magnet URI. */
  url?: string;
  /**
   * Fast-resume data from `handle.saveResumeData()`. Alone it names the torrent (with its metadata when
   * it had any); its save_path, flags, priorities, trackers, peers and totals apply unless given here too.
   */
  resume_data?: Uint8Array;
  /** Where the torrent's files go; the session's save_path setting if absent. */
  save_path?: string;
  /** Display name until metadata arrives. */
  name?: string;
  /** torrent_flags by name (preferred) or as libtorrent 2.0's integer bitmask. Replaces the defaults. */
  flags?: TorrentFlagName[] | number;
  /** The old boolean form of the flags; each sets or clears one flag on top of `flags`. */
  seed_mode?: boolean; upload_mode?: boolean; share_mode?: boolean; apply_ip_filter?: boolean; paused?: boolean;
  auto_managed?: boolean; duplicate_is_error?: boolean; super_seeding?: boolean; sequential_download?: boolean;
  stop_when_ready?: boolean;
  /** Per file, 0 (do not download) to 7. */
  file_priorities?: number[];
  /** Per piece, 0 to 7. */
  piece_priorities?: number[];
  /** Peers to connect to, "ip:port" (or [ip, port] as libtorrent's Python binding takes them). */
  peers?: (string | [string, number])[];
  /** Tracker URLs (used by the discovery layer). */
  trackers?: string[];
  /** BEP 19 web seeds (http or https URLs), beside the torrent's url-list. */
  url_seeds?: string[];
  /** BEP 17 HTTP seeds (http or https URLs), beside the torrent's httpseeds. */
  http_seeds?: string[];
  /** Tier of each tracker in `trackers`. */
  tracker_tiers?: number[];
  /** DHT nodes to add, "host:port". */
  dht_nodes?: (string | [string, number])[];
  /** Bytes/s, -1 = unlimited. */
  upload_limit?: number;
  download_limit?: number;
  /** Upload slots for this torrent, -1 = unlimited. */
  max_uploads?: number;
  /** Connections for this torrent, -1 = unlimited. */
  max_connections?: number;
  /** Only sparse storage exists: 1 or "storage_mode_sparse". */
  storage_mode?: number | string;
  trackerid?: string;
  /** Unix times and totals carried over by resume data. */
  added_time?: number;
  completed_time?: number;
  total_uploaded?: number;
  total_downloaded?: number;
  /** spritzle's (qBittorrent's): its category; with no save_path, a category's save path is where it goes. */
  category?: string;
  /** spritzle's (qBittorrent's): its tags. */
  tags?: string[];
  /** spritzle's: its share limits and their action (see TorrentHandle.setShareLimits). */
  share_limits?: Partial<TorrentShareLimits>;
  /** spritzle's (qBittorrent's): each wanted file's first and last piece first. */
  first_last_piece_priority?: boolean;
}

/** The validated form the engine works with. */
export interface NormalizedAddParams {
  ti?: Uint8Array;
  info_hash?: string;
  url?: string;
  resume?: ResumeData;
  save_path?: string;
  name?: string;
  flags: number;
  file_priorities?: number[];
  piece_priorities?: number[];
  peers: { host: string; port: number }[];
  trackers: string[];
  url_seeds: string[];
  http_seeds?: string[];
  tracker_tiers?: number[];
  dht_nodes: { host: string; port: number }[];
  upload_limit: number;
  download_limit: number;
  max_uploads: number;
  max_connections: number;
  trackerid?: string;
  added_time?: number;
  completed_time?: number;
  total_uploaded: number;
  total_downloaded: number;
  category?: string;
  tags?: string[];
  share_limits?: Partial<TorrentShareLimits>;
  first_last_piece_priority?: boolean;
}

const KNOWN_KEYS = new Set<string>([
  'ti', 'info_hash', 'url', 'resume_data', 'save_path', 'name', 'flags', ...BOOLEAN_FLAG_KEYS, 'file_priorities', 'piece_priorities',
  'peers', 'trackers', 'url_seeds', 'http_seeds', 'tracker_tiers', 'dht_nodes', 'upload_limit', 'download_limit', 'max_uploads', 'max_connections',
  'storage_mode', 'trackerid', 'added_time', 'completed_time', 'total_uploaded', 'total_downloaded',
  'category', 'tags', 'share_limits', 'first_last_piece_priority',
]);

/** libtorrent names spritzle knows but does not implement: refused with a reason, not silently dropped. */
const UNSUPPORTED = new Map<string, string>([
  ['renamed_files', 'renaming files at add time is not supported'],
  ['banned_peers', 'banned_peers is not supported'],
  ['merkle_tree', 'BitTorrent v2 merkle trees are not supported'],
  ['info_hashes', 'use info_hash (v1, 40 hex characters)'],
]);

const HEX40 = /^[0-9a-fA-F]{40}$/;

function bad(field: string, why: string): never {
  throw new SpritzleError('invalid_param', `${field}: ${why}`, { field });
}

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, `must be an integer from ${min} to ${max}`);
  return v;
}

function endpoint(field: string, v: unknown): { host: string; port: number } {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string') {
    return { host: v[0], port: intIn(field, v[1], 1, 65535) };
  }
  if (typeof v !== 'string') bad(field, 'each entry must be "ip:port"');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) bad(field, `"${v}" is not "ip:port"`);
  return { host: (m[1] ?? m[2])!, port };
}

function priorities(field: string, v: unknown): number[] {
  if (!Array.isArray(v)) bad(field, 'must be a list of integers 0..7');
  return v.map((p, i) => intIn(`${field}[${i}]`, p, 0, 7));
}

function stringList(field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) bad(field, 'must be a list of strings');
  return v as string[];
}

function flagsFrom(v: unknown): number {
  if (typeof v === 'number') {
    // Bitwise operators truncate to 32 bits (2^53 & x is 0): range first, then the bit test on a safe int.
    if (!Number.isSafeInteger(v) || v < 0 || v > ALL_FLAG_BITS || (v & ~ALL_FLAG_BITS) !== 0) {
      bad('flags', `must be a bitmask of known torrent flags (0 to ${ALL_FLAG_BITS}), or a list of their names`);
    }
    return v;
  }
  if (typeof v === 'string') v = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(v)) bad('flags', 'must be a list of torrent flag names or an integer bitmask');
  let flags = 0;
  for (const name of v) {
    if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(TORRENT_FLAGS, name)) {
      bad('flags', `unknown torrent flag "${String(name)}" (known: ${Object.keys(TORRENT_FLAGS).join(', ')})`);
    }
    flags |= TORRENT_FLAGS[name as TorrentFlagName];
  }
  return flags;
}

/**
 * Validates add-torrent params by libtorrent's names: an unknown or ill-typed key is an invalid_param
 * error naming it. Source fields (`ti`/`info_hash`/`url`) are checked for type here; which one is given
 * is checked by the session.
 */
export function normalizeAddParams(input: unknown, decodedResume?: ResumeData): NormalizedAddParams {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SpritzleError('invalid_param', 'add-torrent params must be an object', { field: 'params' });
  }
  const p = input as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (p[key] === undefined) continue;
    const why = UNSUPPORTED.get(key);
    if (why) bad(key, why);
    if (!KNOWN_KEYS.has(key)) bad(key, 'unknown add_torrent_params field');
  }
  const out: NormalizedAddParams = {
    flags: p.flags === undefined ? DEFAULT_FLAGS : flagsFrom(p.flags),
    peers: [],
    trackers: [],
    url_seeds: [],
    dht_nodes: [],
    upload_limit: -1,
    download_limit: -1,
    max_uploads: -1,
    max_connections: -1,
    total_uploaded: 0,
    total_downloaded: 0,
  };
  if (p.ti !== undefined) {
    if (!(p.ti instanceof Uint8Array)) bad('ti', 'must be the .torrent file bytes');
    out.ti = p.ti;
  }
  if (p.info_hash !== undefined) {
    if (typeof p.info_hash !== 'string' || !(HEX40.test(p.info_hash) || /^[0-9a-fA-F]{64}$/.test(p.info_hash))) {
      bad('info_hash', 'must be 40 hex characters (a v1 info-hash) or 64 (a v2 one)');
    }
    out.info_hash = p.info_hash.toLowerCase();
  }
  if (p.url !== undefined) {
    if (typeof p.url !== 'string' || p.url.length === 0) bad('url', 'must be a non-empty string');
    out.url = p.url;
  }
  if (p.save_path !== undefined) {
    if (typeof p.save_path !== 'string' || p.save_path.length === 0 || p.save_path.includes('\0')) bad('save_path', 'must be a non-empty path');
    out.save_path = p.save_path;
  }
  if (p.name !== undefined) {
    if (typeof p.name !== 'string') bad('name', 'must be a string');
    out.name = p.name;
  }
  for (const key of BOOLEAN_FLAG_KEYS) {
    const v = p[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') bad(key, 'must be true or false');
    out.flags = v ? out.flags | TORRENT_FLAGS[key] : out.flags & ~TORRENT_FLAGS[key];
  }
  // `{"paused": true}` means "do not start it": the implicit auto_managed would otherwise start it at once.
  if (p.paused === true && p.auto_managed === undefined) out.flags &= ~TORRENT_FLAGS.auto_managed;
  if (p.file_priorities !== undefined) out.file_priorities = priorities('file_priorities', p.file_priorities);
  if (p.piece_priorities !== undefined) out.piece_priorities = priorities('piece_priorities', p.piece_priorities);
  if (p.peers !== undefined) {
    if (!Array.isArray(p.peers)) bad('peers', 'must be a list of "ip:port"');
    out.peers = p.peers.map((e) => endpoint('peers', e));
  }
  if (p.dht_nodes !== undefined) {
    if (!Array.isArray(p.dht_nodes)) bad('dht_nodes', 'must be a list of "host:port"');
    out.dht_nodes = p.dht_nodes.map((e) => endpoint('dht_nodes', e));
  }
  if (p.trackers !== undefined) {
    if (Array.isArray(p.trackers) && p.trackers.length > MAX_TRACKERS) tooManyTrackers('trackers');
    out.trackers = stringList('trackers', p.trackers);
  }
  for (const key of ['url_seeds', 'http_seeds'] as const) {
    const list = p[key];
    if (list === undefined) continue;
    if (Array.isArray(list) && list.length > MAX_TRACKERS) bad(key, `more than ${MAX_TRACKERS} web seeds`);
    out[key] = stringList(key, list).map((u, i) => {
      if (!/^https?:\/\/\S+$/i.test(u) || !URL.canParse(u)) bad(`${key}[${i}]`, `"${u.slice(0, 100)}" is not an http(s) URL`);
      return u;
    });
  }
  if (p.tracker_tiers !== undefined) {
    if (!Array.isArray(p.tracker_tiers)) bad('tracker_tiers', 'must be a list of integers');
    out.tracker_tiers = p.tracker_tiers.map((t, i) => intIn(`tracker_tiers[${i}]`, t, 0, 1000));
  }
  for (const key of ['upload_limit', 'download_limit', 'max_uploads', 'max_connections'] as const) {
    if (p[key] !== undefined) out[key] = intIn(key, p[key], -1, Number.MAX_SAFE_INTEGER);
  }
  for (const key of ['added_time', 'completed_time'] as const) {
    if (p[key] !== undefined) out[key] = intIn(key, p[key], 0, Number.MAX_SAFE_INTEGER);
  }
  for (const key of ['total_uploaded', 'total_downloaded'] as const) {
    if (p[key] !== undefined) out[key] = intIn(key, p[key], 0, Number.MAX_SAFE_INTEGER);
  }
  if (p.resume_data !== undefined || decodedResume) {
    if (p.resume_data !== undefined && !(p.resume_data instanceof Uint8Array)) bad('resume_data', 'must be the bytes of a resume file');
    const r = decodedResume ?? decodeResumeData(p.resume_data as Uint8Array);
    out.resume = r;
    // What the caller gives explicitly wins over what the resume file remembers.
    out.save_path ??= r.save_path;
    if (p.flags === undefined && BOOLEAN_FLAG_KEYS.every((k) => p[k] === undefined)) out.flags = r.flags;
    out.file_priorities ??= r.file_priorities;
    if (p.trackers === undefined) {
      out.trackers = r.trackers;
      out.tracker_tiers = r.tracker_tiers;
    }
    if (p.peers === undefined) out.peers = r.peers.map((e) => endpoint('resume_data', e));
    if (out.added_time === undefined && r.added_time) out.added_time = r.added_time;
    if (out.completed_time === undefined && r.completed_time) out.completed_time = r.completed_time;
    if (p.total_uploaded === undefined) out.total_uploaded = r.total_uploaded;
    if (p.total_downloaded === undefined) out.total_downloaded = r.total_downloaded;
  }
  if (p.storage_mode !== undefined && p.storage_mode !== 1 && p.storage_mode !== 'storage_mode_sparse') {
    bad('storage_mode', 'only sparse storage (1, "storage_mode_sparse") is supported');
  }
  if (p.trackerid !== undefined) {
    if (typeof p.trackerid !== 'string') bad('trackerid', 'must be a string');
    out.trackerid = p.trackerid;
  }
  // spritzle's (qBittorrent's) labels and share limits; given here, they win over the resume file's.
  if (p.category !== undefined && p.category !== '') out.category = validateCategoryName(p.category);
  else if (out.resume?.category) out.category = out.resume.category;
  if (p.tags !== undefined) out.tags = validateTags(p.tags);
  else if (out.resume?.tags) out.tags = out.resume.tags;
  if (p.share_limits !== undefined) out.share_limits = validateShareLimits(p.share_limits);
  if (p.first_last_piece_priority !== undefined) {
    if (typeof p.first_last_piece_priority !== 'boolean') bad('first_last_piece_priority', 'must be true or false');
    out.first_last_piece_priority = p.first_last_piece_priority;
  } else if (out.resume?.first_last_piece_priority !== undefined) out.first_last_piece_priority = out.resume.first_last_piece_priority;
  return out;
}

/** The names of the flags set in a bitmask. */
export function flagNames(flags: number): TorrentFlagName[] {
  return (Object.keys(TORRENT_FLAGS) as TorrentFlagName[]).filter((n) => (flags & TORRENT_FLAGS[n]) !== 0);
}
