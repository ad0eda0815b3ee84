/**
 * The session's open files (libtorrent's file_pool, Transmission's open-file cache): every torrent's storage
 * opens its files through one pool, which keeps at most `size` of them open across the whole session and
 * closes the least recently used idle one to make room. So descriptors do not grow with the torrent count,
 * and a torrent nobody reads from or writes to holds none once others have used the pool.
 *
 * A handle that an operation holds (a disk thread writing through its fd, an upload reading) is pinned: it
 * is never closed under its user. When every handle is pinned the pool goes over `size` for as long as that
 * lasts (a piece write may need several files at once, so waiting for a free slot could deadlock) and comes
 * back under it as handles are released.
 *
 * Running out of descriptors (EMFILE/ENFILE) while opening first sheds the pool's own idle handles and tries
 * once more; if that does not help, the error goes to the caller (the torrent's error state), never dropped.
 *
 * Look-ups happen once per open or per operation (a Map get and a few pointer moves), never per block, and
 * allocate nothing when the file is already open.
 */
import type { FileHandle } from 'node:fs/promises';
import { errnoCode } from '../errors.js';

/** libtorrent 2.0's default file_pool_size. */
export const DEFAULT_FILE_POOL_SIZE = 40;

/** Opens one of a group's files (by its index), writable or not; errors go to the caller as they are. */
export type FileOpener = (file: number, write: boolean) => Promise<FileHandle>;

/** What a caller holds between acquire() and release(). */
export interface PooledFile {
  readonly fh: FileHandle;
  readonly file: number;
  readonly writable: boolean;
}

/** Counts since the pool was made: hits (the file was open already), misses (it was opened), evictions. */
export interface FilePoolStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Opens that failed for want of descriptors (EMFILE/ENFILE), after the pool shed its idle handles. */
  exhausted: number;
}

interface Entry extends PooledFile {
  readonly group: FileGroup;
  /** Operations using the handle; it is closed only when this is 0. */
  refs: number;
  /** Out of the pool (evicted, superseded, group closed): closed as soon as the last user releases it. */
  retired: boolean;
  closing: Promise<void> | undefined;
  /** The pool's recency list (least recently used at the head); only entries not retired are in it. */
  prev: Entry | null;
  next: Entry | null;
}

interface PendingOpen {
  readonly write: boolean;
  readonly promise: Promise<Entry>;
}

/** Whether an error (ours, wrapping a system error as its cause, or the system error itself) is EMFILE/ENFILE. */
export function isOutOfDescriptors(e: unknown): boolean {
  let code = errnoCode(e);
  if (code !== 'EMFILE' && code !== 'ENFILE' && e instanceof Error) code = errnoCode(e.cause);
  return code === 'EMFILE' || code === 'ENFILE';
}

export class FilePool {
  readonly stats: FilePoolStats = { hits: 0, misses: 0, evictions: 0, exhausted: 0 };
  private maxOpen: number;
  /** Entries in the pool (not retired), least recently used first. */
  private head: Entry | null = null;
  private tail: Entry | null = null;
  private live = 0;
  /** Retired entries whose descriptor is not closed yet (still in use, or its close in flight). */
  private retiredOpen = 0;
  private readonly closes = new Set<Promise<void>>();

  constructor(size = DEFAULT_FILE_POOL_SIZE) {
    this.maxOpen = checkSize(size);
  }

  /** The most files kept open (file_pool_size). */
  get size(): number {
    return this.maxOpen;
  }

  /** Descriptors the pool holds right now: open files in the pool plus retired ones not closed yet. */
  get open(): number {
    return this.live + this.retiredOpen;
  }

  /** A new size applies at once: idle handles beyond it are closed now, pinned ones when released. */
  setSize(size: number): void {
    this.maxOpen = checkSize(size);
    this.shrink(this.maxOpen);
  }

  /** The files of one torrent's storage, opened through this pool with `opener`. */
  group(opener: FileOpener): FileGroup {
    return new FileGroup(this, opener);
  }

  /** Waits for every close the pool has started (tests, and shutdown). */
  async drain(): Promise<void> {
    while (this.closes.size > 0) await Promise.allSettled([...this.closes]);
  }

  /** @internal A group found its file open: most recently used now. */
  touch(e: Entry): void {
    this.stats.hits++;
    if (this.tail === e) return;
    this.unlink(e);
    this.append(e);
  }

  /** @internal Before an open: room for one more, closing least recently used idle handles. */
  makeRoom(): void {
    this.stats.misses++;
    this.shrink(this.maxOpen - 1);
  }

  /**
   * @internal An open failed for want of descriptors: closes every idle handle in the pool and waits for the
   * closes. Returns whether anything was freed (and so whether trying again can help).
   */
  async shed(): Promise<boolean> {
    const pending = this.closes.size;
    const freed = this.shrink(0);
    if (freed === 0 && pending === 0) return false;
    await this.drain();
    return true;
  }

  /** @internal A file was opened (pinned by its opener). Opens that ran side by side may overshoot: shrink back. */
  add(e: Entry): void {
    this.live++;
    this.append(e);
    if (this.live > this.maxOpen) this.shrink(this.maxOpen);
  }

  /** @internal Takes an entry out of the pool; its descriptor closes once nobody uses it. */
  retire(e: Entry): void {
    if (e.retired) return;
    e.retired = true;
    this.unlink(e);
    this.live--;
    this.retiredOpen++;
    if (e.refs === 0) this.close(e);
  }

  /** @internal */
  release(e: Entry): void {
    if (--e.refs > 0) return;
    if (e.retired) this.close(e);
    // Over the size because everything was pinned: this one is idle now, so the pool shrinks back.
    else if (this.live > this.maxOpen) this.shrink(this.maxOpen);
  }

  /** Closes idle entries, least recently used first, until at most `target` are in the pool; returns how many. */
  private shrink(target: number): number {
    let freed = 0;
    let e = this.head;
    while (e !== null && this.live > target) {
      const next = e.next;
      if (e.refs === 0) {
        e.group.forget(e);
        this.retire(e);
        this.stats.evictions++;
        freed++;
      }
      e = next;
    }
    return freed;
  }

  private close(e: Entry): void {
    if (e.closing !== undefined) return;
    const p = e.fh.close().catch(() => undefined).finally(() => {
      this.retiredOpen--;
      this.closes.delete(p);
    });
    e.closing = p;
    this.closes.add(p);
  }

  private append(e: Entry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail !== null) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  private unlink(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else if (this.head === e) this.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else if (this.tail === e) this.tail = e.prev;
    e.prev = null;
    e.next = null;
  }
}

function checkSize(size: number): number {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`file_pool_size must be a positive integer, got ${size}`);
  return size;
}

/**
 * One storage's files in the pool: at most one handle per file (writable once anything wrote), opened at most
 * once however many callers ask at the same time.
 */
export class FileGroup {
  private readonly files = new Map<number, Entry>();
  /** Dedupes concurrent opens of one file, so parallel first writes do not race on creating it. */
  private readonly opening = new Map<number, PendingOpen>();

  constructor(
    private readonly pool: FilePool,
    private readonly opener: FileOpener,
  ) {}

  /** Descriptors of this group in the pool (not counting retired ones still closing). */
  get openFiles(): number {
    return this.files.size;
  }

  /** A handle on `file` (writable if asked), pinned until release(). */
  async acquire(file: number, write: boolean): Promise<PooledFile> {
    for (;;) {
      const cached = this.files.get(file);
      if (cached !== undefined && (cached.writable || !write)) {
        this.pool.touch(cached);
        cached.refs++;
        return cached;
      }
      const pending = this.opening.get(file);
      if (pending !== undefined) {
        // Same kind of open: share its outcome, failure included. Otherwise wait and look again.
        if (pending.write === write) await pending.promise;
        else await pending.promise.catch(() => undefined);
        continue;
      }
      if (cached !== undefined) {
        // Opened read-only (by a check or an upload) and now we need to write: replace it.
        this.files.delete(file);
        this.pool.retire(cached);
      }
      const promise = this.open(file, write);
      this.opening.set(file, { write, promise });
      try {
        const entry = await promise;
        // The first caller holds the open's reference; callers that shared the promise loop and take their own.
        return entry;
      } finally {
        this.opening.delete(file);
      }
    }
  }

  release(handle: PooledFile): void {
    this.pool.release(handle as Entry);
  }

  /** Closes this group's handles: idle ones now, pinned ones when their user releases them. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.opening.values()].map((p) => p.promise));
    const closing: Promise<void>[] = [];
    for (const e of this.files.values()) {
      this.pool.retire(e);
      if (e.closing !== undefined) closing.push(e.closing);
    }
    this.files.clear();
    await Promise.all(closing);
  }

  /** @internal The pool evicted one of ours. */
  forget(e: Entry): void {
    if (this.files.get(e.file) === e) this.files.delete(e.file);
  }

  private async open(file: number, write: boolean): Promise<Entry> {
    this.pool.makeRoom();
    let fh: FileHandle;
    try {
      fh = await this.opener(file, write);
    } catch (e) {
      if (!isOutOfDescriptors(e)) throw e;
      // Out of descriptors: our own idle ones are the first to give back, then one more try.
      if (!(await this.pool.shed())) {
        this.pool.stats.exhausted++;
        throw e;
      }
      try {
        fh = await this.opener(file, write);
      } catch (e2) {
        if (isOutOfDescriptors(e2)) this.pool.stats.exhausted++;
        throw e2;
      }
    }
    const entry: Entry = {
      fh, file, writable: write, group: this, refs: 1, retired: false, closing: undefined, prev: null, next: null,
    };
    this.files.set(file, entry);
    this.pool.add(entry);
    return entry;
  }
}
