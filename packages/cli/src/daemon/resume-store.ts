import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { SpritzleError, type Session } from '@spritzle/engine';
import { removeStaleTemps } from './atomic-write.js';
import { Journal } from './journal.js';
import type { JournalEntry } from './journal-frames.js';
import { forgetLegacyFiles, readLegacyTorrent, legacyHashes, setAsideLegacyResume } from './legacy-state.js';
import { decodeTorrentRecord, encodeTorrentRecord, type TorrentRecord } from './torrent-record.js';
import { Restorer, metadataOf, type Sources } from './torrent-restore.js';

export interface ResumeStoreOptions {
  /**
   * The daemon's download folder: where torrents without a known save path go, and the root every restored
   * save path must stay inside (the rule the API applies to `save_path` on add).
   */
  defaultSavePath: string;
  /** Most often one torrent is saved again because of a state change (ms). */
  minIntervalMs?: number;
  /** How often torrents that changed are saved anyway (ms): libtorrent users know this as 60 s. */
  periodMs?: number;
  /** Journal size that starts a compaction (see Journal). */
  compactBytes?: number;
}

/** The logging the store does (a pino logger in the daemon). */
export type StoreLog = Pick<Logger, 'info' | 'warn' | 'error'>;

/** How the torrents of the state directory came back: as they were, in an error state with the reason, or not at all. */
export interface LoadResult {
  restored: number;
  broken: number;
  failed: number;
  /** Torrents read from files of the per-torrent-file layout (and moved into the journal). */
  migrated: number;
  temps_removed: number;
  /** Damaged places found in the journal files (a torn tail after a crash is one). */
  damaged: number;
}

/** Torrents saved per journal write at most (so a shutdown's progress is on disk as it goes). */
const BUILD_CHUNK = 512;
/** Torrents restored at once at start: enough to overlap their files' stats, few enough not to flood the disk. */
const RESTORE_PARALLEL = 32;
/** Rounds at least this large tell what saving a torrent costs. */
const MEASURED_ROUND = 64;
/** What building one torrent's record is assumed to cost before it was measured (ms). */
const UNMEASURED_BUILD_MS = 0.5;

/**
 * The time shutdown gives the final save: twice what it should take by the measured costs, at least 5 s
 * (a slow disk, a busy machine) and at most 2 min (init systems kill a daemon that takes longer anyway).
 */
export function saveBudgetMs(estimateMs: number): number {
  return Math.min(120_000, Math.max(5_000, Math.ceil(2 * estimateMs)));
}

/** A set of torrents being saved together, and who waits for it. */
interface Round {
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  /** Torrents of the round that could not be saved, and why (the round itself succeeded). */
  failures: Map<string, Error>;
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  done.catch(() => undefined);
  return { done, resolve, reject, failures: new Map() };
}

/**
 * The daemon's torrents on disk: one record per torrent (its fast-resume data, with the info dict, and its
 * save path) in a journal (`<dir>/journal.<n>`, `<dir>/snapshot`, see Journal). Every add, remove and
 * change of state is written at once, many torrents to one write and one fsync; `durable(hash)` tells when
 * a torrent's latest change is on disk. A state directory of the older layout (`<dir>/<hash>.resume`,
 * `.torrent`, `.save_path`) is read at start and moved into the journal; such files found later (put
 * there by hand) replace what the journal holds for their torrent.
 */
export class ResumeStore {
  private journal: Journal | null = null;
  /** Torrents to save in the next round. */
  private readonly dirty = new Set<string>();
  /** Torrents whose change can wait for the next tick of the minIntervalMs timer. */
  private readonly later = new Set<string>();
  private next: Round | null = null;
  /** The last round each torrent is in, until that round is on disk. */
  private readonly latest = new Map<string, Round>();
  /** Torrents whose last save failed, and why (until one succeeds). */
  private readonly failed = new Map<string, Error>();
  private flushing: Promise<void> | null = null;
  /** No round builds past this (epoch ms); set by close(). */
  private deadline = Number.POSITIVE_INFINITY;
  private outOfTime = 0;
  private built = 0;
  private buildMs = 0;
  private timers: NodeJS.Timeout[] = [];
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

  /**
   * Adds every torrent of the state directory back to the session, after removing what an interrupted save
   * left behind. Resume data that cannot be used as it is (damaged, another torrent's, a save path outside
   * the download root) brings its torrent back in an error state saying why, in its own save path: visible
   * over the API, nothing checked or written until resumed. Files of the older layout are moved into the
   * journal (an unusable resume file is set aside as *.resume.bad).
   */
  async loadAll(): Promise<LoadResult> {
    await mkdir(this.dir, { recursive: true });
    const temps = await removeStaleTemps(this.dir);
    if (temps.length > 0) this.log.info({ dir: this.dir, files: temps.length }, 'removed temporary files of an interrupted save');
    const { journal, report } = await Journal.open(this.dir, {
      ...(this.opts.compactBytes !== undefined ? { compactBytes: this.opts.compactBytes } : {}),
      onDamage: (file, why) => this.log.warn({ dir: this.dir, file, damage: why }, 'state journal damaged; the changes in the damaged bytes are lost'),
    });
    this.journal = journal;
    const result: LoadResult = { restored: 0, broken: 0, failed: 0, migrated: 0, temps_removed: temps.length, damaged: report.damaged.length };
    const records = report.entries;
    const legacy = await legacyHashes(this.dir);
    const restorer = new Restorer(this.session, this.log, this.opts.defaultSavePath);
    const work: (() => Promise<void>)[] = [];
    const imported: JournalEntry[] = [];
    for (const hash of legacy) {
      work.push(async () => {
        const files = await readLegacyTorrent(this.dir, hash);
        const rec = this.recordOf(hash, records.get(hash));
        const src: Sources = {
          resume: files.resume ?? rec?.resume ?? null,
          torrent: () => files.torrent ?? rec?.torrent ?? metadataOf(rec?.resume),
          savePath: files.savePath ?? rec?.savePath ?? null,
          resumeWord: files.resume ? 'resume file' : 'resume data',
          torrentWord: files.torrent ? '.torrent' : 'metadata',
          ...(files.resume ? { setAside: () => setAsideLegacyResume(this.dir, hash) } : {}),
        };
        const { outcome, record } = await restorer.restore(hash, src);
        result[outcome]++;
        result.migrated++;
        imported.push({ key: hash, value: encodeTorrentRecord(record) });
      });
    }
    for (const [hash, value] of records) {
      if (legacy.has(hash)) continue;
      work.push(async () => {
        const rec = this.recordOf(hash, value);
        const src: Sources = {
          resume: rec?.resume ?? null,
          torrent: () => rec?.torrent ?? metadataOf(rec?.resume),
          savePath: rec?.savePath ?? null,
          resumeWord: 'resume data',
          torrentWord: 'metadata',
        };
        result[(await restorer.restore(hash, src)).outcome]++;
      });
    }
    await runParallel(work, RESTORE_PARALLEL);
    if (imported.length > 0) {
      // On disk in the journal first; only then do the old files go (a crash in between imports them again).
      await journal.write(imported);
      await forgetLegacyFiles(this.dir, imported.map((e) => e.key));
      this.log.info({ dir: this.dir, torrents: imported.length }, 'moved the torrents of the per-torrent-file layout into the state journal');
    }
    return result;
  }

  /** A journal value as a record; a value that is not one (written by someone else) is logged and treated as empty. */
  private recordOf(hash: string, value: Uint8Array | undefined): TorrentRecord | null {
    if (!value) return null;
    try {
      return decodeTorrentRecord(value);
    } catch (e) {
      this.log.warn({ info_hash: hash, err: (e as Error).message }, 'state journal record unreadable');
      return {};
    }
  }

  /**
   * Follows the session: adds, removes, pauses, resumes, finishing and metadata are saved at once; other
   * state changes within minIntervalMs; torrents that changed otherwise (progress) every periodMs.
   */
  start(): void {
    const s = this.session;
    const now = ({ info_hash }: { info_hash: string }): void => void this.mark(info_hash);
    const soon = ({ info_hash }: { info_hash: string }): void => {
      if (!this.closed) this.later.add(info_hash);
    };
    // A hybrid from a btmh magnet is filed under its v1 hash from now on: the old record goes (see build).
    const renamed = ({ info_hash, old_info_hash }: { info_hash: string; old_info_hash: string }): void => {
      this.mark(old_info_hash);
      this.mark(info_hash);
    };
    s.on('torrent_update', renamed);
    this.unsubscribe.push(() => s.off('torrent_update', renamed));
    const follow = [
      ['torrent_added', now], ['metadata_received', now], ['torrent_paused', now], ['torrent_resumed', now],
      ['torrent_finished', now], ['torrent_removed', now], ['state_changed', soon],
    ] as const;
    for (const [name, handler] of follow) {
      s.on(name, handler);
      this.unsubscribe.push(() => s.off(name, handler));
    }
    const soonTimer = setInterval(() => this.markLater(), this.minInterval);
    const periodTimer = setInterval(() => {
      for (const h of this.session.torrents()) if (h.needSaveResume()) this.later.add(h.infoHash);
    }, this.period);
    for (const t of [soonTimer, periodTimer]) t.unref();
    this.timers = [soonTimer, periodTimer];
  }

  private markLater(): void {
    for (const h of this.later) this.mark(h);
  }

  /** Puts a torrent in the next round of saves (its record then, or its removal if it is gone). */
  private mark(hash: string): Round {
    this.later.delete(hash);
    this.dirty.add(hash);
    const round = (this.next ??= newRound());
    this.latest.set(hash, round);
    this.flushing ??= this.flush();
    return round;
  }

  /**
   * Resolves once the latest change of torrent `hash` (its add or removal included) is on disk; rejects
   * with a disk_error when it could not be written.
   */
  async durable(hash: string): Promise<void> {
    const key = hash.toLowerCase();
    const round = this.latest.get(key);
    let err: Error | undefined;
    if (round) {
      await round.done.catch((e: Error) => { err = e; });
      err ??= round.failures.get(key);
    } else {
      err = this.failed.get(key);
    }
    if (err) throw new SpritzleError('disk_error', `cannot save the torrent list in ${this.dir}: ${err.message}`);
  }

  /** Saves the marked torrents, a round at a time; a round's writes overlap the building of the next. */
  private async flush(): Promise<void> {
    try {
      // Let the events of this tick join the first round.
      await new Promise((r) => setImmediate(r));
      await this.rounds();
    } finally {
      this.flushing = null;
    }
  }

  private async rounds(): Promise<void> {
    while (this.dirty.size > 0) {
      const round = this.next!;
      this.next = null;
      const hashes = [...this.dirty];
      this.dirty.clear();
      const writes: Promise<void>[] = [];
      let i = 0;
      for (; i < hashes.length && Date.now() < this.deadline; i += BUILD_CHUNK) {
        const entries = await this.build(hashes.slice(i, i + BUILD_CHUNK), round.failures);
        writes.push(this.journal ? this.journal.write(entries) : Promise.reject(new Error('the torrent list was never loaded')));
      }
      for (const h of hashes.slice(i)) round.failures.set(h, new Error('out of time at shutdown'));
      this.outOfTime += hashes.length - Math.min(i, hashes.length);
      void Promise.all(writes).then(() => {
        for (const h of hashes) {
          const f = round.failures.get(h);
          if (f) this.failed.set(h, f);
          else this.failed.delete(h);
        }
        round.resolve();
      }, (e: Error) => {
        this.log.error({ dir: this.dir, torrents: hashes.length, err: e.message }, 'cannot write the state journal');
        for (const h of hashes) {
          this.failed.set(h, e);
          // Tried again with the next tick: the torrent stays in the session, so it must reach the disk.
          if (!this.closed) this.later.add(h);
        }
        round.reject(e);
      }).finally(() => {
        for (const h of hashes) if (this.latest.get(h) === round) this.latest.delete(h);
      });
    }
  }

  /** Each torrent's journal entry as it is now: its record, or its removal. */
  private async build(hashes: readonly string[], failures: Map<string, Error>): Promise<JournalEntry[]> {
    const t0 = performance.now();
    const entries = await Promise.all(hashes.map(async (key): Promise<JournalEntry | null> => {
      const h = this.session.findTorrent(key);
      // Gone, or known by another hash now (torrent_update): its record under this key goes.
      if (!h || h.infoHash !== key) return { key, value: null };
      try {
        return { key, value: encodeTorrentRecord({ resume: await h.saveResumeData(), savePath: h.savePath() }) };
      } catch (e) {
        // Removed meanwhile: its removal is what to write.
        if (!this.session.findTorrent(key)) return { key, value: null };
        this.log.error({ info_hash: key, err: (e as Error).message }, 'cannot save resume data');
        failures.set(key, e as Error);
        return null;
      }
    }));
    // Timed on large rounds only (a shutdown's, the periodic one's): a round of a few torrents shares the
    // event loop with everything else, and its wall time says little about what one torrent costs.
    if (hashes.length >= MEASURED_ROUND) {
      this.built += hashes.length;
      this.buildMs += performance.now() - t0;
    }
    return entries.filter((e): e is JournalEntry => e !== null);
  }

  /** What saving every torrent at shutdown should take (ms), from what saving them has cost so far. */
  estimatedSaveMs(): number {
    const n = this.session.torrents().length;
    const perTorrent = this.built > 0 ? this.buildMs / this.built : UNMEASURED_BUILD_MS;
    // Written twice: as journal batches, then folded into the snapshot.
    const bytes = this.journal?.mapBytes() ?? 0;
    return n * perTorrent + 2 * (this.journal?.estimateMs(bytes) ?? 0);
  }

  /**
   * At shutdown: stop following the session and save every torrent, building no more records after
   * `deadline` (epoch ms), then fold the journal into a snapshot if there is time. A torrent not saved
   * keeps its last record (its add, removal and state changes are in it already). Logs how many could not
   * be saved, and returns the counts.
   */
  async close(deadline = Number.POSITIVE_INFINITY): Promise<{ saved: number; unsaved: number }> {
    if (this.closed) return { saved: 0, unsaved: 0 };
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe) u();
    this.later.clear();
    // Changes already marked are written first; then every torrent, under the deadline. Every one, not only
    // those flagged needSaveResume: the end of a check and the transfer and time counters change without it.
    while (this.flushing) await this.flushing;
    this.deadline = deadline;
    this.outOfTime = 0;
    const hashes = this.session.torrents().map((h) => h.infoHash);
    const rounds = new Set(hashes.map((h) => this.mark(h)));
    while (this.flushing) await this.flushing;
    for (const r of rounds) await r.done.catch(() => undefined);
    const unsaved = hashes.filter((h) => this.failed.has(h)).length;
    const late = this.outOfTime;
    if (late > 0) {
      this.log.error({ saved: hashes.length - unsaved, unsaved, out_of_time: late },
        `shutdown limit reached: the resume data of ${late} of ${hashes.length} torrents was not saved; they keep their last saved state`);
    }
    const j = this.journal;
    if (j) {
      const left = deadline - Date.now();
      if (left > j.estimateMs(j.mapBytes()) * 2) {
        await j.compact().catch((e: Error) => this.log.error({ dir: this.dir, err: e.message }, 'cannot compact the state journal'));
      }
      await j.close();
    }
    return { saved: hashes.length - unsaved, unsaved };
  }
}

/** Runs `tasks` with at most `n` at once. */
async function runParallel(tasks: readonly (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
}
