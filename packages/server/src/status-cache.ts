import type { RequestHandler } from 'express';
import type { Session, TorrentHandle, TorrentStatus } from '@spritzle/engine';

/** An idle torrent's status is rebuilt at least this often, a few per poll (its time counters tick). */
export const IDLE_MAX_AGE_MS = 30_000;
/** At most this many idle, aged statuses are rebuilt per listing, so a listing's cost stays flat. */
export const IDLE_REFRESH_PER_CALL = 16;

export interface CachedStatus {
  readonly handle: TorrentHandle;
  readonly status: TorrentStatus;
}

interface Entry extends CachedStatus {
  at: number;
}

/** Transferring, checking or fetching metadata: its numbers move between events, so it is always rebuilt. */
function isBusy(s: TorrentStatus): boolean {
  return s.num_peers > 0 || s.download_rate > 0 || s.upload_rate > 0 || s.state === 'checking_files' ||
    s.state === 'checking_resume_data' || s.state === 'downloading_metadata';
}

/**
 * Statuses for the pollers that list every torrent (qBittorrent's sync/maindata, Transmission's torrent-get):
 * building 1,000 full statuses costs several milliseconds per poll. A torrent is rebuilt when the session
 * said something about it (any event carrying its info-hash), when it is busy, or when it has been idle for
 * IDLE_MAX_AGE_MS (a few per listing); otherwise the last status is served. What can lag for an idle torrent
 * is what moves without an event: its time counters and tracker (scrape) figures.
 *
 * `refresh()` does that work in proportion to what is due (the torrents named since, the busy ones, a few
 * aged ones), not to the number of torrents, and tells `onRebuilt` listeners which torrents it rebuilt or
 * saw removed: a poller that keeps its own answers (sync/maindata) follows the changes from there.
 */
export class StatusCache {
  /** In the order the statuses were built, oldest first: the aged ones are at the front. */
  private readonly entries = new Map<string, Entry>();
  /** Named by an event or invalidated since their last build (may hold torrents not built yet). */
  private readonly dirty = new Set<string>();
  /** Those whose last status was busy. */
  private readonly busy = new Set<string>();
  private readonly listeners: ((infoHash: string) => void)[] = [];

  constructor(private readonly session: Session, private readonly now: () => number = Date.now) {
    // Called for every event, piece_finished included: a set insertion, no allocation once it holds the hash.
    session.onAny((name, payload) => {
      const hash = (payload as { info_hash?: unknown }).info_hash;
      if (typeof hash !== 'string') return;
      if (name === 'torrent_removed') this.forget(hash);
      else {
        if (name === 'torrent_update') this.forget((payload as { old_info_hash: string }).old_info_hash);
        this.dirty.add(hash);
      }
    });
  }

  /** Called with a torrent's info-hash whenever its status was rebuilt or it left the session. */
  onRebuilt(listener: (infoHash: string) => void): void {
    this.listeners.push(listener);
  }

  /** The adapter changed something that emits no event (limits, sequential download): rebuild next time. */
  invalidate(hash: string): void {
    this.dirty.add(hash);
  }

  /** Something changed many torrents without events (a category or tag removed): rebuild them all. */
  invalidateAll(): void {
    for (const hash of this.entries.keys()) this.dirty.add(hash);
  }

  /** A fresh status, always (one torrent is cheap). */
  one(handle: TorrentHandle): TorrentStatus {
    const status = handle.status();
    const hash = handle.infoHash;
    // Deleted first so that the map stays in build order.
    this.entries.delete(hash);
    this.entries.set(hash, { handle, status, at: this.now() });
    this.dirty.delete(hash);
    if (isBusy(status)) this.busy.add(hash);
    else this.busy.delete(hash);
    for (const l of this.listeners) l(hash);
    return status;
  }

  /** The cached status of one torrent as last built, if it was. */
  peek(hash: string): CachedStatus | undefined {
    return this.entries.get(hash);
  }

  /** The torrents whose last status was busy: the only ones with a transfer rate above zero. */
  *busyStatuses(): Generator<CachedStatus> {
    for (const hash of this.busy) {
      const e = this.entries.get(hash);
      if (e !== undefined) yield e;
    }
  }

  /** Rebuilds what is due: the dirty, the busy, and at most IDLE_REFRESH_PER_CALL aged ones (the oldest). */
  refresh(): void {
    for (const hash of this.dirty) this.rebuild(hash);
    for (const hash of this.busy) this.rebuild(hash);
    const now = this.now();
    let budget = IDLE_REFRESH_PER_CALL;
    // Oldest first; a rebuilt entry moves to the end, so the loop stops at the first one not aged.
    for (const [hash, e] of this.entries) {
      if (budget === 0 || now - e.at < IDLE_MAX_AGE_MS) break;
      budget--;
      this.rebuild(hash);
    }
  }

  /** Every torrent still in the session with its status, in the session's order. */
  all(): CachedStatus[] {
    this.refresh();
    const out: CachedStatus[] = [];
    for (const handle of this.session.torrents()) {
      if (!handle.isValid()) continue;
      const e = this.entries.get(handle.infoHash);
      out.push(e !== undefined && e.handle === handle ? e : { handle, status: this.one(handle) });
    }
    return out;
  }

  private rebuild(hash: string): void {
    const e = this.entries.get(hash);
    const handle = e?.handle.isValid() === true ? e.handle : this.session.findTorrent(hash);
    if (handle === undefined || !handle.isValid() || handle.infoHash !== hash) {
      // Named by an event but gone (or never a torrent of ours under that hash).
      if (e !== undefined) this.forget(hash);
      else this.dirty.delete(hash);
      return;
    }
    this.one(handle);
  }

  private forget(hash: string): void {
    this.dirty.delete(hash);
    this.busy.delete(hash);
    if (this.entries.delete(hash)) for (const l of this.listeners) l(hash);
  }
}

/** `/torrent/<hash>...`: the hash of the torrent a REST request changes. */
const TORRENT_PATH = /^\/torrent\/([0-9a-fA-F]{40}|[0-9a-fA-F]{64})(?:\/|$)/;

/**
 * A middleware for spritzle's own REST API: a change it made that the engine announces with no event (a
 * category, tags, share limits, limits; PATCH /torrent/<hash>) marks that torrent for rebuilding once the
 * answer went out fine; a queue move, a category removed or a setting changed, every torrent. Without it the
 * adapters would show such a change only when the torrent's status ages (IDLE_MAX_AGE_MS).
 */
export function invalidateOnRestChanges(statuses: StatusCache, session: Session): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    const path = req.path;
    res.once('finish', () => {
      if (res.statusCode >= 300) return;
      const m = TORRENT_PATH.exec(path);
      const body = req.body as Record<string, unknown> | undefined;
      if (m !== null && !(typeof body === 'object' && body !== null && ('queue_position' in body || 'auto_managed' in body))) {
        const h = session.findTorrent(m[1]!.toLowerCase());
        if (h !== undefined) statuses.invalidate(h.infoHash);
      } else if (m !== null || path.startsWith('/session/')) {
        statuses.invalidateAll();
      }
    });
    next();
  };
}
