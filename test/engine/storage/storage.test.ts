import { describe, it, expect, afterEach } from '@jest/globals';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';
import { Storage } from '../../../packages/engine/src/storage/storage.js';
import { SpritzleError } from '../../../packages/engine/src/errors.js';

const tmpDirs: string[] = [];
const storages: Storage[] = [];

async function tmp(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'spritzle-storage-'));
  tmpDirs.push(dir);
  return dir;
}

function open(savePath: string, layout: FileLayout): Storage {
  const s = new Storage({ savePath, layout });
  storages.push(s);
  return s;
}

afterEach(async () => {
  for (const s of storages.splice(0)) await s.close();
  for (const d of tmpDirs.splice(0)) {
    await chmod(d, 0o700).catch(() => undefined);
    await rm(d, { recursive: true, force: true });
  }
});

/** Deterministic, non-repeating-looking torrent content. */
function content(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function piece(data: Buffer, layout: FileLayout, p: number): Buffer {
  const start = p * layout.pieceLength;
  return data.subarray(start, start + layout.pieceSize(p));
}

function hashes(data: Buffer, layout: FileLayout): Uint8Array[] {
  return Array.from({ length: layout.numPieces }, (_, p) => createHash('sha1').update(piece(data, layout, p)).digest());
}

async function writeAll(s: Storage, data: Buffer, layout: FileLayout): Promise<void> {
  for (let p = 0; p < layout.numPieces; p++) await s.writePiece(p, piece(data, layout, p));
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function expectDiskError(promise: Promise<unknown>): Promise<SpritzleError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(SpritzleError);
    expect((e as SpritzleError).code).toBe('disk_error');
    return e as SpritzleError;
  }
  throw new Error('expected disk_error');
}

// t/a: 10, t/sub/b: 1, t/sub/c: 0, t/d: 13 → 24 bytes, pieces of 8
const multiFiles = [
  { path: 't/a', length: 10 },
  { path: 't/sub/b', length: 1 },
  { path: 't/sub/c', length: 0 },
  { path: 't/d', length: 13 },
];

describe('Storage', () => {
  it('round-trips writePiece and read across file boundaries', async () => {
    const dir = await tmp();
    const layout = new FileLayout(multiFiles, 8);
    const data = content(layout.totalLength);
    const s = open(dir, layout);
    await writeAll(s, data, layout);
    expect(Buffer.from(await s.read(1, 0, 8))).toEqual(piece(data, layout, 1));
    expect(Buffer.from(await s.read(1, 1, 3))).toEqual(data.subarray(9, 12));
    expect(Buffer.from(await s.read(2, 0, 8))).toEqual(data.subarray(16, 24));
    expect(await readFile(path.join(dir, 't/a'))).toEqual(data.subarray(0, 10));
    expect(await readFile(path.join(dir, 't/sub/b'))).toEqual(data.subarray(10, 11));
    expect(await readFile(path.join(dir, 't/d'))).toEqual(data.subarray(11, 24));
  });

  it('creates files only when they are first written', async () => {
    const dir = await tmp();
    const layout = new FileLayout(multiFiles, 8);
    const s = open(dir, layout);
    expect(await s.hasAnyFile()).toBe(false);
    await s.writePiece(0, content(8));
    expect(await exists(path.join(dir, 't/a'))).toBe(true);
    expect(await exists(path.join(dir, 't/sub'))).toBe(false);
    expect(await exists(path.join(dir, 't/d'))).toBe(false);
    expect(await s.hasAnyFile()).toBe(true);
  });

  it('leaves files sparse when writing far into them', async () => {
    const dir = await tmp();
    const size = 64 * 1024 * 1024;
    const layout = new FileLayout([{ path: 'big.bin', length: size }], 16 * 1024);
    const s = open(dir, layout);
    await s.writePiece(layout.numPieces - 1, content(16 * 1024));
    const st = await stat(path.join(dir, 'big.bin'));
    expect(st.size).toBe(size);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('never truncates data already in a file', async () => {
    const dir = await tmp();
    const layout = new FileLayout([{ path: 'x', length: 16 }], 8);
    const existing = content(16, 7);
    await writeFile(path.join(dir, 'x'), existing);
    const s = open(dir, layout);
    await s.writePiece(1, content(8, 9));
    const after = await readFile(path.join(dir, 'x'));
    expect(after.subarray(0, 8)).toEqual(existing.subarray(0, 8));
    expect(after.subarray(8)).toEqual(content(8, 9));
  });

  it('never creates pad files and reads them as zeros', async () => {
    const dir = await tmp();
    const layout = new FileLayout(
      [
        { path: 't/a', length: 5 },
        { path: 't/.pad/3', length: 3, pad: true },
        { path: 't/b', length: 8 },
      ],
      8,
    );
    const s = open(dir, layout);
    const p0 = Buffer.concat([content(5), Buffer.alloc(3, 0xff)]); // garbage in the pad range must not land on disk
    await s.writePiece(0, p0);
    await s.writePiece(1, content(8, 3));
    expect(await exists(path.join(dir, 't/.pad'))).toBe(false);
    expect(Buffer.from(await s.read(0, 0, 8))).toEqual(Buffer.concat([content(5), Buffer.alloc(3)]));
  });

  it('treats a piece made only of pad files as a no-op write', async () => {
    const dir = await tmp();
    const layout = new FileLayout(
      [
        { path: 'a', length: 8 },
        { path: '.pad/8', length: 8, pad: true },
        { path: 'b', length: 8 },
      ],
      8,
    );
    const s = open(dir, layout);
    await s.writePiece(1, Buffer.alloc(8));
    expect(s.stats.writeOps).toBe(0);
    expect(await s.hasAnyFile()).toBe(false);
  });

  it('raises disk_error when reading data that is not on disk', async () => {
    const dir = await tmp();
    const layout = new FileLayout([{ path: 'missing.bin', length: 32 }], 16);
    const s = open(dir, layout);
    const e = await expectDiskError(s.read(0, 0, 16));
    expect(e.message).toContain(path.join(dir, 'missing.bin'));
    expect(e.message).toContain('ENOENT');
  });

  it('raises disk_error when reading past the end of a short file', async () => {
    const dir = await tmp();
    const layout = new FileLayout([{ path: 'short.bin', length: 32 }], 16);
    await writeFile(path.join(dir, 'short.bin'), content(20));
    const s = open(dir, layout);
    const e = await expectDiskError(s.read(1, 0, 16));
    expect(e.message).toContain('shorter than expected');
  });

  it('dedupes concurrent first writes to the same new file', async () => {
    const dir = await tmp();
    const layout = new FileLayout([{ path: 'deep/er/f.bin', length: 16 * 64 }], 64);
    const data = content(layout.totalLength);
    const s = open(dir, layout);
    await Promise.all(Array.from({ length: layout.numPieces }, (_, p) => s.writePiece(p, piece(data, layout, p))));
    expect(await readFile(path.join(dir, 'deep/er/f.bin'))).toEqual(data);
  });

  it('works with more files than the handle cache holds', async () => {
    const dir = await tmp();
    const files = Array.from({ length: 100 }, (_, i) => ({ path: `many/f${i}`, length: 5 }));
    const layout = new FileLayout(files, 16);
    const data = content(layout.totalLength);
    const s = open(dir, layout);
    await Promise.all(Array.from({ length: layout.numPieces }, (_, p) => s.writePiece(p, piece(data, layout, p))));
    const reads = await Promise.all(Array.from({ length: layout.numPieces }, (_, p) => s.read(p, 0, layout.pieceSize(p))));
    expect(Buffer.concat(reads)).toEqual(data);
    expect(await readFile(path.join(dir, 'many/f57'))).toEqual(data.subarray(285, 290));
  });

  it('counts write and read operations and 16 KiB blocks', async () => {
    const dir = await tmp();
    const layout = new FileLayout(
      [
        { path: 'a', length: 20 * 1024 },
        { path: 'b', length: 44 * 1024 },
      ],
      32 * 1024,
    );
    const s = open(dir, layout);
    await s.writePiece(0, content(32 * 1024));
    expect(s.stats.writeOps).toBe(2); // 20 KiB into a, 12 KiB into b
    expect(s.stats.blocksWritten).toBe(3);
    await s.read(0, 0, 16 * 1024);
    expect(s.stats.readOps).toBe(1);
    expect(s.stats.blocksRead).toBe(1);
  });

  it('refuses a layout path that escapes savePath', async () => {
    const dir = await tmp();
    const layout = new FileLayout([{ path: '../escape', length: 4 }], 4);
    expect(() => new Storage({ savePath: dir, layout })).toThrow(expect.objectContaining({ code: 'invalid_path' }));
  });

  it('raises disk_error naming the path when the save path cannot hold directories', async () => {
    const dir = await tmp();
    const notADir = path.join(dir, 'regular-file');
    await writeFile(notADir, 'x');
    const layout = new FileLayout([{ path: 't/a.bin', length: 8 }], 8);
    const s = open(notADir, layout);
    const e = await expectDiskError(s.writePiece(0, content(8)));
    expect(e.message).toMatch(/not a directory \(ENOTDIR\)|file already exists \(EEXIST\)/);
    expect(e.message).toContain(notADir);
    expect(e.cause).toBeDefined();
  });

  it('raises disk_error when the directory is read-only', async () => {
    if (process.getuid?.() === 0) return; // root ignores permission bits
    const dir = await tmp();
    await chmod(dir, 0o500);
    const layout = new FileLayout([{ path: 'a.bin', length: 8 }], 8);
    const s = open(dir, layout);
    const e = await expectDiskError(s.writePiece(0, content(8)));
    expect(e.message).toContain('permission denied (EACCES)');
    expect(e.message).toContain(path.join(dir, 'a.bin'));
  });

  describe('check', () => {
    it('finds all pieces of complete data', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const data = content(layout.totalLength);
      await writeAll(open(dir, layout), data, layout);
      const s = open(dir, layout);
      expect(await s.check(hashes(data, layout))).toEqual([true, true, true]);
      expect(s.stats.blocksHashed).toBe(3);
    });

    it('finds no pieces when no file exists', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const s = open(dir, layout);
      expect(await s.check(hashes(content(layout.totalLength), layout))).toEqual([false, false, false]);
    });

    it('finds only the pieces whose data matches', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const data = content(layout.totalLength);
      const w = open(dir, layout);
      await w.writePiece(0, piece(data, layout, 0));
      await w.writePiece(1, Buffer.alloc(8, 1)); // wrong data
      await w.writePiece(2, piece(data, layout, 2));
      await w.close();
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([true, false, true]);
    });

    it('marks pieces touching a missing file as not had', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const data = content(layout.totalLength);
      await writeAll(open(dir, layout), data, layout);
      await rm(path.join(dir, 't/sub/b'));
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([true, false, true]);
    });

    it('marks the tail pieces of a too-short file as not had', async () => {
      const dir = await tmp();
      const layout = new FileLayout([{ path: 'f', length: 40 }], 8);
      const data = content(40);
      await writeFile(path.join(dir, 'f'), data.subarray(0, 19));
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([true, true, false, false, false]);
    });

    it('hashes pad ranges as zeros', async () => {
      const dir = await tmp();
      const layout = new FileLayout(
        [
          { path: 'a', length: 5 },
          { path: '.pad/3', length: 3, pad: true },
          { path: 'b', length: 8 },
        ],
        8,
      );
      const data = Buffer.concat([content(5), Buffer.alloc(3), content(8, 5)]);
      await writeAll(open(dir, layout), data, layout);
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([true, true]);
    });

    it('hashes pieces larger than its read chunk correctly', async () => {
      const dir = await tmp();
      const layout = new FileLayout(
        [
          { path: 'a', length: 3 * 1024 * 1024 + 5 },
          { path: 'b', length: 2 * 1024 * 1024 },
        ],
        2 * 1024 * 1024,
      );
      const data = content(layout.totalLength);
      await writeAll(open(dir, layout), data, layout);
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([true, true, true]);
    });

    it('calls onPiece once per piece with the result', async () => {
      const dir = await tmp();
      const layout = new FileLayout([{ path: 'f', length: 40 }], 8);
      const data = content(40);
      await writeFile(path.join(dir, 'f'), data.subarray(0, 16));
      const seen: [number, boolean][] = [];
      await open(dir, layout).check(hashes(data, layout), { onPiece: (p, ok) => seen.push([p, ok]) });
      expect(seen.sort((x, y) => x[0] - y[0])).toEqual([
        [0, true],
        [1, true],
        [2, false],
        [3, false],
        [4, false],
      ]);
    });

    it('stops early when the signal aborts', async () => {
      const dir = await tmp();
      const layout = new FileLayout([{ path: 'f', length: 8 * 200 }], 8);
      const data = content(layout.totalLength);
      await writeFile(path.join(dir, 'f'), data);
      const ac = new AbortController();
      let calls = 0;
      const had = await open(dir, layout).check(hashes(data, layout), {
        signal: ac.signal,
        onPiece: () => {
          if (++calls === 3) ac.abort();
        },
      });
      expect(calls).toBeLessThan(20);
      expect(had).toHaveLength(200);
      expect(had.filter(Boolean).length).toBe(calls);
    });

    it('reads a freshly truncated file as not had', async () => {
      const dir = await tmp();
      const layout = new FileLayout([{ path: 'f', length: 24 }], 8);
      const data = content(24);
      await writeFile(path.join(dir, 'f'), data);
      await truncate(path.join(dir, 'f'), 0);
      expect(await open(dir, layout).check(hashes(data, layout))).toEqual([false, false, false]);
    });
  });

  describe('deleteFiles', () => {
    it('removes the torrent files and the directories they leave empty', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const s = open(dir, layout);
      await writeAll(s, content(layout.totalLength), layout);
      await writeFile(path.join(dir, 't/sub/c'), ''); // the empty file, as another client would create it
      await s.deleteFiles();
      expect(await exists(path.join(dir, 't'))).toBe(false);
      expect(await exists(dir)).toBe(true);
    });

    it('leaves a foreign file and its folder alone', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const s = open(dir, layout);
      await writeAll(s, content(layout.totalLength), layout);
      await writeFile(path.join(dir, 't/sub/notes.txt'), 'mine');
      await s.deleteFiles();
      expect(await readFile(path.join(dir, 't/sub/notes.txt'), 'utf8')).toBe('mine');
      expect(await exists(path.join(dir, 't/a'))).toBe(false);
      expect(await exists(path.join(dir, 't/sub/b'))).toBe(false);
      expect(await exists(path.join(dir, 't/d'))).toBe(false);
    });

    it('does not mind files that were never written', async () => {
      const dir = await tmp();
      const layout = new FileLayout(multiFiles, 8);
      const s = open(dir, layout);
      await s.writePiece(0, content(8));
      await expect(s.deleteFiles()).resolves.toBeUndefined();
      expect(await exists(path.join(dir, 't'))).toBe(false);
    });

    it('never removes a pre-existing empty directory the layout does not name', async () => {
      const dir = await tmp();
      await mkdir(path.join(dir, 'other'));
      const layout = new FileLayout([{ path: 'single.bin', length: 8 }], 8);
      const s = open(dir, layout);
      await s.writePiece(0, content(8));
      await s.deleteFiles();
      expect(await exists(path.join(dir, 'single.bin'))).toBe(false);
      expect(await exists(path.join(dir, 'other'))).toBe(true);
    });
  });
});
