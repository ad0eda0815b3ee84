import { Worker } from 'node:worker_threads';
import os from 'node:os';

/**
 * SHA-1 of whole pieces on worker threads, so hashing never runs on the thread that feeds the sockets.
 * Piece buffers are transferred to the worker and back (no copies); the caller gets its buffer back
 * with the digest.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const view = new Uint8Array(m.buf, 0, m.len);
  const digest = createHash('sha1').update(view).digest();
  parentPort.postMessage({ id: m.id, buf: m.buf, digest: digest.buffer.slice(digest.byteOffset, digest.byteOffset + 20) }, [m.buf]);
});
`;

interface Job { resolve: (r: { buf: Uint8Array; digest: Uint8Array }) => void; reject: (e: Error) => void; len: number }

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
      w.on('message', (m: { id: number; buf: ArrayBuffer; digest: ArrayBuffer }) => {
        const job = this.jobs.get(m.id);
        if (!job) return;
        this.jobs.delete(m.id);
        job.resolve({ buf: new Uint8Array(m.buf, 0, job.len), digest: new Uint8Array(m.digest) });
      });
      w.on('error', (e) => this.failAll(e));
      this.workers.push(w);
    }
  }

  /**
   * Hashes `buf` (which must own its whole ArrayBuffer: it is transferred and unusable until the promise
   * settles; use the returned buffer).
   */
  hash(buf: Uint8Array): Promise<{ buf: Uint8Array; digest: Uint8Array }> {
    if (this.closed) return Promise.reject(new Error('hash pool closed'));
    const id = this.nextId++;
    const w = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, len: buf.byteLength });
      w.postMessage({ id, buf: buf.buffer, len: buf.byteLength }, [buf.buffer as ArrayBuffer]);
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
