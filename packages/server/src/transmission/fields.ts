import { NO_LIMIT, USE_GLOBAL, type FileInfo, type TorrentHandle, type TorrentInfo, type TorrentStatus, type TrackerInfo } from '@spritzle/engine';

/** Transmission's tr_torrent_activity. */
export const TR_STATUS = { stopped: 0, checkWait: 1, check: 2, downloadWait: 3, download: 4, seedWait: 5, seed: 6 } as const;

export function trStatus(s: TorrentStatus): number {
  if (s.state === 'checking_files' || s.state === 'checking_resume_data') return TR_STATUS.check;
  // Held back by the queue (paused by the auto-manager, still auto-managed): Transmission's *-wait.
  if (s.paused && s.auto_managed) return s.is_finished || s.is_seeding ? TR_STATUS.seedWait : TR_STATUS.downloadWait;
  if (s.paused) return TR_STATUS.stopped;
  return s.is_finished || s.is_seeding ? TR_STATUS.seed : TR_STATUS.download;
}

/** Transmission's tr_ratiolimit / tr_idlelimit: 0 the session's, 1 the torrent's own, 2 unlimited. */
export function trMode(limit: number): number {
  return limit === USE_GLOBAL ? 0 : limit < 0 ? 2 : 1;
}

/** Transmission's mode and limit (idle limits in minutes) → the engine's limit, or undefined for no change. */
export function limitFromTr(mode: number | undefined, value: number | undefined, current: number, perMinute: boolean): number | undefined {
  const own = (v: number): number => (perMinute ? Math.round(v * 60) : v);
  if (mode === 0) return USE_GLOBAL;
  if (mode === 2) return NO_LIMIT;
  if (mode === 1) return value !== undefined ? own(value) : current >= 0 ? current : undefined;
  // A limit alone changes the torrent's own limit only while it is in force, as in Transmission.
  if (value !== undefined && current >= 0) return own(value);
  return undefined;
}

/** libtorrent's 0..7 file priority → Transmission's low (-1), normal (0), high (1). */
export function trPriority(p: number): number {
  return p >= 6 ? 1 : p >= 4 || p === 0 ? 0 : -1;
}

/** Transmission's priority → libtorrent's (low 1, normal 4, high 7). */
export function ltPriority(tr: number): number {
  return tr > 0 ? 7 : tr < 0 ? 1 : 4;
}

/** What a field's value is computed from; the expensive parts (files, metadata) only when a field asks. */
export interface FieldSource {
  id: number;
  status: TorrentStatus;
  handle: TorrentHandle;
  files(): FileInfo[];
  info(): TorrentInfo | null;
  trackers(): TrackerInfo[];
  now: number;
}

/** Seconds since the Unix epoch, 0 for "never" (Transmission's convention). */
function epoch(t: number | null): number {
  return t !== null && t > 0 ? t : 0;
}

function eta(s: TorrentStatus): number {
  const left = s.total_wanted - s.total_wanted_done;
  if (left <= 0) return -1; // TR_ETA_NOT_AVAIL
  return s.download_payload_rate > 0 ? Math.ceil(left / s.download_payload_rate) : -2; // TR_ETA_UNKNOWN
}

function piecesBase64(s: TorrentStatus): string {
  const bits = Buffer.alloc(Math.ceil(s.pieces.length / 8));
  s.pieces.forEach((have, i) => {
    if (have) bits[i >> 3]! |= 0x80 >> (i & 7);
  });
  return bits.toString('base64');
}

function magnet(src: FieldSource): string {
  let m = `magnet:?xt=urn:btih:${src.status.info_hash}&dn=${encodeURIComponent(src.status.name)}`;
  for (const t of src.trackers()) m += `&tr=${encodeURIComponent(t.url)}`;
  return m;
}

type Field = (src: FieldSource) => unknown;

/**
 * torrent-get's fields, by Transmission's names (RPC version 17). What the engine does not have shows
 * Transmission's "none" value: seed ratio and idle modes 0 (global, which is off), queue position 0.
 */
export const FIELDS: Readonly<Record<string, Field>> = {
  id: (x) => x.id,
  hashString: (x) => x.status.info_hash,
  name: (x) => x.status.name,
  status: (x) => trStatus(x.status),
  error: (x) => (x.status.error !== '' ? 3 : 0),
  errorString: (x) => x.status.error,
  percentDone: (x) => x.status.progress,
  percentComplete: (x) => (x.status.total > 0 ? x.status.total_done / x.status.total : 0),
  metadataPercentComplete: (x) => (x.status.has_metadata ? 1 : 0),
  recheckProgress: (x) => (x.status.state === 'checking_files' ? x.status.progress : 0),
  totalSize: (x) => x.status.total,
  sizeWhenDone: (x) => x.status.total_wanted,
  leftUntilDone: (x) => Math.max(0, x.status.total_wanted - x.status.total_wanted_done),
  desiredAvailable: (x) => Math.max(0, x.status.total_wanted - x.status.total_wanted_done),
  haveValid: (x) => x.status.total_done,
  haveUnchecked: () => 0,
  rateDownload: (x) => x.status.download_payload_rate,
  rateUpload: (x) => x.status.upload_payload_rate,
  uploadedEver: (x) => x.status.all_time_upload,
  downloadedEver: (x) => x.status.all_time_download,
  corruptEver: (x) => x.status.total_failed_bytes,
  uploadRatio: (x) => (x.status.all_time_download > 0 ? x.status.all_time_upload / x.status.all_time_download : -1),
  eta: (x) => eta(x.status),
  etaIdle: () => -1,
  addedDate: (x) => epoch(x.status.added_time),
  doneDate: (x) => epoch(x.status.completed_time),
  startDate: (x) => epoch(x.status.added_time),
  activityDate: (x) => Math.max(epoch(x.status.last_download), epoch(x.status.last_upload)),
  editDate: () => 0,
  downloadDir: (x) => x.status.save_path,
  // Transmission's isFinished means "stopped at its seed ratio or idle limit"; without share limits, never.
  isFinished: () => false,
  isStalled: (x) => !x.status.paused && x.status.download_payload_rate === 0 && x.status.upload_payload_rate === 0,
  isPrivate: (x) => x.info()?.private ?? false,
  peersConnected: (x) => x.status.num_peers,
  peersGettingFromUs: (x) => x.status.num_uploads,
  peersSendingToUs: (x) => x.status.num_seeds,
  peersFrom: (x) => ({ fromCache: 0, fromDht: 0, fromIncoming: 0, fromLpd: 0, fromLtep: 0, fromPex: 0, fromTracker: x.status.num_peers }),
  peers: (x) => x.handle.peers().map((p) => ({
    address: p.ip, port: p.port, clientName: p.client, progress: p.progress, rateToClient: p.down_speed, rateToPeer: p.up_speed,
    flagStr: p.flags, isIncoming: p.direction === 'incoming', isEncrypted: false, isUTP: false,
  })),
  queuePosition: (x) => Math.max(0, x.status.queue_position),
  secondsDownloading: (x) => Math.max(0, x.status.active_time - x.status.seeding_time),
  secondsSeeding: (x) => x.status.seeding_time,
  seedRatioMode: (x) => trMode(x.status.share_limits.ratio_limit),
  seedRatioLimit: (x) => Math.max(0, x.status.share_limits.ratio_limit),
  seedIdleMode: (x) => trMode(x.status.share_limits.inactive_seeding_time_limit),
  seedIdleLimit: (x) => Math.max(0, Math.round(x.status.share_limits.inactive_seeding_time_limit / 60)),
  honorsSessionLimits: () => true,
  bandwidthPriority: () => 0,
  sequentialDownload: (x) => x.status.sequential_download,
  'peer-limit': (x) => x.status.connections_limit,
  maxConnectedPeers: (x) => x.status.connections_limit,
  manualAnnounceTime: () => -1,
  labels: (x) => x.status.tags,
  group: () => '',
  magnetLink: (x) => magnet(x),
  comment: (x) => x.info()?.comment ?? '',
  creator: (x) => x.info()?.createdBy ?? '',
  dateCreated: (x) => x.info()?.creationDate ?? 0,
  pieceCount: (x) => x.info()?.numPieces ?? 0,
  pieceSize: (x) => x.info()?.pieceLength ?? 0,
  pieces: (x) => piecesBase64(x.status),
  'file-count': (x) => x.files().filter((f) => !f.pad).length,
  files: (x) => x.files().filter((f) => !f.pad).map((f) => ({ name: f.path, length: f.size, bytesCompleted: f.bytes_done, begin_piece: 0, end_piece: 0 })),
  fileStats: (x) => x.files().filter((f) => !f.pad).map((f) => ({ bytesCompleted: f.bytes_done, wanted: f.priority > 0, priority: trPriority(f.priority) })),
  priorities: (x) => x.files().filter((f) => !f.pad).map((f) => trPriority(f.priority)),
  wanted: (x) => x.files().filter((f) => !f.pad).map((f) => (f.priority > 0 ? 1 : 0)),
  trackers: (x) => x.trackers().map((t, i) => ({ id: i, announce: t.url, scrape: '', tier: t.tier, sitename: siteName(t.url) })),
  trackerList: (x) => x.trackers().map((t) => t.url).join('\n'),
  trackerStats: (x) => x.trackers().map((t, i) => ({
    id: i, announce: t.url, tier: t.tier, host: siteName(t.url), sitename: siteName(t.url), lastAnnounceSucceeded: t.status === 'working',
    lastAnnounceResult: t.message, lastAnnouncePeerCount: t.num_peers, announceState: t.status === 'announcing' ? 3 : 1,
    hasAnnounced: t.status === 'working' || t.status === 'error', seederCount: -1, leecherCount: -1, downloadCount: -1, isBackup: false,
  })),
  webseeds: () => [],
  webseedsSendingToUs: () => 0,
  'primary-mime-type': () => 'application/octet-stream',
  torrentFile: () => '',
};

function siteName(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
