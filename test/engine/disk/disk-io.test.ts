import { describe, it, expect, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DiskBufferPool } from '../../../packages/engine/src/disk/disk-buffer-pool.js';
import { DiskIoThreads, DISK_THREAD_NICE, diskWorkerFile } from '../../../packages/engine/src/disk/disk-io-thread.js';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { SpritzleError } from '../../../packages/engine/src/errors.js';
import { HASH_SIZE, blockHashes, fileHashes, fillSubtree, subtreeHashCount } from '../../../packages/engine/src/metainfo/merkle.js';
import { openSync, closeSync, readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('DiskBufferPool', () => {
  it('hands out shared-memory buffers of exactly the asked size', () => {
    const b = new DiskBufferPool().alloc(1000);
    expect(b.byteLength).toBe(1000);
    expect(b.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('reuses a released buffer for the next allocation of its size only', () => {
    const pool = new DiskBufferPool();
    const a = pool.alloc(4096);
    pool.release(a);
    expect(pool.alloc(8192)).not.toBe(a);
    expect(pool.alloc(4096)).toBe(a);
  });

  it('keeps no more free bytes than its retain limit', () => {
    const pool = new DiskBufferPool(10_000);
    const bufs = [pool.alloc(4096), pool.alloc(4096), pool.alloc(4096)];
    for (const b of bufs) pool.release(b);
    expect(pool.retained).toBe(8192);
  });

  it('drops its free buffers once allocations stopped for the idle time', () => {
    const pool = new DiskBufferPool(1 << 20, 30_000);
    pool.release(pool.alloc(4096, 1_000));
    pool.trim(20_000);
    expect(pool.retained).toBe(4096);
    pool.trim(31_001);
    expect(pool.retained).toBe(0);
  });
});

describe('DiskIoThreads', () => {
  const hasher = new DiskIoThreads(1);
  afterAll(() => hasher.close());

  it('hashes a shared piece buffer in place, leaving it usable', async () => {
    const buf = new DiskBufferPool().alloc(100_000);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7) & 255;
    const digest = await hasher.hash(buf.subarray(0, 99_999));
    expect(Buffer.from(digest).toString('hex')).toBe(createHash('sha1').update(buf.subarray(0, 99_999)).digest('hex'));
    expect(buf[99_998]).toBe((99_998 * 7) & 255);
  });

  it('refuses a buffer that is not shared memory', async () => {
    await expect(hasher.hash(new Uint8Array(10))).rejects.toThrow(/SharedArrayBuffer/);
  });

  it('writes the parts of a piece at their file offsets through the given fds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spritzle-disk-'));
    try {
      const a = openSync(join(dir, 'a'), 'w+');
      const b = openSync(join(dir, 'b'), 'w+');
      const buf = new DiskBufferPool().alloc(10);
      buf.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const r = await hasher.write(buf, [a, 0, 4, 2, b, 4, 6, 0]);
      closeSync(a);
      closeSync(b);
      expect(r).toEqual({ ops: 2, error: undefined, failedSpan: undefined });
      expect([...readFileSync(join(dir, 'a'))]).toEqual([0, 0, 0, 1, 2, 3]);
      expect([...readFileSync(join(dir, 'b'))]).toEqual([4, 5, 6, 7, 8, 9]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('BEP 52: hashes a piece\'s blocks and the layers above them up to its root (fillSubtree\'s layout), a short last block included', async () => {
    const buf = new DiskBufferPool().alloc(4 * 16384);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 13) & 255;
    const fileBytes = 2 * 16384 + 100;
    const want = new Uint8Array(subtreeHashCount(3, 2) * HASH_SIZE);
    want.set(blockHashes(buf.subarray(0, fileBytes)));
    fillSubtree(want, 3, 2);
    expect(Buffer.from(await hasher.hashBlocks(buf.subarray(0, fileBytes), 2)).toString('hex')).toBe(Buffer.from(want).toString('hex'));
  });

  it('BEP 52: writes a piece in the job that hashed it when its root is the expected one, and nothing when it is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spritzle-disk-'));
    try {
      const buf = new DiskBufferPool().alloc(4 * 16384);
      for (let i = 0; i < buf.length; i++) buf[i] = (i * 17) & 255;
      const { root } = fileHashes(blockHashes(buf), 4 * 16384);
      const fd = openSync(join(dir, 'f'), 'w+');
      const good = await hasher.hashBlocksAndWrite(buf, buf.length, 2, root, [fd, 0, buf.length, 0]);
      const wrong = root.slice();
      wrong[0] ^= 1;
      const fd2 = openSync(join(dir, 'g'), 'w+');
      const bad = await hasher.hashBlocksAndWrite(buf, buf.length, 2, wrong, [fd2, 0, buf.length, 0]);
      closeSync(fd);
      closeSync(fd2);
      expect([good.passed, good.write, Buffer.from(good.tree.subarray(-HASH_SIZE)).equals(root)]).toEqual([true, { ops: 1, error: undefined, failedSpan: undefined }, true]);
      expect(readFileSync(join(dir, 'f')).equals(buf)).toBe(true);
      expect([bad.passed, bad.write.ops, readFileSync(join(dir, 'g')).length]).toEqual([false, 0, 0]);
      expect(Buffer.from(bad.tree).equals(good.tree)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a failed write with its errno and the part that failed', async () => {
    const buf = new DiskBufferPool().alloc(8);
    const r = await hasher.write(buf, [999_999, 0, 8, 0]);
    expect(r.error?.code).toBe('EBADF');
    expect(r.failedSpan).toBe(0);
  });

  const niceOf = (tid: string): number => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  };

  (process.platform === 'linux' ? it : it.skip)('runs at the priority of the thread that started it by default', async () => {
    await hasher.hash(new DiskBufferPool().alloc(1)); // the worker has started
    expect(DISK_THREAD_NICE).toBe(0);
    expect(new Set(readdirSync('/proc/self/task').map(niceOf))).toEqual(new Set([0]));
  });

  (process.platform === 'linux' ? it : it.skip)('lowers its own priority only, when given a nice value', async () => {
    const low = new DiskIoThreads(1, 5);
    try {
      await low.hash(new DiskBufferPool().alloc(1)); // the worker has started and reniced itself
      expect(niceOf(String(process.pid))).toBe(0);
      expect(readdirSync('/proc/self/task').map(niceOf)).toContain(5);
    } finally {
      await low.close();
    }
  });

  it('when a thread dies, fails only its own jobs and carries on with a new thread', async () => {
    const threads = new DiskIoThreads(2);
    try {
      const pool = new DiskBufferPool();
      const big = pool.alloc(64 << 20);
      const onDying = threads.hash(big); // the first job goes to the first thread
      const onOther = threads.hash(pool.alloc(1000));
      await (threads as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
      await expect(onDying).rejects.toThrow(/disk thread stopped/);
      expect((await onOther).length).toBe(20);
      const after = await Promise.all([threads.hash(pool.alloc(10)), threads.hash(pool.alloc(10))]);
      expect(after.map((d) => Buffer.from(d).toString('hex'))).toEqual(Array(2).fill(createHash('sha1').update(new Uint8Array(10)).digest('hex')));
    } finally {
      await threads.close();
    }
  });
});

describe('the disk threads\' code', () => {
  const engine = join(process.cwd(), 'packages/engine');

  it('is the compiled disk-worker.js beside the module in dist/ (and in the CLI bundle)', () => {
    const file = diskWorkerFile(pathToFileURL(join(engine, 'dist/disk/disk-io-thread.js')).href);
    expect(fileURLToPath(file)).toBe(join(engine, 'dist/disk/disk-worker.js'));
  });

  it('is the one in dist/ when the module runs from src/ (tests under jest)', () => {
    const file = diskWorkerFile(pathToFileURL(join(engine, 'src/disk/disk-io-thread.ts')).href);
    expect(fileURLToPath(file)).toBe(join(engine, 'dist/disk/disk-worker.js'));
  });

  it('missing, makes the disk threads fail at once with a disk_error naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-worker-'));
    try {
      expect(() => diskWorkerFile(pathToFileURL(join(dir, 'spritzle.mjs')).href)).toThrow(SpritzleError);
      expect(() => diskWorkerFile(pathToFileURL(join(dir, 'spritzle.mjs')).href)).toThrow(join(dir, 'disk-worker.js'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

