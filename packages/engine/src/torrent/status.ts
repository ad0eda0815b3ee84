import { TORRENT_FLAGS } from '../session/add-torrent-params.js';
import type { TorrentShareLimits } from './share-limits.js';
import { BLOCK_SIZE } from '../block-size.js';
import type { TorrentState } from './torrent-state.js';
import type { DiscoveryStatus } from '../discovery/types.js';
import type { TorrentView } from './torrent-view.js';
import { currentRates } from './transfer-rates.js';

/** libtorrent's error_code as the original spritzle rendered it. */
export interface ErrorCodeJson {
  value: number;
  message: string;
  category: { name: string; message: string };
}

/**
 * A torrent's status: every key of the original spritzle's status example (libtorrent 1.1) plus
 * libtorrent 2.0's additions, each in libtorrent's meaning. Durations are rendered as libtorrent's Python
 * timedelta was by spritzle ("<seconds>.0" strings); -1 means unknown.
 */
export interface TorrentStatus {
  info_hash: string;
  info_hashes: { v1: string; v2: string };
  name: string;
  save_path: string;
  state: TorrentState;
  errc: ErrorCodeJson;
  error: string;
  error_file: number;
  has_metadata: boolean;
  is_loaded: boolean;
  is_finished: boolean;
  is_seeding: boolean;
  paused: boolean;
  auto_managed: boolean;
  sequential_download: boolean;
  seed_mode: boolean;
  upload_mode: boolean;
  share_mode: boolean;
  super_seeding: boolean;
  stop_when_ready: boolean;
  ip_filter_applies: boolean;
  moving_storage: boolean;
  need_save_resume: boolean;
  flags: number;
  progress: number;
  progress_ppm: number;
  pieces: boolean[];
  verified_pieces: boolean[];
  num_pieces: number;
  block_size: number;
  total: number;
  total_done: number;
  total_wanted: number;
  total_wanted_done: number;
  total_download: number;
  total_upload: number;
  total_payload_download: number;
  total_payload_upload: number;
  total_failed_bytes: number;
  total_redundant_bytes: number;
  all_time_download: number;
  all_time_upload: number;
  download_rate: number;
  upload_rate: number;
  download_payload_rate: number;
  upload_payload_rate: number;
  num_peers: number;
  num_seeds: number;
  num_connections: number;
  num_uploads: number;
  list_peers: number;
  list_seeds: number;
  connect_candidates: number;
  num_complete: number;
  num_incomplete: number;
  connections_limit: number;
  uploads_limit: number;
  distributed_copies: number;
  distributed_full_copies: number;
  distributed_fraction: number;
  down_bandwidth_queue: number;
  up_bandwidth_queue: number;
  has_incoming: boolean;
  current_tracker: string;
  next_announce: string;
  announce_interval: string;
  announcing_to_trackers: boolean;
  announcing_to_lsd: boolean;
  announcing_to_dht: boolean;
  last_scrape: number;
  last_seen_complete: number;
  added_time: number;
  completed_time: number;
  active_time: number;
  finished_time: number;
  seeding_time: number;
  active_duration: string;
  finished_duration: string;
  seeding_duration: string;
  time_since_download: number;
  time_since_upload: number;
  last_download: number | null;
  last_upload: number | null;
  queue_position: number;
  priority: number;
  seed_rank: number;
  storage_mode: number;
  // Fields beyond libtorrent's torrent_status that spritzle adds for convenience.
  /**
   * spritzle's own (libtorrent has no such field): seconds until the wanted data is complete at the
   * current download_payload_rate; 0 once finished, -1 when it cannot be told (no data flowing, no
   * metadata yet).
   */
  eta: number;
  /**
   * spritzle's own (libtorrent has no such field): the share ratio, all_time_upload divided by the larger
   * of all_time_download and total_done (so a seed of its own data counts uploads per copy it holds);
   * 0 when both are 0.
   */
  ratio: number;
  /** spritzle's own: the torrent's share limits and their action (see TorrentHandle.setShareLimits). */
  share_limits: TorrentShareLimits;
  /** spritzle's own (qBittorrent's): its category, "" for none. */
  category: string;
  /** spritzle's own (qBittorrent's): its tags, sorted. */
  tags: string[];
  /** spritzle's own (qBittorrent's): each wanted file's first and last piece come first. */
  first_last_piece_priority: boolean;
}

/** Seconds left at the current rate; 0 when done, -1 when unknown. */
export function etaSeconds(finished: boolean, hasMetadata: boolean, left: number, rate: number): number {
  if (finished) return 0;
  if (!hasMetadata || rate <= 0) return -1;
  return Math.ceil(left / rate);
}

/** Uploaded over the larger of downloaded and held; 0 when there is neither. */
export function shareRatio(uploaded: number, downloaded: number, held: number): number {
  const base = Math.max(downloaded, held);
  return base > 0 ? Math.round((uploaded / base) * 1000) / 1000 : 0;
}

const SUCCESS: ErrorCodeJson = { value: 0, message: 'Success', category: { name: 'system', message: 'Success' } };

/** libtorrent's timedelta rendering in the original spritzle: total seconds as a string with a fraction. */
function seconds(s: number): string {
  const whole = Math.floor(s);
  return `${whole}.0`;
}

/** The fields of {@link TorrentSummary}: what a list of many torrents shows. */
export const SUMMARY_FIELDS = [
  'info_hash', 'name', 'state', 'paused', 'progress', 'download_rate', 'upload_rate', 'download_payload_rate',
  'upload_payload_rate', 'num_peers', 'num_seeds', 'total_done', 'total_wanted', 'error', 'eta', 'ratio',
  'added_time', 'all_time_download', 'all_time_upload', 'category', 'tags',
] as const satisfies readonly (keyof TorrentStatus)[];

/** A few status fields, each as in {@link TorrentStatus}, built without the rest (no piece list, no discovery). */
export type TorrentSummary = Pick<TorrentStatus, (typeof SUMMARY_FIELDS)[number]>;

/** Wanted progress, or checking progress while checking; 1 once finished. */
function progressOf(t: TorrentView, wanted: number, wantedDone: number): number {
  const numPieces = t.picker?.numPieces ?? 0;
  if (t.isFinished && t.hasMetadata) return 1;
  if (t.state === 'checking_files' && numPieces > 0) return t.checkedPieces / numPieces;
  if (!t.hasMetadata) return 0;
  return wanted === 0 ? 1 : wantedDone / wanted;
}

/** A torrent's summary at `now` (ms): the same values as {@link buildStatus}'s, at a fraction of its cost. */
export function buildSummary(t: TorrentView, now: number): TorrentSummary {
  const { done, wantedDone, wanted } = t.doneBytes();
  const conn = t.connections();
  const rates = currentRates(t, now);
  return {
    info_hash: t.infoHash,
    name: t.name,
    state: t.state,
    paused: (t.flags & TORRENT_FLAGS.paused) !== 0,
    progress: progressOf(t, wanted, wantedDone),
    download_rate: rates.download_rate,
    upload_rate: rates.upload_rate,
    download_payload_rate: rates.download_payload_rate,
    upload_payload_rate: rates.upload_payload_rate,
    num_peers: conn.connections,
    num_seeds: conn.seeds,
    total_done: done,
    total_wanted: wanted,
    error: t.errorMessage,
    eta: etaSeconds(t.isFinished && t.hasMetadata, t.hasMetadata, wanted - wantedDone, rates.download_payload_rate),
    ratio: shareRatio(t.allTimeUpload, t.allTimeDownload, done),
    added_time: t.addedTime,
    all_time_download: t.allTimeDownload,
    all_time_upload: t.allTimeUpload,
    category: t.category,
    tags: [...t.tags],
  };
}

/** A torrent's status from its read-only view at `now` (ms), with its discovery's state when it has one. */
export function buildStatus(t: TorrentView, now: number, discovery?: DiscoveryStatus): TorrentStatus {
  const picker = t.picker;
  const numPieces = picker?.numPieces ?? 0;
  const pieces: boolean[] = new Array<boolean>(numPieces);
  for (let i = 0; i < numPieces; i++) pieces[i] = picker!.have(i);
  const { total, done, wantedDone, wanted } = t.doneBytes();
  const state = t.state;
  const progress = progressOf(t, wanted, wantedDone);
  const conn = t.connections();
  const f = t.flags;
  const flag = (bit: number): boolean => (f & bit) !== 0;
  const nowS = Math.floor(now / 1000);
  const distributed = picker && conn.connections > 0 && !t.isSeeding ? picker.distributedCopies() : -1;
  const candidates = t.peerList.connectCandidates;
  const errc: ErrorCodeJson = t.hasError
    ? { value: 1, message: t.errorMessage, category: { name: 'spritzle', message: t.errorMessage } }
    : SUCCESS;
  const d = discovery;
  const rates = currentRates(t, now);
  return {
    info_hash: t.infoHash,
    // libtorrent's info_hashes: both hashes of a hybrid, '' for the one a torrent does not have.
    info_hashes: { v1: t.info ? t.info.infoHashes.v1 ?? '' : t.v2Only ? '' : t.infoHash, v2: t.v2Hash ?? '' },
    name: t.name,
    save_path: t.savePath,
    state,
    errc,
    error: t.errorMessage,
    error_file: t.errorFile,
    has_metadata: t.hasMetadata,
    is_loaded: true,
    is_finished: t.isFinished,
    is_seeding: t.isSeeding,
    paused: flag(TORRENT_FLAGS.paused),
    auto_managed: flag(TORRENT_FLAGS.auto_managed),
    sequential_download: flag(TORRENT_FLAGS.sequential_download),
    seed_mode: flag(TORRENT_FLAGS.seed_mode),
    upload_mode: flag(TORRENT_FLAGS.upload_mode),
    share_mode: flag(TORRENT_FLAGS.share_mode),
    super_seeding: flag(TORRENT_FLAGS.super_seeding),
    stop_when_ready: flag(TORRENT_FLAGS.stop_when_ready),
    ip_filter_applies: flag(TORRENT_FLAGS.apply_ip_filter),
    moving_storage: t.movingStorage,
    need_save_resume: t.needSaveResume,
    flags: f,
    progress,
    progress_ppm: Math.floor(progress * 1_000_000),
    pieces,
    verified_pieces: [],
    num_pieces: picker?.numHave ?? 0,
    block_size: picker ? Math.min(BLOCK_SIZE, t.info!.pieceLength) : BLOCK_SIZE,
    total,
    total_done: done,
    total_wanted: wanted,
    total_wanted_done: wantedDone,
    total_download: t.totalDownload + conn.bytesRead,
    total_upload: t.totalUpload + conn.bytesWritten,
    total_payload_download: t.totalPayloadDownload,
    total_payload_upload: t.totalPayloadUpload,
    total_failed_bytes: t.totalFailedBytes,
    total_redundant_bytes: t.totalRedundantBytes,
    all_time_download: t.allTimeDownload,
    all_time_upload: t.allTimeUpload,
    ...rates,
    num_peers: conn.connections,
    num_seeds: conn.seeds,
    num_connections: conn.connections,
    num_uploads: conn.uploads,
    list_peers: t.peerList.size,
    list_seeds: conn.seeds,
    connect_candidates: candidates,
    num_complete: d?.num_complete ?? -1,
    num_incomplete: d?.num_incomplete ?? -1,
    connections_limit: t.maxConnections,
    uploads_limit: t.maxUploads,
    distributed_copies: distributed,
    distributed_full_copies: distributed < 0 ? -1 : Math.floor(distributed),
    distributed_fraction: distributed < 0 ? -1 : Math.floor((distributed % 1) * 1000),
    down_bandwidth_queue: 0,
    up_bandwidth_queue: 0,
    has_incoming: conn.hasIncoming,
    current_tracker: d?.current_tracker ?? '',
    next_announce: seconds(d?.next_announce_s ?? 0),
    announce_interval: seconds(d?.announce_interval_s ?? 0),
    announcing_to_trackers: d?.announcing_to_trackers ?? false,
    announcing_to_lsd: d?.announcing_to_lsd ?? false,
    announcing_to_dht: d?.announcing_to_dht ?? false,
    last_scrape: d?.last_scrape ?? -1,
    last_seen_complete: t.isSeeding ? nowS : t.lastSeenComplete,
    added_time: t.addedTime,
    completed_time: t.completedTime,
    active_time: Math.floor(t.activeSeconds),
    finished_time: Math.floor(t.finishedSeconds),
    seeding_time: Math.floor(t.seedingSeconds),
    active_duration: seconds(t.activeSeconds),
    finished_duration: seconds(t.finishedSeconds),
    seeding_duration: seconds(t.seedingSeconds),
    time_since_download: t.lastDownload ? Math.floor((now - t.lastDownload) / 1000) : -1,
    time_since_upload: t.lastUpload ? Math.floor((now - t.lastUpload) / 1000) : -1,
    last_download: t.lastDownload ? Math.floor(t.lastDownload / 1000) : null,
    last_upload: t.lastUpload ? Math.floor(t.lastUpload / 1000) : null,
    queue_position: t.queuePosition,
    priority: 0,
    seed_rank: 0,
    storage_mode: 1,
    eta: etaSeconds(t.isFinished && t.hasMetadata, t.hasMetadata, wanted - wantedDone, rates.download_payload_rate),
    ratio: shareRatio(t.allTimeUpload, t.allTimeDownload, done),
    share_limits: { ...t.shareLimits },
    category: t.category,
    tags: [...t.tags],
    first_last_piece_priority: t.firstLastPiecePriority,
  };
}
