import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { fstatSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FilePool, DEFAULT_FILE_POOL_SIZE, isOutOfDescriptors, type FileOpener } from '../../../packages/engine/src/storage/file-pool.js';
import { SpritzleError } from '../../../packages/engine/src/errors.js';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';
import { Storage } from '../../../packages/engine/src/storage/storage.js';

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'spritzle-file-pool-'));
  file = path.join(dir, 'f');
  await writeFile(file, 'data');
});

/** Every handle the tests opened: the ones a test left open are closed after it. */
const allOpened: FileHandle[] = [];

afterEach(async () => {
  for (const fh of allOpened.splice(0)) if (!isClosed(fh)) await fh.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An opener of real read-only handles (on one scratch file) that records what it opened. */
function recorder(): { opener: FileOpener; opened: { file: number; write: boolean; fh: FileHandle }[] } {
  const opened: { file: number; write: boolean; fh: FileHandle }[] = [];
  return {
    opened,
    opener: async (f, write) => {
      const fh = await open(file, 'r');
      opened.push({ file: f, write, fh });
      allOpened.push(fh);
      return fh;
    },
  };
}

/** A FileHandle's fd is -1 once it is closed. */
function isClosed(fh: FileHandle): boolean {
  return fh.fd === -1;
}

function emfile(): Error {
  return Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
}

describe('FilePool', () => {
  it('defaults to libtorrent 2.0\'s file_pool_size of 40', () => {
    expect(new FilePool().size).toBe(DEFAULT_FILE_POOL_SIZE);
    expect(DEFAULT_FILE_POOL_SIZE).toBe(40);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new FilePool(0)).toThrow(RangeError);
    expect(() => new FilePool(1.5)).toThrow(RangeError);
    expect(() => new FilePool(2).setSize(-1)).toThrow(RangeError);
  });

  it('keeps at most size files open across all groups, closing the least recently used first', async () => {
    const pool = new FilePool(3);
    const rec = recorder();
    const groups = [pool.group(rec.opener), pool.group(rec.opener)];
    for (let i = 0; i < 6; i++) {
      const h = await groups[i % 2]!.acquire(i, false);
      groups[i % 2]!.release(h);
    }
    await pool.drain();
    expect(pool.open).toBe(3);
    expect(rec.opened.map((o) => isClosed(o.fh))).toEqual([true, true, true, false, false, false]);
  });

  it('reuses an open file: one open, later acquires are hits that make it most recently used', async () => {
    const pool = new FilePool(2);
    const rec = recorder();
    const g = pool.group(rec.opener);
    g.release(await g.acquire(0, false));
    g.release(await g.acquire(1, false));
    g.release(await g.acquire(0, false)); // 0 is now more recent than 1
    g.release(await g.acquire(2, false)); // evicts 1
    await pool.drain();
    expect(rec.opened.map((o) => o.file)).toEqual([0, 1, 2]);
    expect(rec.opened.map((o) => isClosed(o.fh))).toEqual([false, true, false]);
    expect(pool.stats).toEqual({ hits: 1, misses: 3, evictions: 1, exhausted: 0 });
  });

  it('never closes a handle while it is held, going over size until it is released', async () => {
    const pool = new FilePool(1);
    const rec = recorder();
    const g = pool.group(rec.opener);
    const a = await g.acquire(0, false);
    const b = await g.acquire(1, false);
    await pool.drain();
    expect(isClosed(a.fh)).toBe(false);
    expect(isClosed(b.fh)).toBe(false);
    expect(pool.open).toBe(2);
    g.release(a);
    await pool.drain();
    expect(isClosed(a.fh)).toBe(true);
    expect(pool.open).toBe(1);
    g.release(b);
    await pool.drain();
    expect(isClosed(b.fh)).toBe(false);
  });

  it('closes idle handles at once when its size is lowered, and held ones when they are released', async () => {
    const pool = new FilePool(4);
    const rec = recorder();
    const g = pool.group(rec.opener);
    const held = await g.acquire(0, false);
    for (let i = 1; i < 4; i++) g.release(await g.acquire(i, false));
    pool.setSize(1);
    await pool.drain();
    expect(rec.opened.map((o) => isClosed(o.fh))).toEqual([false, true, true, true]);
    expect(pool.open).toBe(1);
    g.release(held);
    await pool.drain();
    expect(pool.open).toBe(1);
  });

  it('opens a file once for callers that ask at the same time', async () => {
    const pool = new FilePool(4);
    const rec = recorder();
    const g = pool.group(rec.opener);
    const hs = await Promise.all([g.acquire(0, true), g.acquire(0, true), g.acquire(0, true)]);
    expect(rec.opened).toHaveLength(1);
    expect(new Set(hs.map((h) => h.fh)).size).toBe(1);
    for (const h of hs) g.release(h);
  });

  it('replaces a read-only handle with a writable one, leaving the reader its handle until it releases it', async () => {
    const pool = new FilePool(4);
    const rec = recorder();
    const g = pool.group(rec.opener);
    const reader = await g.acquire(0, false);
    const writer = await g.acquire(0, true);
    expect(writer.writable).toBe(true);
    expect(writer.fh).not.toBe(reader.fh);
    await pool.drain();
    expect(isClosed(reader.fh)).toBe(false);
    g.release(reader);
    await pool.drain();
    expect(isClosed(reader.fh)).toBe(true);
    // A later read uses the writable handle.
    const again = await g.acquire(0, false);
    expect(again.fh).toBe(writer.fh);
    g.release(again);
    g.release(writer);
  });

  it('closes only its own files when a group closes, held ones once released', async () => {
    const pool = new FilePool(8);
    const rec = recorder();
    const mine = pool.group(rec.opener);
    const other = pool.group(rec.opener);
    const held = await mine.acquire(0, false);
    mine.release(await mine.acquire(1, false));
    other.release(await other.acquire(0, false));
    await mine.close();
    expect(isClosed(rec.opened[1]!.fh)).toBe(true);
    expect(isClosed(held.fh)).toBe(false);
    expect(isClosed(rec.opened[2]!.fh)).toBe(false);
    expect(mine.openFiles).toBe(0);
    expect(other.openFiles).toBe(1);
    mine.release(held);
    await pool.drain();
    expect(isClosed(held.fh)).toBe(true);
    expect(pool.open).toBe(1);
  });

  it('out of descriptors while opening, closes its idle handles and tries once more', async () => {
    const pool = new FilePool(8);
    const rec = recorder();
    const g = pool.group(rec.opener);
    for (let i = 0; i < 3; i++) g.release(await g.acquire(i, false));
    let failures = 1;
    const tight = pool.group(async (f, w) => {
      if (failures-- > 0) throw emfile();
      return rec.opener(f, w);
    });
    const h = await tight.acquire(0, false);
    expect(isClosed(h.fh)).toBe(false);
    expect(rec.opened.slice(0, 3).every((o) => isClosed(o.fh))).toBe(true);
    expect(pool.stats.exhausted).toBe(0);
    tight.release(h);
  });

  it('passes EMFILE on to the caller when it has nothing of its own to close, and counts it', async () => {
    const pool = new FilePool(8);
    const wrapped = new SpritzleError('disk_error', 'too many open files (EMFILE) opening f', { cause: emfile() });
    const g = pool.group(async () => {
      throw wrapped;
    });
    await expect(g.acquire(0, false)).rejects.toBe(wrapped);
    expect(pool.stats.exhausted).toBe(1);
    expect(pool.open).toBe(0);
  });

  it('tells descriptor exhaustion (EMFILE, ENFILE, also as a cause) from other errors', () => {
    expect(isOutOfDescriptors(emfile())).toBe(true);
    expect(isOutOfDescriptors(Object.assign(new Error('x'), { code: 'ENFILE' }))).toBe(true);
    expect(isOutOfDescriptors(new SpritzleError('disk_error', 'x', { cause: emfile() }))).toBe(true);
    expect(isOutOfDescriptors(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe(false);
    expect(isOutOfDescriptors('EMFILE')).toBe(false);
  });

  it('holds its invariants under any sequence of acquires, releases, resizes and group closes', async () => {
    const seed = 20_260_130;
    const op = fc.oneof(
      fc.record({ k: fc.constant('acquire' as const), g: fc.nat(2), f: fc.nat(5), w: fc.boolean() }),
      fc.record({ k: fc.constant('release' as const), i: fc.nat(20) }),
      fc.record({ k: fc.constant('resize' as const), n: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ k: fc.constant('close' as const), g: fc.nat(2) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 40 }), async (size, ops) => {
        const pool = new FilePool(size);
        const rec = recorder();
        const groups = [pool.group(rec.opener), pool.group(rec.opener), pool.group(rec.opener)];
        const held: { g: number; h: Awaited<ReturnType<(typeof groups)[0]['acquire']>> }[] = [];
        for (const o of ops) {
          if (o.k === 'acquire') {
            const h = await groups[o.g]!.acquire(o.f, o.w);
            expect(isClosed(h.fh)).toBe(false); // never hands out a closed handle
            expect(h.writable || !o.w).toBe(true);
            held.push({ g: o.g, h });
          } else if (o.k === 'release' && held.length > 0) {
            const [x] = held.splice(o.i % held.length, 1);
            groups[x!.g]!.release(x!.h);
          } else if (o.k === 'resize') {
            pool.setSize(o.n);
          } else if (o.k === 'close') {
            await groups[o.g]!.close();
          }
          await pool.drain();
          for (const x of held) expect(isClosed(x.h.fh)).toBe(false); // nothing held is closed under its user
          const pinned = new Set(held.map((x) => x.h.fh)).size;
          expect(pool.open - pinned).toBeLessThanOrEqual(pool.size); // idle handles only within size
          expect(pool.open).toBe(rec.opened.filter((r) => !isClosed(r.fh)).length);
        }
        for (const x of held) groups[x.g]!.release(x.h);
        for (const g of groups) await g.close();
        await pool.drain();
        expect(pool.open).toBe(0);
        expect(rec.opened.every((r) => isClosed(r.fh))).toBe(true);
      }),
      { seed, numRuns: 150 },
    );
  });
});

describe('Storage over a shared FilePool', () => {
  it('never closes the descriptors a piece writer holds while other storages open files through the pool', async () => {
    const pool = new FilePool(1);
    const root = await mkdtemp(path.join(dir, 'pinned-'));
    const layout = new FileLayout([{ path: 'w/a', length: 8 }, { path: 'w/b', length: 8 }], 16);
    const writing = new Storage({ savePath: root, layout, pool });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let held: number[] = [];
    // Stands in for the disk threads: it writes through the fds after the others had their turn.
    const write = writing.writePiece(0, Buffer.alloc(16, 7), async (spans) => {
      held = [spans[0]!, spans[4]!];
      await gate;
      for (let i = 0; i < spans.length; i += 4) writeSync(spans[i]!, Buffer.alloc(8, 7), 0, 8, spans[i + 3]!);
      return { ops: 2 };
    });
    await new Promise((r) => setTimeout(r, 20));
    const data = Buffer.from('sixteen bytes!!!');
    for (let t = 0; t < 20; t++) {
      const other = new Storage({ savePath: root, layout: new FileLayout([{ path: `o${t}`, length: 16 }], 16), pool });
      await other.writePiece(0, data);
      await other.close();
    }
    await pool.drain();
    // Still open, and still the same files (a closed fd number could have been reused for another one).
    expect(held.map((fd) => fstatSync(fd).ino)).toEqual([statSync(path.join(root, 'w/a')).ino, statSync(path.join(root, 'w/b')).ino]);
    release();
    await write;
    await pool.drain();
    expect(pool.open).toBeLessThanOrEqual(1);
    expect(await readFile(path.join(root, 'w/a'))).toEqual(Buffer.alloc(8, 7));
    expect(await readFile(path.join(root, 'w/b'))).toEqual(Buffer.alloc(8, 7));
  });

  /** Descriptors this process holds (Linux). */
  async function openFds(): Promise<number> {
    return (await readdir('/proc/self/fd')).length;
  }

  it('keeps the descriptors of 500 single-file torrents written, read and checked within file_pool_size', async () => {
    const pool = new FilePool(8);
    const root = await mkdtemp(path.join(dir, 'many-'));
    const data = Buffer.from('sixteen bytes!!!');
    const hash = createHash('sha1').update(data).digest();
    const before = await openFds();
    let most = 0;
    const storages: Storage[] = [];
    for (let t = 0; t < 500; t++) {
      const layout = new FileLayout([{ path: `t${t}/data`, length: data.length }], 16);
      const s = new Storage({ savePath: root, layout, pool });
      storages.push(s);
      await s.writePiece(0, data);
      expect(Buffer.from(await s.read(0, 0, data.length))).toEqual(data);
      if (t % 100 === 0) most = Math.max(most, (await openFds()) - before);
    }
    // Seeding from every torrent in turn, then re-checking them all: still within the pool.
    for (const s of storages) await s.read(0, 0, 4);
    for (const s of storages) expect(await s.check([hash])).toEqual([true]);
    await pool.drain();
    most = Math.max(most, (await openFds()) - before);
    expect(pool.open).toBeLessThanOrEqual(8);
    expect(storages.filter((s) => s.openFiles > 0).length).toBeLessThanOrEqual(8);
    // A few descriptors of slack for whatever else the process opens meanwhile (jest, libuv).
    expect(most).toBeLessThanOrEqual(8 + 4);
    for (const s of storages) await s.close();
    expect(pool.open).toBe(0);
  });
});
