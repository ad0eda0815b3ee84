import path from 'node:path';
import type { ShareLimitAction, TorrentShareLimits, TorrentStatus } from '@spritzle/engine';
import { QbError } from './params.js';

/** qBittorrent's "infinite" ETA (100 days), sent for finished and stalled torrents alike. */
export const MAX_ETA = 8_640_000;
/** qBittorrent caps the ratio it shows at 9999. */
export const MAX_RATIO = 9999;

/** qBittorrent 4.6's state names (5.x renamed paused* to stopped*; the API version we report is 4.6's). */
export type QbState =
  | 'error' | 'missingFiles' | 'uploading' | 'pausedUP' | 'queuedUP' | 'stalledUP' | 'checkingUP' | 'forcedUP'
  | 'allocating' | 'downloading' | 'metaDL' | 'pausedDL' | 'queuedDL' | 'stalledDL' | 'checkingDL' | 'forcedDL'
  | 'checkingResumeData' | 'moving' | 'unknown';

/** The qBittorrent state of a status: libtorrent's state and paused flag, with "stalled" when no payload moves. */
export function qbState(s: TorrentStatus): QbState {
  if (s.error !== '') return /ENOENT|no such file/i.test(s.error) ? 'missingFiles' : 'error';
  const done = s.is_finished || s.is_seeding;
  if (s.moving_storage) return 'moving';
  if (s.state === 'checking_resume_data') return 'checkingResumeData';
  if (s.state === 'checking_files') return done ? 'checkingUP' : 'checkingDL';
  // Held back by the queue: paused by the auto-manager, still auto-managed (libtorrent's "queued").
  if (s.paused && s.auto_managed) return done ? 'queuedUP' : 'queuedDL';
  if (s.paused) return done ? 'pausedUP' : 'pausedDL';
  if (s.state === 'downloading_metadata') return 'metaDL';
  if (done) return s.upload_payload_rate > 0 ? 'uploading' : 'stalledUP';
  return s.download_payload_rate > 0 ? 'downloading' : 'stalledDL';
}

export function ratioOf(s: TorrentStatus): number {
  const down = s.all_time_download > 0 ? s.all_time_download : 0;
  if (down === 0) return s.all_time_upload > 0 ? MAX_RATIO : 0;
  return Math.min(s.all_time_upload / down, MAX_RATIO);
}

export function etaOf(s: TorrentStatus): number {
  const left = s.total_wanted - s.total_wanted_done;
  if (left <= 0 || s.paused) return MAX_ETA;
  const rate = s.download_payload_rate;
  return rate > 0 ? Math.min(Math.ceil(left / rate), MAX_ETA) : MAX_ETA;
}

export function magnetOf(s: TorrentStatus, trackers: readonly string[]): string {
  let m = `magnet:?xt=urn:btih:${s.info_hash}&dn=${encodeURIComponent(s.name)}`;
  for (const t of trackers) m += `&tr=${encodeURIComponent(t)}`;
  return m;
}

/** A limit in seconds → qBittorrent's minutes (-1 none and -2 global stay as they are). */
const minutes = (seconds: number): number => (seconds < 0 ? seconds : Math.round(seconds / 60));

/**
 * The engine's share limits as qBittorrent shows them: the torrent's own (-2 global, -1 none; times in
 * minutes) and max_* the limit in force (the session has none of its own yet, so -2 is none: -1).
 */
export function qbShareLimits(l: TorrentShareLimits): Record<string, number> {
  const inForce = (v: number): number => (v < 0 ? -1 : v);
  return {
    ratio_limit: l.ratio_limit, seeding_time_limit: minutes(l.seeding_time_limit), inactive_seeding_time_limit: minutes(l.inactive_seeding_time_limit),
    max_ratio: inForce(l.ratio_limit), max_seeding_time: inForce(minutes(l.seeding_time_limit)),
    max_inactive_seeding_time: inForce(minutes(l.inactive_seeding_time_limit)),
  };
}

/** qBittorrent's share-limit parameters (ratio, minutes, 5.x's action name) → the engine's limits. */
export function shareLimitsFromQb(ratio: number | undefined, seedingMinutes: number | undefined, inactiveMinutes: number | undefined, action: string | undefined): Partial<TorrentShareLimits> {
  const out: Partial<TorrentShareLimits> = {};
  const seconds = (m: number): number => (m < 0 ? Math.trunc(m) : Math.round(m * 60));
  if (ratio !== undefined) out.ratio_limit = ratio;
  if (seedingMinutes !== undefined) out.seeding_time_limit = seconds(seedingMinutes);
  if (inactiveMinutes !== undefined) out.inactive_seeding_time_limit = seconds(inactiveMinutes);
  const actions: Readonly<Record<string, ShareLimitAction>> = { Stop: 'pause', Remove: 'remove', RemoveWithContent: 'remove_with_files' };
  if (action !== undefined && action !== 'Default') {
    const a = actions[action];
    if (a === undefined) throw new QbError(400, `shareLimitAction: "${action.slice(0, 40)}" is not one of Default, Stop, Remove, RemoveWithContent`);
    out.action = a;
  }
  return out;
}

/** What the adapter adds to a status: the trackers it looked up. */
export interface TorrentExtras {
  trackers: readonly string[];
  /** Whether the session queues torrents (qBittorrent shows priority 0 for every torrent when it does not). */
  queueing: boolean;
}

/**
 * One torrent as qBittorrent's `torrents/info` (and `sync/maindata`) shows it. Every number comes from the
 * engine's status; what the engine does not have yet (share limits, queueing, first/last piece priority,
 * automatic torrent management) shows qBittorrent's "off" values.
 */
export function qbTorrent(s: TorrentStatus, x: TorrentExtras): Record<string, string | number | boolean> {
  const amountLeft = Math.max(0, s.total_wanted - s.total_wanted_done);
  const lastTransfer = Math.max(s.last_download ?? 0, s.last_upload ?? 0);
  return {
    hash: s.info_hash,
    infohash_v1: s.info_hashes.v1,
    infohash_v2: s.info_hashes.v2,
    name: s.name,
    magnet_uri: magnetOf(s, x.trackers),
    size: s.total_wanted,
    total_size: s.has_metadata ? s.total : -1,
    progress: s.progress,
    dlspeed: s.download_payload_rate,
    upspeed: s.upload_payload_rate,
    eta: etaOf(s),
    state: qbState(s),
    category: s.category,
    tags: s.tags.join(', '),
    save_path: s.save_path,
    download_path: '',
    content_path: path.join(s.save_path, s.name),
    root_path: path.join(s.save_path, s.name),
    ratio: ratioOf(s),
    ...qbShareLimits(s.share_limits),
    seeding_time: s.seeding_time,
    time_active: s.active_time,
    last_activity: lastTransfer > 0 ? lastTransfer : s.added_time,
    added_on: s.added_time,
    completion_on: s.completed_time > 0 ? s.completed_time : -1,
    seen_complete: s.last_seen_complete > 0 ? s.last_seen_complete : -1,
    num_seeds: s.num_seeds,
    num_leechs: s.num_peers - s.num_seeds,
    num_complete: Math.max(s.num_complete, 0),
    num_incomplete: Math.max(s.num_incomplete, 0),
    // qBittorrent's queue position counts from 1; 0 when not queued (finished, or no queueing).
    priority: x.queueing && s.queue_position >= 0 ? s.queue_position + 1 : 0,
    amount_left: amountLeft,
    completed: s.total_wanted_done,
    downloaded: s.all_time_download,
    uploaded: s.all_time_upload,
    downloaded_session: s.total_payload_download,
    uploaded_session: s.total_payload_upload,
    availability: s.distributed_copies,
    tracker: s.current_tracker,
    trackers_count: x.trackers.length,
    seq_dl: s.sequential_download,
    super_seeding: s.super_seeding,
    f_l_piece_prio: s.first_last_piece_priority,
    force_start: !s.auto_managed && !s.paused,
    auto_tmm: false,
    private: false,
    reannounce: Number.parseInt(s.next_announce, 10) || 0,
  };
}

export type QbTorrent = ReturnType<typeof qbTorrent>;

export const QB_FILTERS: ReadonlySet<string> = new Set([
  'all', 'downloading', 'seeding', 'completed', 'paused', 'stopped', 'resumed', 'running', 'active', 'inactive',
  'stalled', 'stalled_uploading', 'stalled_downloading', 'checking', 'moving', 'errored', 'queued',
]);

/** `torrents/info?filter=`: qBittorrent's filter names (5.x's stopped/running too). null for an unknown one. */
export function matchesFilter(filter: string, t: QbTorrent): boolean | null {
  const st = t.state as QbState;
  const paused = st === 'pausedDL' || st === 'pausedUP';
  const done = t.progress === 1;
  switch (filter) {
    case 'all': return true;
    case 'downloading': return ['downloading', 'metaDL', 'pausedDL', 'queuedDL', 'stalledDL', 'checkingDL', 'forcedDL'].includes(st);
    case 'seeding': return ['uploading', 'stalledUP', 'queuedUP', 'checkingUP', 'forcedUP'].includes(st);
    case 'completed': return done;
    case 'paused': case 'stopped': return paused;
    case 'resumed': case 'running': return !paused;
    case 'queued': return st === 'queuedDL' || st === 'queuedUP';
    case 'active': return (t.dlspeed as number) > 0 || (t.upspeed as number) > 0;
    case 'inactive': return (t.dlspeed as number) === 0 && (t.upspeed as number) === 0;
    case 'stalled': return st === 'stalledDL' || st === 'stalledUP';
    case 'stalled_uploading': return st === 'stalledUP';
    case 'stalled_downloading': return st === 'stalledDL';
    case 'checking': return st === 'checkingDL' || st === 'checkingUP' || st === 'checkingResumeData';
    case 'moving': return st === 'moving';
    case 'errored': return st === 'error' || st === 'missingFiles';
    default: return null;
  }
}
