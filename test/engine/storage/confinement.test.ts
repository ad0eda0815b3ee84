import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bencode from 'bencode';
import { SpritzleError, type Session, type TorrentHandle } from '@spritzle/engine';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';
import { Storage } from '../../../packages/engine/src/storage/storage.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

/** A seed session sharing `t` from its data, and a downloader pointed at it. */
async function download(torrent: Uint8Array, dataRoot: string, savePath: string): Promise<{ dl: Session; h: TorrentHandle }> {
  const seed = await session();
  await seed.addTorrent({ ti: torrent, save_path: dataRoot });
  const dl = await session();
  const h = await dl.addTorrent({ ti: torrent, save_path: savePath, peers: [`127.0.0.1:${seed.listenPort}`] });
  return { dl, h };
}

/** A single-file .torrent (no data needed) whose file name is `name`. */
function torrentNamed(name: string, length = 1000): Uint8Array {
  const data = Buffer.alloc(length, 7);
  const info = { length, name, 'piece length': 16384, pieces: createHash('sha1').update(data).digest() };
  return bencode.encode({ info });
}

describe('storage never writes through a symbolic link out of the save path', () => {
  it('a multi-file torrent whose folder name is a link to a folder outside goes to an invalid_path error and writes nothing there', async () => {
    const src = await tmpDir('link-src');
    const t = await makeTorrent({ dir: src, name: 'data', files: [{ path: 'a.bin', size: 70_000 }, { path: 'sub/b.bin', size: 30_000 }], pieceLength: 16384 });
    const save = await tmpDir('link-save');
    const outside = await tmpDir('link-outside');
    await symlink(outside, join(save, 'data'));
    const { h } = await download(t.torrentBytes, t.dataRoot, save);
    await waitFor(() => h.status().errc.value !== 0, 30_000, 'an error state');
    const st = h.status();
    expect(st.error).toMatch(/symbolic link/);
    expect(st.error).toContain(join(save, 'data'));
    expect(await readdir(outside)).toEqual([]);
  });

  it('a single-file torrent whose file name is a link to a file outside does not write into that file', async () => {
    const src = await tmpDir('flink-src');
    const t = await makeTorrent({ dir: src, name: 'f.bin', files: 50_000, pieceLength: 16384 });
    const save = await tmpDir('flink-save');
    const outside = await tmpDir('flink-outside');
    await writeFile(join(outside, 'victim'), 'precious');
    await symlink(join(outside, 'victim'), join(save, 'f.bin'));
    const { h } = await download(t.torrentBytes, t.dataRoot, save);
    await waitFor(() => h.status().errc.value !== 0, 30_000, 'an error state');
    expect(h.status().error).toMatch(/symbolic link/);
    expect(h.status().error_file).toBe(0);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('precious');
  });

  it('a link that stays inside the save path is followed as usual', async () => {
    const src = await tmpDir('inlink-src');
    const t = await makeTorrent({ dir: src, name: 'data', files: [{ path: 'a.bin', size: 40_000 }, { path: 'b.bin', size: 10_000 }], pieceLength: 16384 });
    const save = await tmpDir('inlink-save');
    await mkdir(join(save, 'real'));
    await symlink(join(save, 'real'), join(save, 'data'));
    const { h } = await download(t.torrentBytes, t.dataRoot, save);
    await waitFor(() => h.status().is_seeding || h.status().errc.value !== 0, 30_000, 'the download');
    expect(h.status().error).toBe('');
    expect((await readdir(join(save, 'real'))).sort()).toEqual(['a.bin', 'b.bin']);
  });
});

describe('Storage checks each file where it opens it, not once per folder', () => {
  it('a folder replaced by a link out of the save path after a first write: the next file in it is refused and nothing is created outside', async () => {
    const save = await tmpDir('swap-save');
    const outside = await tmpDir('swap-outside');
    const layout = new FileLayout([{ path: 'd/one', length: 8 }, { path: 'd/two', length: 8 }], 8);
    const storage = new Storage({ savePath: save, layout });
    try {
      await storage.writePiece(0, Buffer.alloc(8, 1));
      await rename(join(save, 'd'), join(save, 'old'));
      await symlink(outside, join(save, 'd'));
      const e = await storage.writePiece(1, Buffer.alloc(8, 2)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SpritzleError);
      expect((e as SpritzleError).code).toBe('invalid_path');
      expect(await readdir(outside)).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  it('an existing file reached through a folder replaced by a link out of the save path is not written', async () => {
    const save = await tmpDir('swap2-save');
    const outside = await tmpDir('swap2-outside');
    const layout = new FileLayout([{ path: 'd/one', length: 8 }], 8);
    const storage = new Storage({ savePath: save, layout });
    try {
      await storage.writePiece(0, Buffer.alloc(8, 1));
      await storage.close();
      await writeFile(join(outside, 'one'), 'theirs!!');
      await rename(join(save, 'd'), join(save, 'old'));
      await symlink(outside, join(save, 'd'));
      const e = await storage.writePiece(0, Buffer.alloc(8, 2)).catch((x: unknown) => x);
      expect((e as SpritzleError).code).toBe('invalid_path');
      const { readFile } = await import('node:fs/promises');
      expect(await readFile(join(outside, 'one'), 'utf8')).toBe('theirs!!');
    } finally {
      await storage.close();
    }
  });
});

describe('deleting a torrent\'s files stays inside the save path', () => {
  it('files reached through a folder that became a link out of the save path are not deleted, and the refusal says why', async () => {
    const save = await tmpDir('del-save');
    const outside = await tmpDir('del-outside');
    const layout = new FileLayout([{ path: 'd/one', length: 8 }], 8);
    const storage = new Storage({ savePath: save, layout });
    await storage.writePiece(0, Buffer.alloc(8, 1));
    await storage.close();
    await writeFile(join(outside, 'one'), 'theirs!!');
    await rename(join(save, 'd'), join(save, 'old'));
    await symlink(outside, join(save, 'd'));
    const e = await storage.deleteFiles().catch((x: unknown) => x);
    expect((e as SpritzleError).code).toBe('invalid_path');
    expect((e as SpritzleError).message).toMatch(/not deleting .*outside the save path/);
    expect(await readdir(outside)).toEqual(['one']);
  });
});

describe('file names the file system cannot hold', () => {
  it('a file name of 300 bytes puts the torrent in an error state naming ENAMETOOLONG, not in checking_files', async () => {
    const s = await session();
    const h = await s.addTorrent({ ti: torrentNamed('n'.repeat(300)), save_path: await tmpDir('long-name') });
    const st = h.status();
    expect(st.errc.value).not.toBe(0);
    expect(st.error).toMatch(/file name too long \(ENAMETOOLONG\)/);
    expect(st.error_file).toBe(0);
    expect(st.state).not.toBe('checking_files');
  });
});
