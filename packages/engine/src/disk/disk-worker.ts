/**
 * One disk thread (see disk-io-thread.ts): SHA-1 of a piece, or the positional writes of a verified piece,
 * on a view of the piece's shared memory. Node built-ins only: this file runs as a worker from the engine's
 * dist/ and, in the CLI's bundle, as bundle/disk-worker.js beside spritzle.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { setPriority } from 'node:os';

/** A job: hash `len` bytes at `off` of `sab`, or (with `spans`) write them. */
export interface DiskJob {
  id: number;
  sab: SharedArrayBuffer;
  off: number;
  len: number;
  /** [fd, offset in the view, length, file offset] per file part. */
  spans?: number[];
}

/** What a job answers: the digest, or the writes made and the first failure. */
export interface DiskReply {
  id: number;
  digest?: ArrayBuffer;
  ops?: number;
  error?: { code?: string; message: string };
  failedSpan?: number;
}

/** The hash of a job's bytes, in a buffer of its own (transferred back, not copied). */
function hash(view: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(20);
  new Uint8Array(out).set(createHash('sha1').update(view).digest());
  return out;
}

/** Positional writes, retried on short writes; stops at the first failure. */
function write(id: number, view: Uint8Array, s: number[]): DiskReply {
  let ops = 0;
  for (let i = 0; i < s.length; i += 4) {
    let done = 0;
    while (done < s[i + 2]!) {
      let n: number;
      try {
        n = writeSync(s[i]!, view, s[i + 1]! + done, s[i + 2]! - done, s[i + 3]! + done);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return { id, ops, error: { code: err.code, message: err.message }, failedSpan: i / 4 };
      }
      ops++;
      // A zero-byte write would loop forever; the kernel only does that when it cannot make progress.
      if (n <= 0) return { id, ops, error: { code: 'ENOSPC', message: 'ENOSPC: no space left on device, write' }, failedSpan: i / 4 };
      done += n;
    }
  }
  return { id, ops };
}

const port = parentPort;
if (port) {
  const nice = (workerData as { nice?: number } | null)?.nice ?? 0;
  if (nice > 0 && process.platform === 'linux') {
    try {
      // This thread only (Linux schedules threads apart): the network/API thread runs first.
      setPriority(nice);
    } catch {
      // Not allowed here: the thread runs at normal priority.
    }
  }
  port.on('message', (m: DiskJob) => {
    const view = new Uint8Array(m.sab, m.off, m.len);
    if (m.spans === undefined) {
      const digest = hash(view);
      port.postMessage({ id: m.id, digest } satisfies DiskReply, [digest]);
    } else {
      port.postMessage(write(m.id, view, m.spans));
    }
  });
}
