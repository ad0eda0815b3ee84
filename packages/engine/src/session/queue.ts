/**
 * libtorrent's queueing: queue positions for unfinished torrents and the auto-manager's choice of which
 * auto-managed torrents run (session_impl::recalculate_auto_managed_torrents). Pure: the session applies the
 * answer (resume the ones to start, pause the ones to stop) and owns the timing.
 */

/** libtorrent's settings_pack names; -1 means unlimited. */
export interface QueueLimits {
  active_downloads: number;
  active_seeds: number;
  active_limit: number;
}

export const DEFAULT_QUEUE_LIMITS: Readonly<QueueLimits> = Object.freeze({ active_downloads: 3, active_seeds: 5, active_limit: 500 });

/** What the auto-manager needs to know of one torrent. */
export interface QueueEntry {
  id: string;
  /** Subject to the queue; a torrent that is not (force-started or paused by hand) keeps its state. */
  autoManaged: boolean;
  /** Running now (not paused). */
  running: boolean;
  /** Downloaded what it wants: it competes for seed slots, not download slots. */
  finished: boolean;
  /** In error: never started by the queue, never counted. */
  error: boolean;
  /** Its queue position (unfinished torrents), -1 when finished. */
  queuePosition: number;
  /** libtorrent's seed_rank: seeds with a higher rank get the seed slots first. */
  seedRank: number;
}

export interface QueueDecision {
  start: string[];
  stop: string[];
  /** Auto-managed torrents that wait for a slot (libtorrent's queued_for_download / queued_for_seeding). */
  queued: string[];
}

const unlimited = (n: number): number => (n < 0 ? Number.POSITIVE_INFINITY : n);

/**
 * Which auto-managed torrents should run. Torrents that are not auto-managed but running count against the
 * limits first (as in libtorrent: a force-started torrent takes a slot). Downloads go by queue position, seeds
 * by seed rank; the total never exceeds active_limit.
 */
export function autoManage(entries: readonly QueueEntry[], limits: QueueLimits): QueueDecision {
  let downloads = 0, seeds = 0, total = 0;
  for (const e of entries) {
    if (e.autoManaged || !e.running || e.error) continue;
    total++;
    if (e.finished) seeds++;
    else downloads++;
  }
  const maxDownloads = unlimited(limits.active_downloads);
  const maxSeeds = unlimited(limits.active_seeds);
  const maxTotal = unlimited(limits.active_limit);
  const managed = entries.filter((e) => e.autoManaged && !e.error);
  const downloaders = managed.filter((e) => !e.finished).sort((a, b) => a.queuePosition - b.queuePosition);
  const seeders = managed.filter((e) => e.finished).sort((a, b) => b.seedRank - a.seedRank);
  const out: QueueDecision = { start: [], stop: [], queued: [] };
  const place = (e: QueueEntry, slot: boolean): void => {
    if (slot && !e.running) out.start.push(e.id);
    else if (!slot && e.running) out.stop.push(e.id);
    if (!slot) out.queued.push(e.id);
  };
  for (const e of downloaders) {
    const slot = downloads < maxDownloads && total < maxTotal;
    if (slot) {
      downloads++;
      total++;
    }
    place(e, slot);
  }
  for (const e of seeders) {
    const slot = seeds < maxSeeds && total < maxTotal;
    if (slot) {
      seeds++;
      total++;
    }
    place(e, slot);
  }
  return out;
}

/**
 * Queue positions of the unfinished torrents, 0 at the top, as libtorrent keeps them: a new torrent goes to
 * the bottom; a torrent that finishes (or is removed) leaves the queue and the ones below move up.
 */
export class QueuePositions {
  private readonly order: string[] = [];

  /** Its position, -1 when not queued (finished, or unknown). */
  positionOf(id: string): number {
    return this.order.indexOf(id);
  }

  /** The ids top to bottom. */
  list(): readonly string[] {
    return this.order;
  }

  add(id: string): void {
    if (!this.order.includes(id)) this.order.push(id);
  }

  /** The torrent at `from` is known as `to` now, in the same place. */
  rename(from: string, to: string): void {
    const i = this.order.indexOf(from);
    if (i >= 0) this.order[i] = to;
  }

  remove(id: string): void {
    const i = this.order.indexOf(id);
    if (i >= 0) this.order.splice(i, 1);
  }

  /** Moves to `pos` (clamped to the queue); the others keep their relative order. */
  set(id: string, pos: number): void {
    const i = this.order.indexOf(id);
    if (i < 0) return;
    this.order.splice(i, 1);
    this.order.splice(Math.max(0, Math.min(this.order.length, Math.trunc(pos))), 0, id);
  }

  top(id: string): void {
    this.set(id, 0);
  }

  bottom(id: string): void {
    this.set(id, this.order.length);
  }

  up(id: string): void {
    const i = this.order.indexOf(id);
    if (i > 0) this.set(id, i - 1);
  }

  down(id: string): void {
    const i = this.order.indexOf(id);
    if (i >= 0) this.set(id, i + 1);
  }
}
