import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { confineSavePath, decodeResumeData, isSpritzleError, type Session } from '@spritzle/engine';
import { removeStaleTemps, writeFileAtomic } from './atomic-write.js';

export interface ResumeStoreOptions {
  /**
   * The daemon's download folder: where torrents without a known save path go, and the root every restored
   * save path must stay inside (the rule the API applies to `save_path` on add).
   */
  defaultSavePath: string;
  /** Most often one torrent's resume file is rewritten because of events (ms). */
  minIntervalMs?: number;
  /** How often torrents that changed are saved anyway (ms): libtorrent users know this as 60 s. */
  periodMs?: number;
}

/** The logging the store does (a pino logger in the daemon). */
export type StoreLog = Pick<Logger, 'info' | 'warn' | 'error'>;

/** How a torrent found in the directory came back: as it was, in an error state with the reason, or not at all. */
export interface LoadResult {
  restored: number;
  broken: number;
  failed: number;
  temps_removed: number;
}

/** Saves run at once at shutdown: enough to overlap fsyncs, few enough not to flood the disk or the fd table. */
const SAVE_PARALLEL = 8;
/** What one save is assumed to cost before it was measured (two atomic writes: four fsyncs). */
const UNMEASURED_SAVE_MS = 100;

/**
 * The time shutdown gives the resume saves: twice what the saves took when last measured, at least 5 s
 * (a slow disk, a busy machine) and at most 2 min (init systems kill a daemon that takes longer anyway).
 */
export function saveBudgetMs(estimateMs: number): number {
  return Math.min(120_000, Math.max(5_000, Math.ceil(2 * estimateMs)));
}

/**
 * The daemon's torrents on disk: `<dir>/<info-hash>.resume` (fast-resume data, with the info dict),
 * `<dir>/<info-hash>.torrent` (the metadata alone, a fallback should the resume file be damaged) and
 * `<dir>/<info-hash>.save_path` (where its files are, so that a damaged resume file does not lose that).
 * Files are written atomically on add, on change (throttled) and at shutdown.
 */
export class ResumeStore {
  private readonly lastSave = new Map<string, number>();
  /** How long each torrent's last save took (ms): what the shutdown limit is sized from. */
  private readonly saveMs = new Map<string, number>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly saving = new Map<string, Promise<boolean>>();
  /** Torrents whose .torrent is on disk: the metadata never changes, so it is written once, not per save. */
  private readonly torrentWritten = new Set<string>();
  /** Torrents whose .save_path is on disk (a torrent's save path never changes either). */
  private readonly savePathWritten = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  private readonly minInterval: number;
  private readonly period: number;

  constructor(
    private readonly session: Session,
    private readonly dir: string,
    private readonly log: StoreLog,
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

  private savePathPath(hash: string): string {
    return join(this.dir, `${hash}.save_path`);
  }

  /**
   * Adds every torrent found in the directory back to the session, after removing what an interrupted save
   * left behind. A resume file that cannot be used as it is (damaged, another torrent's, a save path outside
   * the download root) is set aside (renamed *.resume.bad) and logged, and its torrent comes back in an error
   * state saying why, in its own save path: visible over the API, nothing checked or written until resumed.
   */
  async loadAll(): Promise<LoadResult> {
    await mkdir(this.dir, { recursive: true });
    const temps = await removeStaleTemps(this.dir);
    if (temps.length > 0) this.log.info({ dir: this.dir, files: temps.length }, 'removed temporary files of an interrupted save');
    const names = new Set(await readdir(this.dir));
    const hashes = new Set<string>();
    for (const n of names) {
      const m = /^([0-9a-f]{40})\.(resume|torrent|save_path)$/.exec(n);
      if (m) hashes.add(m[1]!);
    }
    const result: LoadResult = { restored: 0, broken: 0, failed: 0, temps_removed: temps.length };
    for (const hash of hashes) {
      const outcome = await this.restore(hash);
      result[outcome]++;
      if (outcome === 'failed') continue;
      // A torrent back in the session keeps the files it came with; one that failed gets fresh ones if added again.
      if (names.has(`${hash}.torrent`)) this.torrentWritten.add(hash);
      if (names.has(`${hash}.save_path`)) this.savePathWritten.add(hash);
    }
    return result;
  }

  private async restore(hash: string): Promise<'restored' | 'broken' | 'failed'> {
    const resume = await readFile(this.resumePath(hash)).catch(() => null);
    let problem = 'its resume file is missing';
    if (resume) {
      try {
        const why = await this.resumeProblem(hash, resume);
        if (why === null) {
          await this.session.addTorrent({ resume_data: resume });
          return 'restored';
        }
        problem = why;
      } catch (e) {
        problem = `its resume file is unusable (${(e as Error).message})`;
      }
      this.log.warn({ info_hash: hash, reason: problem }, 'resume file unusable; the torrent comes back in an error state');
      await rename(this.resumePath(hash), `${this.resumePath(hash)}.bad`).catch(() => undefined);
    }
    const { savePath, why } = await this.recordedSavePath(hash);
    const torrent = await readFile(this.torrentPath(hash)).catch(() => null);
    let torrentProblem = 'its .torrent is missing';
    try {
      if (torrent) {
        try {
          const reason = `${problem}${why}; resume the torrent to check its data in ${savePath}`;
          await this.session.addTorrent({ ti: torrent, save_path: savePath }, { error: reason });
          return 'broken';
        } catch (e) {
          // A damaged .torrent must not make the torrent vanish: it still comes back by its info-hash below.
          if (!isSpritzleError(e) || (e.code !== 'invalid_torrent' && e.code !== 'invalid_bencode')) throw e;
          torrentProblem = `its .torrent is unusable (${e.message})`;
          this.log.warn({ info_hash: hash, reason: torrentProblem }, '.torrent file unusable');
        }
      }
      const reason = `${problem} and ${torrentProblem}${why}; resume the torrent to fetch its metadata from peers into ${savePath}`;
      await this.session.addTorrent({ info_hash: hash, save_path: savePath }, { error: reason });
      return 'broken';
    } catch (e) {
      this.log.error({ info_hash: hash, err: (e as Error).message, reason: problem }, 'cannot restore this torrent');
      return 'failed';
    }
  }

  /** Why a resume file cannot restore torrent `hash` as it is, or null when it can. */
  private async resumeProblem(hash: string, bytes: Uint8Array): Promise<string | null> {
    const r = decodeResumeData(bytes);
    if (r.info_hash !== hash) return `its resume file holds another torrent's resume data (${r.info_hash})`;
    try {
      await confineSavePath(r.save_path, this.opts.defaultSavePath);
    } catch (e) {
      return `its resume file's ${(e as Error).message}`;
    }
    return null;
  }

  /** The save path recorded beside the torrent if it is still allowed, else the download folder (and why). */
  private async recordedSavePath(hash: string): Promise<{ savePath: string; why: string }> {
    const root = this.opts.defaultSavePath;
    const recorded = await readFile(this.savePathPath(hash), 'utf8').catch(() => null);
    if (recorded === null || recorded === '') return { savePath: root, why: ', and its save path is unknown' };
    try {
      return { savePath: await confineSavePath(recorded, root), why: '' };
    } catch (e) {
      return { savePath: root, why: `, and its recorded ${(e as Error).message}` };
    }
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

  /** Writes one torrent's files; resolves whether its resume data is now on disk. */
  save(hash: string): Promise<boolean> {
    return this.inOrder(hash, async () => {
      const h = this.session.findTorrent(hash);
      if (!h) return false;
      const t0 = performance.now();
      try {
        if (!this.savePathWritten.has(hash)) {
          await writeFileAtomic(this.savePathPath(hash), h.savePath());
          this.savePathWritten.add(hash);
        }
        const torrent = this.torrentWritten.has(hash) ? null : h.torrentFile();
        if (torrent) {
          await writeFileAtomic(this.torrentPath(hash), torrent);
          this.torrentWritten.add(hash);
        }
        await writeFileAtomic(this.resumePath(hash), await h.saveResumeData());
        this.lastSave.set(hash, Date.now());
        this.saveMs.set(hash, performance.now() - t0);
        return true;
      } catch (e) {
        // A torrent removed meanwhile has nothing to save.
        if (this.session.findTorrent(hash)) this.log.error({ info_hash: hash, err: (e as Error).message }, 'cannot save resume data');
        return false;
      }
    });
  }

  private forget(hash: string): Promise<boolean> {
    const t = this.pending.get(hash);
    if (t) clearTimeout(t);
    this.pending.delete(hash);
    return this.inOrder(hash, async () => {
      await unlink(this.resumePath(hash)).catch(() => undefined);
      await unlink(this.torrentPath(hash)).catch(() => undefined);
      await unlink(this.savePathPath(hash)).catch(() => undefined);
      this.torrentWritten.delete(hash);
      this.savePathWritten.delete(hash);
      this.lastSave.delete(hash);
      this.saveMs.delete(hash);
      return true;
    });
  }

  /**
   * Runs one torrent's file operations one after another, in the order asked: a torrent removed and added
   * again at once gets its files deleted, then written, never the other way round.
   */
  private async inOrder(hash: string, op: () => Promise<boolean>): Promise<boolean> {
    const next = (this.saving.get(hash) ?? Promise.resolve(true)).then(op, op);
    this.saving.set(hash, next);
    const done = await next;
    if (this.saving.get(hash) === next) this.saving.delete(hash);
    return done;
  }

  /** What saving every torrent at shutdown should take (ms), from how long each one's last save took. */
  estimatedSaveMs(): number {
    let total = 0;
    for (const h of this.session.torrents()) total += this.saveMs.get(h.infoHash) ?? UNMEASURED_SAVE_MS;
    return total / SAVE_PARALLEL;
  }

  /**
   * At shutdown: stop following the session and save every torrent, starting no save after `deadline`
   * (epoch ms). Saves already under way finish (each is atomic: a torrent not saved keeps its last resume
   * file). Logs how many could not be saved, and returns the counts.
   */
  async close(deadline = Number.POSITIVE_INFINITY): Promise<{ saved: number; unsaved: number }> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const u of this.unsubscribe) u();
    const hashes = this.session.torrents().map((h) => h.infoHash);
    let next = 0, saved = 0;
    const worker = async (): Promise<void> => {
      while (next < hashes.length && Date.now() < deadline) {
        if (await this.save(hashes[next++]!)) saved++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(SAVE_PARALLEL, hashes.length) }, worker));
    // Deletes still queued for removed torrents finish too, so no file of theirs is left half-handled.
    await Promise.all([...this.saving.values()]);
    const unsaved = hashes.length - saved;
    const late = hashes.length - next;
    if (late > 0) {
      this.log.error({ saved, unsaved, out_of_time: late },
        `shutdown limit reached: the resume data of ${late} of ${hashes.length} torrents was not saved; they keep their last saved state`);
    }
    return { saved, unsaved };
  }
}
