/**
 * Share limits, as qBittorrent layers them over libtorrent: a ratio limit, a seeding-time limit and an
 * inactive-seeding-time limit per torrent (or the session's, or none), and what to do when one is reached.
 * Pure: the torrent's owner checks on its tick and carries the action out.
 */

/** A per-torrent limit: a value, USE_GLOBAL (the session's), or NO_LIMIT. */
export const USE_GLOBAL = -2;
export const NO_LIMIT = -1;

export type ShareLimitAction = 'pause' | 'remove' | 'remove_with_files';

export interface ShareLimits {
  /** Uploaded / downloaded. */
  ratio_limit: number;
  /** Seconds of seeding. */
  seeding_time_limit: number;
  /** Seconds of seeding without uploading. */
  inactive_seeding_time_limit: number;
}

export interface ShareFigures {
  isSeeding: boolean;
  allTimeUpload: number;
  allTimeDownload: number;
  /** The torrent's size: a torrent added complete (downloaded nothing) counts its size as downloaded. */
  totalSize: number;
  seedingSeconds: number;
  /** Seconds since the last payload upload (or since seeding began, if none). */
  inactiveSeconds: number;
}

export type ShareLimitReached = 'ratio' | 'seeding_time' | 'inactive_seeding_time';

function effective(own: number, global: number): number {
  return own === USE_GLOBAL ? global : own;
}

/** The ratio qBittorrent compares with the limit: uploaded over downloaded (or over the size when nothing was). */
export function shareRatio(f: ShareFigures): number {
  const down = f.allTimeDownload > 0 ? f.allTimeDownload : f.totalSize;
  return down > 0 ? f.allTimeUpload / down : 0;
}

/** Which limit a seeding torrent has reached, or null. Only seeding torrents are judged. */
export function shareLimitReached(f: ShareFigures, own: ShareLimits, global: ShareLimits): ShareLimitReached | null {
  if (!f.isSeeding) return null;
  const ratio = effective(own.ratio_limit, global.ratio_limit);
  if (ratio >= 0 && shareRatio(f) >= ratio) return 'ratio';
  const seeding = effective(own.seeding_time_limit, global.seeding_time_limit);
  if (seeding >= 0 && f.seedingSeconds >= seeding) return 'seeding_time';
  const inactive = effective(own.inactive_seeding_time_limit, global.inactive_seeding_time_limit);
  if (inactive >= 0 && f.inactiveSeconds >= inactive) return 'inactive_seeding_time';
  return null;
}

/** A limit value from outside: USE_GLOBAL, NO_LIMIT or a non-negative number; anything else is null. */
export function validLimit(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  if (v === USE_GLOBAL || v === NO_LIMIT || v >= 0) return v;
  return null;
}
