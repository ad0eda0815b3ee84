import { open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syncDir, writeAll, writeFileAtomic } from './atomic-write.js';
import {
  HEADER_BYTES, JOURNAL_MAGIC, SNAPSHOT_MAGIC, decodeHeader, encodeFrame, encodeHeader, frameKey, frameValue, parseFrames,
  type JournalEntry,
} from './journal-frames.js';

/**
 * A durable key-value map in one directory, written by group commit: changes are appended to a journal
 * (`journal.<gen>`), many at a time in one write and one fdatasync, and folded into a snapshot
 * (`snapshot`, replaced atomically) in the background once the journal has grown.
 *
 * Why this and not one file per key: a file per key costs two fsyncs (the file, its directory) per change
 * and falls behind at a few hundred changes a second; here a batch of any size costs one. Why not an
 * embedded database: node:sqlite needs Node 22; better-sqlite3, sqlite3, classic-level and lmdb are native
 * addons (compiled, or a prebuilt binary fetched at install); sql.js keeps the database in memory; the
 * WebAssembly SQLite that reaches real files (node-sqlite3-wasm) does so with synchronous fs calls, so
 * every commit's fsync would stall the API and the peers on the event loop. The need is one map, written
 * by one process and read whole at start: what an append-only log does in a few hundred lines.
 *
 * Generations: journal g holds the changes made after snapshot g was taken. Compaction opens journal g+1
 * first (later writes go there), then writes snapshot g+1 from the map as it stood at that moment, then
 * removes the journals before g+1. Whatever point a crash hits, reading the snapshot (generation s) and
 * then every journal of generation ≥ s in order gives the map as of the last fsync.
 */

export interface JournalOptions {
  /** Compact once the journal holds this many bytes and more than the snapshot does. Default 16 MiB. */
  compactBytes?: number;
  /** Told about damage found while reading (a torn tail after a crash, a corrupted file). */
  onDamage?: (file: string, why: string) => void;
}

export interface JournalOpenReport {
  /** Entries read, as the map they make. */
  entries: Map<string, Uint8Array>;
  /** Files read (the snapshot and journals), and frames replayed from journals. */
  files: number;
  replayed: number;
  /** Damage found: per file, where it starts and how many bytes were skipped (their entries are lost). */
  damaged: string[];
}

type Waiter = { resolve: () => void; reject: (e: Error) => void };

const JOURNAL_NAME = /^journal\.(\d+)$/;

export class Journal {
  /** The latest frame of every key: what the next snapshot holds. */
  private readonly map = new Map<string, Buffer>();
  private fh: FileHandle | null = null;
  private gen = 0;
  /** Where the next batch goes (the end of the last good batch). */
  private offset = HEADER_BYTES;
  private snapshotBytes = 0;
  private queued: Buffer[] = [];
  private waiters: Waiter[] = [];
  private draining: Promise<void> | null = null;
  private compacting: Promise<void> | null = null;
  private wantCompact = false;
  private closed = false;
  private readonly compactBytes: number;
  /** Measured cost of the writes so far: what shutdown budgets are sized from. */
  private writeMs = 0;
  private writeBytes = 0;
  private syncs = 0;

  private constructor(private readonly dir: string, private readonly opts: JournalOptions) {
    this.compactBytes = opts.compactBytes ?? 16 * 1024 * 1024;
  }

  /** Reads the directory's snapshot and journals, removes what a finished compaction left, opens a new journal. */
  static async open(dir: string, opts: JournalOptions = {}): Promise<{ journal: Journal; report: JournalOpenReport }> {
    const j = new Journal(dir, opts);
    const report = await j.load();
    return { journal: j, report };
  }

  private async load(): Promise<JournalOpenReport> {
    const read = await readJournalDir(this.dir, this.opts.onDamage);
    for (const [k, frame] of read.frames) this.map.set(k, frame);
    this.snapshotBytes = read.snapshotBytes;
    // Folded into the snapshot by a compaction that could not remove them before it stopped, or holding
    // nothing (the journal a clean stop left): neither adds anything to the map.
    for (const g of read.gens) {
      if (g < read.snapGen || read.empty.includes(g)) await unlink(join(this.dir, `journal.${g}`)).catch(() => undefined);
    }
    // Never append after what may be a torn tail: a new generation starts.
    await this.startJournal(Math.max(read.snapGen, (read.gens.at(-1) ?? -1) + 1));
    // Changes beyond the snapshot (a crash came before the stop could fold them in) are folded in soon,
    // off the start-up path.
    this.wantCompact = read.replayed > 0 || read.damaged.length > 0;
    const entries = new Map<string, Uint8Array>();
    for (const [k, frame] of this.map) entries.set(k, frameValue(frame)!);
    return { entries, files: read.files, replayed: read.replayed, damaged: read.damaged };
  }

  private apply(key: string, frame: Buffer | null): void {
    if (frame) this.map.set(key, frame);
    else this.map.delete(key);
  }

  private async startJournal(gen: number): Promise<void> {
    const path = join(this.dir, `journal.${gen}`);
    const fh = await open(path, 'wx', 0o600);
    try {
      await writeAll(fh, [encodeHeader(JOURNAL_MAGIC, gen)], 0);
      await fh.sync();
      await syncDir(this.dir);
    } catch (e) {
      await fh.close();
      throw e;
    }
    const old = this.fh;
    this.fh = fh;
    this.gen = gen;
    this.offset = HEADER_BYTES;
    await old?.close();
  }

  /** Batches written so far (each one write and one fdatasync). */
  get batches(): number {
    return this.syncs;
  }

  /** How many keys the map holds. */
  get size(): number {
    return this.map.size;
  }

  /**
   * Appends changes; resolves once they are on disk (with every change written before them). Changes
   * handed in while a batch is being written go together into the next batch: one write, one fdatasync.
   */
  write(entries: readonly JournalEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    let frames: Buffer[];
    try {
      frames = entries.map(encodeFrame);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    for (const f of frames) this.queued.push(f);
    this.draining ??= this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    while (this.waiters.length > 0) {
      const frames = this.queued;
      const waiters = this.waiters;
      this.queued = [];
      this.waiters = [];
      try {
        if (this.wantCompact && !this.compacting) await this.rotate();
        const t0 = performance.now();
        await writeAll(this.fh!, frames, this.offset);
        await this.fh!.datasync();
        let bytes = 0;
        for (const f of frames) {
          bytes += f.length;
          this.apply(frameKey(f), frameValue(f) ? f : null);
        }
        this.offset += bytes;
        this.writeMs += performance.now() - t0;
        this.writeBytes += bytes;
        this.syncs++;
        if (this.offset > this.compactBytes && this.offset > this.snapshotBytes) this.wantCompact = true;
        for (const w of waiters) w.resolve();
      } catch (e) {
        // Nothing of a failed batch counts: cut it off so the next batch does not follow garbage.
        await this.fh?.truncate(this.offset).catch(() => undefined);
        for (const w of waiters) w.reject(e as Error);
      }
    }
    this.draining = null;
  }

  /** Starts a compaction between two batches: a new journal now, the snapshot in the background. */
  private async rotate(): Promise<void> {
    this.wantCompact = false;
    const gen = this.gen + 1;
    await this.startJournal(gen);
    const frames = [...this.map.values()];
    this.compacting = this.writeSnapshot(gen, frames).finally(() => { this.compacting = null; });
    // A failed compaction is retried by the next one; the journals it would have replaced stay readable.
    this.compacting.catch(() => undefined);
  }

  private async writeSnapshot(gen: number, frames: Buffer[]): Promise<void> {
    const header = encodeHeader(SNAPSHOT_MAGIC, gen);
    await writeFileAtomic(join(this.dir, 'snapshot'), [header, ...frames]);
    let bytes = header.length;
    for (const f of frames) bytes += f.length;
    this.snapshotBytes = bytes;
    for (const n of await readdir(this.dir)) {
      const m = JOURNAL_NAME.exec(n);
      if (m && Number(m[1]) < gen) await unlink(join(this.dir, n)).catch(() => undefined);
    }
  }

  /**
   * Folds everything into a fresh snapshot now (at shutdown, so the next start reads one file), after the
   * batches already handed in.
   */
  async compact(): Promise<void> {
    await this.settle();
    this.wantCompact = true;
    // An empty write is a batch boundary: the rotation runs there.
    await this.write([]);
    await this.compacting;
  }

  /** Waits for the batches handed in so far and a compaction under way. */
  async settle(): Promise<void> {
    while (this.draining || this.compacting) {
      await this.draining;
      await this.compacting?.catch(() => undefined);
    }
  }

  /** Milliseconds writing `bytes` more should take, from what the writes so far took (a guess before any). */
  estimateMs(bytes: number): number {
    const perByte = this.writeBytes > 1_000_000 ? this.writeMs / this.writeBytes : 1 / 50_000; // 50 MB/s unmeasured
    const perSync = this.syncs > 0 ? this.writeMs / this.syncs : 5;
    return bytes * perByte + perSync;
  }

  /** Bytes a snapshot of the current map would take. */
  mapBytes(): number {
    let n = HEADER_BYTES;
    for (const f of this.map.values()) n += f.length;
    return n;
  }

  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
    await this.fh?.close();
    this.fh = null;
  }
}

/** What a state directory's snapshot and journals hold, read without changing anything. */
export interface JournalDirContents {
  /** The latest frame of every key present (put frames only). */
  frames: Map<string, Buffer>;
  snapGen: number;
  snapshotBytes: number;
  /** Generations of the journal files there, ascending (those below snapGen were not read). */
  gens: number[];
  /** Generations read that hold no change and no damage. */
  empty: number[];
  files: number;
  replayed: number;
  damaged: string[];
}

/** Reads the snapshot (generation s) and then every journal of generation ≥ s, in order. */
export async function readJournalDir(dir: string, onDamage?: (file: string, why: string) => void): Promise<JournalDirContents> {
  const out: JournalDirContents = { frames: new Map(), snapGen: 0, snapshotBytes: 0, gens: [], empty: [], files: 0, replayed: 0, damaged: [] };
  const damage = (file: string, why: string): void => {
    out.damaged.push(`${file}: ${why}`);
    onDamage?.(file, why);
  };
  const apply = (frames: ReturnType<typeof parseFrames>['frames']): void => {
    for (const f of frames) {
      if (f.entry.value) out.frames.set(f.entry.key, f.bytes);
      else out.frames.delete(f.entry.key);
    }
  };
  const snap = await readFile(join(dir, 'snapshot')).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (snap) {
    out.files++;
    const g = decodeHeader(snap, SNAPSHOT_MAGIC);
    if (g === null) {
      damage('snapshot', 'not a snapshot (bad header)');
    } else {
      out.snapGen = g;
      const parsed = parseFrames(snap);
      if (parsed.damage) damage('snapshot', `${parsed.damage}, ${parsed.skipped} bytes skipped`);
      apply(parsed.frames);
      out.snapshotBytes = parsed.end;
    }
  }
  out.gens = (await readdir(dir)).map((n) => JOURNAL_NAME.exec(n)).filter((m) => m !== null)
    .map((m) => Number(m[1])).sort((a, b) => a - b);
  for (const g of out.gens) {
    if (g < out.snapGen) continue;
    const file = `journal.${g}`;
    const bytes = await readFile(join(dir, file));
    out.files++;
    if (decodeHeader(bytes, JOURNAL_MAGIC) === null) {
      // Created, but the crash came before its header was on disk: it never held a change.
      if (bytes.length > 0) damage(file, 'not a journal (bad header)');
      else out.empty.push(g);
      continue;
    }
    const parsed = parseFrames(bytes);
    if (parsed.damage) damage(file, `${parsed.damage}, ${parsed.skipped} bytes skipped`);
    else if (parsed.frames.length === 0) out.empty.push(g);
    apply(parsed.frames);
    out.replayed += parsed.frames.length;
  }
  return out;
}
