// move_storage: a running torrent's files move to another save path; a failed move leaves them whole where
// they were.
import { describe, it, expect } from '@jest/globals';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeResumeData, type SessionEvents } from '@spritzle/engine';
import { dataFiles, makeTorrent, sameBytes, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile } from '../../helpers/engine.js';
import { moveFiles } from '../../../packages/engine/src/torrent/move-storage.js';

const newSession = sessionsForThisFile();
let n = 0;

async function seeding(): Promise<{ session: Awaited<ReturnType<typeof newSession>>; handle: Awaited<ReturnType<Awaited<ReturnType<typeof newSession>>['addTorrent']>>; t: Awaited<ReturnType<typeof makeTorrent>>; copy: string }> {
  const dir = await tmpDir('spritzle-move');
  const t = await makeTorrent({ dir, name: `m${n}`, files: [{ path: 'a/one.bin', size: 40_000 }, { path: 'two.bin', size: 20_000 }], pieceLength: 16384, seed: 700 + n++ });
  // A reference copy of the data, made by a second torrent of the same seed in another folder.
  const refDir = await tmpDir('spritzle-move-ref');
  const ref = await makeTorrent({ dir: refDir, name: t.name, files: t.files, pieceLength: 16384, seed: 700 + n - 1 });
  const session = await newSession();
  const handle = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await handle.waitFor('seeding');
  return { session, handle, t, copy: ref.dataRoot };
}

describe('moveFiles', () => {
  it('moves every file, keeps the relative paths and removes the folders it emptied', async () => {
    const from = await tmpDir('spritzle-mf-from');
    const to = path.join(await tmpDir('spritzle-mf-to'), 'deep', 'er');
    await mkdir(path.join(from, 't', 'sub'), { recursive: true });
    await writeFile(path.join(from, 't', 'sub', 'x'), 'x');
    await writeFile(path.join(from, 't', 'y'), 'y');
    await moveFiles(from, to, ['t/sub/x', 't/y', 't/missing']);
    await access(path.join(to, 't', 'sub', 'x'));
    await access(path.join(to, 't', 'y'));
    expect(await readdir(from)).toEqual([]);
  });

  it('puts back what it moved when a later file cannot move (a file in the way)', async () => {
    const from = await tmpDir('spritzle-mf-from');
    const to = await tmpDir('spritzle-mf-to');
    await writeFile(path.join(from, 'a'), 'a');
    await writeFile(path.join(from, 'b'), 'b');
    await writeFile(path.join(to, 'b'), 'in the way');
    await expect(moveFiles(from, to, ['a', 'b'])).rejects.toMatchObject({ code: 'disk_error' });
    await access(path.join(from, 'a'));
    await access(path.join(from, 'b'));
    await expect(access(path.join(to, 'a'))).rejects.toThrow();
  });
});

describe('TorrentHandle.moveStorage', () => {
  it('moves a seeding torrent\'s files; it keeps seeding from the new place and its resume data says so', async () => {
    const { session, handle, t, copy } = await seeding();
    const target = await tmpDir('spritzle-move-target');
    const moved: SessionEvents['storage_moved'][] = [];
    session.on('storage_moved', (e) => moved.push(e));
    await handle.moveStorage(target);
    expect(moved).toEqual([{ info_hash: handle.infoHash, save_path: target }]);
    expect(handle.status()).toMatchObject({ save_path: target, moving_storage: false, is_seeding: true });
    for (const [i, f] of dataFiles(t, target).entries()) expect(await sameBytes(f, dataFiles(t, copy)[i]!)).toBe(true);
    await expect(access(path.join(t.dataRoot, t.name))).rejects.toThrow();
    await handle.forceRecheck();
    expect(handle.status().progress).toBe(1);
    expect(decodeResumeData(await handle.saveResumeData()).save_path).toBe(target);
  });

  it('a move that cannot be done leaves the files and the save path as they were', async () => {
    const { session, handle, t } = await seeding();
    const target = await tmpDir('spritzle-move-blocked');
    await mkdir(path.join(target, t.name), { recursive: true });
    await writeFile(path.join(target, t.name, 'two.bin'), 'in the way');
    const failed: SessionEvents['storage_moved_failed'][] = [];
    session.on('storage_moved_failed', (e) => failed.push(e));
    await expect(handle.moveStorage(target)).rejects.toMatchObject({ code: 'disk_error' });
    expect(failed).toHaveLength(1);
    expect(handle.status().save_path).toBe(t.dataRoot);
    await handle.forceRecheck();
    expect(handle.status().progress).toBe(1);
  });
});
