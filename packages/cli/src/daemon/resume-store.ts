import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Session } from '@spritzle/engine';
import { writeFileAtomic } from './atomic-write.js';

export interface ResumeStoreOptions {
  /** Where torrents without a usable resume file go (the daemon's download folder). */
  defaultSavePath: string;
  /** Most often one torrent's resume file is rewritten because of events (ms). */
  minIntervalMs?: number;
  /** How often torrents that changed are saved anyway (ms): libtorrent users know this as 60 s. */
  periodMs?: number;
}

/**
 * The daemon's torrents on disk: `<dir>/<info-hash>.resume` (fast-resume data, with the info dict) and
 * `<dir>/<info-hash>.torrent` (the metadata alone, a fallback should the resume file be damaged).
 * Files are written atomically on add, on change (throttled) and at shutdown.
 */
export class ResumeStore {
  private readonly lastSave = new Map<string, number>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly saving = new Map<string, Promise<void>>();
  /** Torrents whose .torrent is on disk: the metadata never changes, so it is written once, not per save. */
  private readonly torrentWritten = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  private readonly minInterval: number;
  private readonly period: number;

  constructor(
    private readonly session: Session,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly opts: ResumeStoreOptions,
  ) {
    this.minInterval = opts.minIntervalMs ?? 5_000;
    this.period = opts.periodMs ?? 30_000;
  }

  private resumePath(hash: string): string {
    return join(this.dir, `${hash}.resume`);
  }

  private torrentPath(hash: string): string {
    return join(this.dir, `${hash}.torrent`);
  }

  /**
   * Adds every torrent found in the directory back to the session. A damaged or unusable resume file is
   * set aside (renamed *.resume.bad), logged, and the torrent comes back from its .torrent and is
   * rechecked; nothing else is lost.
   */
  async loadAll(): Promise<{ restored: number; rechecked: number; failed: number }> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const hashes = new Set<string>();
    for (const n of names) {
      const m = /^([0-9a-f]{40})\.(resume|torrent)$/.exec(n);
      if (m) hashes.add(m[1]!);
    }
    let restored = 0, rechecked = 0, failed = 0;
    // A torrent back in the session keeps the .torrent it came with; one that failed to come back gets a
    // fresh one if it is added again.
    const hasTorrentFile = (hash: string): boolean => names.includes(`${hash}.torrent`);
    for (const hash of hashes) {
      const resume = await readFile(this.resumePath(hash)).catch(() => null);
      if (resume) {
        try {
          await this.session.addTorrent({ resume_data: resume });
          if (hasTorrentFile(hash)) this.torrentWritten.add(hash);
          restored++;
          continue;
        } catch (e) {
          this.log.warn({ info_hash: hash, err: (e as Error).message }, 'resume file unusable; checking the data instead');
          await rename(this.resumePath(hash), `${this.resumePath(hash)}.bad`).catch(() => undefined);
        }
      }
      const torrent = await readFile(this.torrentPath(hash)).catch(() => null);
      if (!torrent) {
        this.log.error({ info_hash: hash }, 'neither a usable resume file nor a .torrent; cannot restore this torrent');
        failed++;
        continue;
      }
      try {
        await this.session.addTorrent({ ti: torrent, save_path: this.opts.defaultSavePath });
        this.torrentWritten.add(hash);
        rechecked++;
        this.schedule(hash, true);
      } catch (e) {
        this.log.error({ info_hash: hash, err: (e as Error).message }, 'cannot restore this torrent');
        failed++;
      }
    }
    return { restored, rechecked, failed };
  }

  /** Follows the session: saves on add and on change, deletes on remove, and saves changed torrents periodically. */
  start(): void {
    const s = this.session;
    const now = ({ info_hash }: { info_hash: string }): void => this.schedule(info_hash, true);
    const soon = ({ info_hash }: { info_hash: string }): void => this.schedule(info_hash, false);
    const removed = ({ info_hash }: { info_hash: string }): void => void this.forget(info_hash);
    const follow = [
      ['torrent_added', now], ['metadata_received', now], ['torrent_paused', now], ['torrent_resumed', now],
      ['torrent_finished', now], ['state_changed', soon], ['torrent_removed', removed],
    ] as const;
    for (const [name, handler] of follow) {
      s.on(name, handler);
      this.unsubscribe.push(() => s.off(name, handler));
    }
    this.timer = setInterval(() => {
      for (const h of this.session.torrents()) if (h.needSaveResume()) this.schedule(h.infoHash, false);
    }, this.period);
    this.timer.unref();
  }

  /** Saves one torrent now (`urgent`) or within minIntervalMs of its last save. */
  private schedule(hash: string, urgent: boolean): void {
    if (this.closed || this.pending.has(hash)) return;
    const wait = urgent ? 0 : Math.max(0, (this.lastSave.get(hash) ?? 0) + this.minInterval - Date.now());
    const t = setTimeout(() => {
      this.pending.delete(hash);
      void this.save(hash);
    }, wait);
    t.unref();
    this.pending.set(hash, t);
  }

  /** Writes one torrent's files. */
  save(hash: string): Promise<void> {
    return this.inOrder(hash, async () => {
      const h = this.session.findTorrent(hash);
      if (!h) return;
      try {
        const torrent = this.torrentWritten.has(hash) ? null : h.torrentFile();
        if (torrent) {
          await writeFileAtomic(this.torrentPath(hash), torrent);
          this.torrentWritten.add(hash);
        }
        await writeFileAtomic(this.resumePath(hash), await h.saveResumeData());
        this.lastSave.set(hash, Date.now());
      } catch (e) {
        // A torrent removed meanwhile has nothing to save.
        if (this.session.findTorrent(hash)) this.log.error({ info_hash: hash, err: (e as Error).message }, 'cannot save resume data');
      }
    });
  }

  private forget(hash: string): Promise<void> {
    const t = this.pending.get(hash);
    if (t) clearTimeout(t);
    this.pending.delete(hash);
    return this.inOrder(hash, async () => {
      await unlink(this.resumePath(hash)).catch(() => undefined);
      await unlink(this.torrentPath(hash)).catch(() => undefined);
      this.torrentWritten.delete(hash);
      this.lastSave.delete(hash);
    });
  }

  /**
   * Runs one torrent's file operations one after another, in the order asked: a torrent removed and added
   * again at once gets its files deleted, then written, never the other way round.
   */
  private async inOrder(hash: string, op: () => Promise<void>): Promise<void> {
    const next = (this.saving.get(hash) ?? Promise.resolve()).then(op, op);
    this.saving.set(hash, next);
    await next;
    if (this.saving.get(hash) === next) this.saving.delete(hash);
  }

  /** At shutdown: stop following the session and save every torrent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const u of this.unsubscribe) u();
    await Promise.all(this.session.torrents().map((h) => this.save(h.infoHash)));
  }
}
