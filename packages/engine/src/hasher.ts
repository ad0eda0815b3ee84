import { Worker } from 'node:worker_threads';
import os from 'node:os';

/**
 * SHA-1 of whole pieces on worker threads, so hashing never runs on the thread that feeds the sockets.
 * Piece buffers live in shared memory (DiskBufferPool): the worker reads them in place, nothing is copied
 * or transferred, and the buffer stays usable by the caller (it must not change until the digest is back).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const digest = createHash('sha1').update(new Uint8Array(m.sab, m.off, m.len)).digest();
  const out = new ArrayBuffer(20);
  new Uint8Array(out).set(digest);
  parentPort.postMessage({ id: m.id, digest: out }, [out]);
});
`;

interface Job { resolve: (digest: Uint8Array) => void; reject: (e: Error) => void }

export class HashPool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private next = 0;
  private closed = false;

  constructor(size = Math.max(1, Math.min(4, os.availableParallelism() - 1))) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (m: { id: number; digest: ArrayBuffer }) => {
        const job = this.jobs.get(m.id);
        if (!job) return;
        this.jobs.delete(m.id);
        job.resolve(new Uint8Array(m.digest));
      });
      w.on('error', (e) => this.failAll(e));
      this.workers.push(w);
    }
  }

  /** The SHA-1 digest of `buf`, a view of a SharedArrayBuffer (see DiskBufferPool). */
  hash(buf: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('hash pool closed'));
    if (!(buf.buffer instanceof SharedArrayBuffer)) return Promise.reject(new TypeError('hash() takes a view of a SharedArrayBuffer'));
    const id = this.nextId++;
    const w = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      w.postMessage({ id, sab: buf.buffer, off: buf.byteOffset, len: buf.byteLength });
    });
  }

  private failAll(e: Error): void {
    for (const job of this.jobs.values()) job.reject(e);
    this.jobs.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('hash pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
