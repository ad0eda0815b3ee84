import { describe, it, expect, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DiskBufferPool } from '../packages/engine/src/disk-buffer-pool.js';
import { HashPool } from '../packages/engine/src/hasher.js';

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

describe('HashPool', () => {
  const hasher = new HashPool(1);
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
});
