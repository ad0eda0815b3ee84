import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PieceWriteResult } from '../storage/torrent-storage.js';
import { SpritzleError } from '../errors.js';
import type { DiskJob, DiskReply } from './disk-worker.js';

/**
 * The disk threads (libtorrent's disk_io_thread): SHA-1 of whole pieces and the writes of verified pieces
 * run on worker threads, never on the thread that feeds the sockets and serves the API. Piece buffers live
 * in shared memory (DiskBufferPool): workers read them in place, nothing is copied or transferred, and a
 * buffer must not change until its job is back.
 *
 * The workers run at the process's priority by default (DISK_THREAD_NICE; a `nice` given to the
 * constructor lowers theirs, the thread only, on Linux). They were niced 10 once (libtorrent's old
 * low_prio_disk), but a niced disk thread gets ~10% of a core whenever anything else is runnable (the
 * seed on the same machine, other processes): it fell behind, the back-pressure on pending disk bytes
 * stopped our requests tens of thousands of times per 2 GiB, and the download slowed and cost more CPU
 * per GiB (bench/download-vs-libtorrent.mjs, interleaved: 2 GiB 235 -> 287 MiB/s, 3.79 -> 2.88 CPU-s/GiB).
 */
export const DISK_THREAD_NICE = 0;

/**
 * A worker's compiled file `name` (e.g. 'disk-worker.js'): beside the module at `moduleUrl` in dist/ and in
 * the CLI's bundle (pack-cli.mjs builds each worker as a second entry beside spritzle.mjs); when that module
 * runs from src/<dir>/ (tests under jest), the compiled one in dist/<dir>/ (`tsc -b` first). Null if neither exists.
 */
export function compiledWorkerFile(moduleUrl: string, name: string): URL | null {
  const beside = new URL(`./${name}`, moduleUrl);
  if (existsSync(beside)) return beside;
  const src = /\/src\/([^/]+)\/[^/]+\.ts$/.exec(moduleUrl);
  const fromSrc = src ? new URL(`../../dist/${src[1]}/${name}`, moduleUrl) : null;
  return fromSrc && existsSync(fromSrc) ? fromSrc : null;
}

/** The disk worker's file (disk-worker.ts compiled), found as compiledWorkerFile says. */
export function diskWorkerFile(moduleUrl: string = import.meta.url): URL {
  const file = compiledWorkerFile(moduleUrl, 'disk-worker.js');
  if (file) return file;
  throw new SpritzleError('disk_error', `the disk threads' code is missing: no ${fileURLToPath(new URL('./disk-worker.js', moduleUrl))} (build the engine: tsc -b)`);
}

type Reply = DiskReply;
interface Job { resolve: (r: Reply) => void; reject: (e: Error) => void }
/** One thread and the jobs it holds: when a thread dies, only its own jobs fail (the others may still be writing). */
interface Slot { worker: Worker; jobs: Map<number, Job> }

/** Threads restarted after dying before the disk threads give up (each failure also fails its jobs). */
const MAX_RESTARTS = 10;

export class DiskIoThreads {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private next = 0;
  private closed = false;
  private failure: Error | null = null;
  private restarts = 0;
  private readonly workerFile = diskWorkerFile();

  constructor(size = Math.max(1, Math.min(4, os.availableParallelism() - 1)), private readonly nice = DISK_THREAD_NICE) {
    for (let i = 0; i < size; i++) {
      const slot: Slot = { worker: null as unknown as Worker, jobs: new Map() };
      this.slots.push(slot);
      this.start(slot);
    }
  }

  private start(slot: Slot): void {
    const w = new Worker(this.workerFile, { workerData: { nice: this.nice } });
    w.unref();
    slot.worker = w;
    let error: Error | null = null;
    w.on('message', (m: Reply) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      job.resolve(m);
    });
    w.on('error', (e) => {
      error = e;
    });
    w.on('exit', (code) => {
      if (this.closed) return;
      // The thread is gone, so nothing writes through the fds of its jobs any more: failing them is safe.
      const e = new Error(`a disk thread stopped (${error?.message ?? `exit code ${code}`})`);
      for (const job of slot.jobs.values()) job.reject(e);
      slot.jobs.clear();
      if (++this.restarts > MAX_RESTARTS) this.failure = e;
      else this.start(slot);
    });
  }

  /** The SHA-1 digest of `buf`, a view of a SharedArrayBuffer (see DiskBufferPool). */
  async hash(buf: Uint8Array): Promise<Uint8Array> {
    const r = await this.post(buf, {});
    return new Uint8Array(r.digest!);
  }

  /**
   * The SHA-256 of each 16 KiB block of `buf` (BEP 52's leaf hashes), packed 32 bytes each, then the layers
   * of the piece's merkle subtree above them, `top` layers up to its root (see fillSubtree).
   */
  async hashBlocks(buf: Uint8Array, top = 0): Promise<Uint8Array> {
    const r = await this.post(buf, { blocks: top });
    return new Uint8Array(r.digest!);
  }

  /**
   * BEP 52 with the piece's hash known, in one job: hashBlocks of the first `hashLen` bytes of `buf`, and the
   * writes of `spans` (as write() does) only when the subtree's root is `expect`.
   */
  async hashBlocksAndWrite(buf: Uint8Array, hashLen: number, top: number, expect: Uint8Array, spans: number[]): Promise<{ tree: Uint8Array; passed: boolean; write: PieceWriteResult }> {
    const r = await this.post(buf, { blocks: top, hashLen, expect, spans });
    return { tree: new Uint8Array(r.digest!), passed: r.passed === true, write: { ops: r.ops ?? 0, error: r.error, failedSpan: r.failedSpan } };
  }

  /**
   * Writes parts of `buf` (a view of a SharedArrayBuffer) to open files: `spans` holds
   * [fd, offset in buf, length, file offset] per part. The fds must stay open until this settles.
   */
  async write(buf: Uint8Array, spans: number[]): Promise<PieceWriteResult> {
    const r = await this.post(buf, { spans });
    return { ops: r.ops ?? 0, error: r.error, failedSpan: r.failedSpan };
  }

  private post(buf: Uint8Array, job: Omit<DiskJob, 'id' | 'sab' | 'off' | 'len'>): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('disk threads closed'));
    if (this.failure) return Promise.reject(this.failure);
    const sab = buf.buffer;
    if (!(sab instanceof SharedArrayBuffer)) return Promise.reject(new TypeError('disk jobs take a view of a SharedArrayBuffer'));
    const id = this.nextId++;
    const slot = this.slots[this.next++ % this.slots.length]!;
    return new Promise((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject });
      slot.worker.postMessage({ id, sab, off: buf.byteOffset, len: buf.byteLength, ...job } satisfies DiskJob);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Threads first: a failed job releases its file handles, and a descriptor closed while a thread could
    // still write through it might be reused for another file by then.
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    const e = new Error('disk threads closed');
    for (const slot of this.slots) {
      for (const job of slot.jobs.values()) job.reject(e);
      slot.jobs.clear();
    }
  }
}
