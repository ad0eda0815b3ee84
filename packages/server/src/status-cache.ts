import type { Session, TorrentHandle, TorrentStatus } from '@spritzle/engine';

/** An idle torrent's status is rebuilt at least this often, a few per poll (its time counters tick). */
export const IDLE_MAX_AGE_MS = 30_000;
/** At most this many idle, aged statuses are rebuilt per listing, so a listing's cost stays flat. */
export const IDLE_REFRESH_PER_CALL = 16;

interface Entry {
  handle: TorrentHandle;
  status: TorrentStatus;
  at: number;
  dirty: boolean;
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
 */
export class StatusCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly session: Session, private readonly now: () => number = Date.now) {
    // Called for every event, piece_finished included: a map lookup and a flag, no allocation.
    session.onAny((name, payload) => {
      const hash = (payload as { info_hash?: unknown }).info_hash;
      if (typeof hash !== 'string') return;
      if (name === 'torrent_removed') this.entries.delete(hash);
      else if (name === 'torrent_update') this.entries.delete((payload as { old_info_hash: string }).old_info_hash);
      else {
        const e = this.entries.get(hash);
        if (e) e.dirty = true;
      }
    });
  }

  /** The adapter changed something that emits no event (limits, sequential download): rebuild next time. */
  invalidate(hash: string): void {
    const e = this.entries.get(hash);
    if (e) e.dirty = true;
  }

  /** Something changed many torrents without events (a category or tag removed): rebuild them all. */
  invalidateAll(): void {
    for (const e of this.entries.values()) e.dirty = true;
  }

  /** A fresh status, always (one torrent is cheap). */
  one(handle: TorrentHandle): TorrentStatus {
    const status = handle.status();
    this.entries.set(handle.infoHash, { handle, status, at: this.now(), dirty: false });
    return status;
  }

  /** Every torrent still in the session with its status, in the session's order. */
  all(): { handle: TorrentHandle; status: TorrentStatus }[] {
    const now = this.now();
    let refreshBudget = IDLE_REFRESH_PER_CALL;
    const out: { handle: TorrentHandle; status: TorrentStatus }[] = [];
    for (const handle of this.session.torrents()) {
      if (!handle.isValid()) continue;
      const e = this.entries.get(handle.infoHash);
      let fresh = e === undefined || e.handle !== handle || e.dirty || isBusy(e.status);
      if (!fresh && now - e!.at >= IDLE_MAX_AGE_MS && refreshBudget > 0) {
        refreshBudget--;
        fresh = true;
      }
      out.push({ handle, status: fresh ? this.one(handle) : e!.status });
    }
    return out;
  }
}
