/**
 * One disk thread (see disk-io-thread.ts): SHA-1 of a piece (or BEP 52's SHA-256 of its blocks), or the positional writes of a verified piece,
 * on a view of the piece's shared memory. Node built-ins (and merkle.ts, built-ins only) alone: this file runs as a worker from the engine's
 * dist/ and, in the CLI's bundle, as bundle/disk-worker.js beside spritzle.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHash, hash as oneShot } from 'node:crypto';
import { writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { BLOCK_SIZE } from '../block-size.js';
import { HASH_SIZE, fillSubtree, subtreeHashCount } from '../metainfo/merkle.js';

/** A job: hash `len` bytes at `off` of `sab`, or (with `spans`) write them. */
export interface DiskJob {
  id: number;
  sab: SharedArrayBuffer;
  off: number;
  len: number;
  /** [fd, offset in the view, length, file offset] per file part. */
  spans?: number[];
  /**
   * BEP 52: hash each 16 KiB block with SHA-256 instead; the digest is the packed block hashes, then the
   * layers above them up to the piece's root, `blocks` layers higher (fillSubtree's layout).
   */
  blocks?: number;
  /** With `blocks`: hash only the first `hashLen` bytes (a piece's file bytes, not the pad after them). */
  hashLen?: number;
  /**
   * With `blocks` and `spans`: the piece's known root; the bytes are written only when the subtree's root is
   * this one (a hash and a write in one job: one round trip per piece, and the bytes still in cache).
   */
  expect?: Uint8Array;
}

/** What a job answers: the digest, or the writes made and the first failure. */
export interface DiskReply {
  id: number;
  digest?: ArrayBuffer;
  ops?: number;
  error?: { code?: string; message: string };
  failedSpan?: number;
  /** A job with `expect`: the root matched (and `ops`, `error` tell how the writes went). */
  passed?: boolean;
}

/** The hash of a job's bytes, in a buffer of its own (transferred back, not copied). */
function hash(view: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(20);
  new Uint8Array(out).set(createHash('sha1').update(view).digest());
  return out;
}

/**
 * BEP 52: the SHA-256 of each 16 KiB block (the last may be shorter), packed, and the piece's merkle subtree
 * above them up to `top` layers higher: the main thread only compares the root and keeps the layers.
 */
function pieceTree(view: Uint8Array, top: number): ArrayBuffer {
  const n = Math.ceil(view.length / BLOCK_SIZE);
  const out = new ArrayBuffer(subtreeHashCount(n, top) * HASH_SIZE);
  const o = new Uint8Array(out);
  for (let i = 0; i < n; i++) o.set(oneShot('sha256', view.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE), 'buffer'), i * HASH_SIZE);
  fillSubtree(o, n, top);
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
    if (m.blocks !== undefined) {
      const digest = pieceTree(view.subarray(0, m.hashLen ?? m.len), m.blocks);
      if (m.spans === undefined || m.expect === undefined) {
        port.postMessage({ id: m.id, digest } satisfies DiskReply, [digest]);
        return;
      }
      const passed = Buffer.compare(new Uint8Array(digest, digest.byteLength - HASH_SIZE), m.expect) === 0;
      const reply: DiskReply = passed ? write(m.id, view, m.spans) : { id: m.id };
      reply.digest = digest;
      reply.passed = passed;
      port.postMessage(reply, [digest]);
    } else if (m.spans === undefined) {
      const digest = hash(view);
      port.postMessage({ id: m.id, digest } satisfies DiskReply, [digest]);
    } else {
      port.postMessage(write(m.id, view, m.spans));
    }
  });
}
