import { SpritzleError } from '../errors.js';

/**
 * Share limits, as qBittorrent layers them over libtorrent: a ratio limit, a seeding-time limit and an
 * inactive-seeding-time limit per torrent (or the session's, or none), and what to do when one is reached.
 * Pure: the torrent's owner checks on its tick and carries the action out.
 */

/** A per-torrent limit value meaning "the session's limit" (the session has none yet, so: none). */
export const USE_GLOBAL = -2;
/** A per-torrent limit value meaning "no limit". */
export const NO_LIMIT = -1;

/** What happens to a torrent that reached a share limit: paused, removed, or removed with its files. */
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
  /** The torrent's size (a seed's total_done): the ratio divides by the larger of it and the downloaded bytes. */
  totalSize: number;
  seedingSeconds: number;
  /** Seconds since the last payload upload (or since seeding began, if none). */
  inactiveSeconds: number;
}

/** Which limit a torrent reached. */
export type ShareLimitReached = 'ratio' | 'seeding_time' | 'inactive_seeding_time';

function effective(own: number, global: number): number {
  return own === USE_GLOBAL ? global : own;
}

/**
 * The ratio compared with the limit: the status's `ratio` for a seed, uploaded over the larger of downloaded
 * and its size (a seed of its own data counts uploads per copy it holds).
 */
export function shareRatio(f: ShareFigures): number {
  const down = Math.max(f.allTimeDownload, f.totalSize);
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

/** Every ShareLimitAction. */
export const SHARE_LIMIT_ACTIONS: readonly ShareLimitAction[] = ['pause', 'remove', 'remove_with_files'];

/** A torrent's own limits and what happens when one is reached. */
export interface TorrentShareLimits extends ShareLimits {
  action: ShareLimitAction;
}

/** A new torrent's: the session's limits (which are none until the session has some), then pause. */
export const DEFAULT_TORRENT_SHARE_LIMITS: Readonly<TorrentShareLimits> = Object.freeze({
  ratio_limit: USE_GLOBAL, seeding_time_limit: USE_GLOBAL, inactive_seeding_time_limit: USE_GLOBAL, action: 'pause',
});

/** The session has no share limits of its own yet: USE_GLOBAL means none. */
export const NO_GLOBAL_SHARE_LIMITS: Readonly<ShareLimits> = Object.freeze({
  ratio_limit: NO_LIMIT, seeding_time_limit: NO_LIMIT, inactive_seeding_time_limit: NO_LIMIT,
});

/** A partial TorrentShareLimits from outside, checked whole; a bad key is an invalid_param naming it. */
export function validateShareLimits(input: unknown): Partial<TorrentShareLimits> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SpritzleError('invalid_param', 'share_limits must be an object', { field: 'share_limits' });
  }
  const out: Partial<TorrentShareLimits> = {};
  for (const [key, v] of Object.entries(input as Record<string, unknown>)) {
    if (key === 'action') {
      if (!SHARE_LIMIT_ACTIONS.includes(v as ShareLimitAction)) {
        throw new SpritzleError('invalid_param', `share_limits.action must be one of ${SHARE_LIMIT_ACTIONS.join(', ')}`, { field: 'share_limits.action' });
      }
      out.action = v as ShareLimitAction;
    } else if (key === 'ratio_limit' || key === 'seeding_time_limit' || key === 'inactive_seeding_time_limit') {
      const n = validLimit(v);
      if (n === null || (key !== 'ratio_limit' && !Number.isInteger(n))) {
        throw new SpritzleError('invalid_param', `share_limits.${key} must be ${key === 'ratio_limit' ? 'a number' : 'whole seconds'} ≥ 0, -1 (none) or -2 (the session's)`, { field: `share_limits.${key}` });
      }
      out[key] = n;
    } else {
      throw new SpritzleError('invalid_param', `share_limits: unknown key "${key.slice(0, 64)}" (ratio_limit, seeding_time_limit, inactive_seeding_time_limit, action)`, { field: 'share_limits' });
    }
  }
  return out;
}

/** What shareLimitOf reads of a torrent (a TorrentView has all of it). */
export interface ShareLimitSubject {
  readonly shareLimits: Readonly<TorrentShareLimits>;
  readonly isSeeding: boolean;
  readonly hasError: boolean;
  readonly allTimeUpload: number;
  readonly allTimeDownload: number;
  readonly info: { readonly totalLength: number } | null;
  readonly seedingSeconds: number;
  /** ms since the epoch of the last payload upload, 0 for never. */
  readonly lastUpload: number;
}

/** The limit a running torrent has reached now, or null (paused and failed torrents are not judged). */
export function shareLimitOf(t: ShareLimitSubject, paused: boolean, nowMs: number): ShareLimitReached | null {
  // Most torrents each tick: not seeding, or no limit at all; nothing is built for them.
  if (paused || t.hasError || !t.isSeeding) return null;
  const l = t.shareLimits;
  if (l.ratio_limit === USE_GLOBAL && l.seeding_time_limit === USE_GLOBAL && l.inactive_seeding_time_limit === USE_GLOBAL) return null;
  const figures: ShareFigures = {
    isSeeding: t.isSeeding, allTimeUpload: t.allTimeUpload, allTimeDownload: t.allTimeDownload,
    totalSize: t.info?.totalLength ?? 0, seedingSeconds: t.seedingSeconds,
    inactiveSeconds: t.lastUpload > 0 ? Math.max(0, (nowMs - t.lastUpload) / 1000) : t.seedingSeconds,
  };
  return shareLimitReached(figures, l, NO_GLOBAL_SHARE_LIMITS);
}
