// rename_file: a running torrent's file gets a new name on disk and in its file list, kept in the resume data.
import { describe, it, expect } from '@jest/globals';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeResumeData } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile } from '../../helpers/engine.js';

const newSession = sessionsForThisFile();
let n = 0;

async function seeding(): Promise<{ session: Awaited<ReturnType<typeof newSession>>; handle: Awaited<ReturnType<Awaited<ReturnType<typeof newSession>>['addTorrent']>>; root: string; name: string }> {
  const dir = await tmpDir('spritzle-rename');
  const t = await makeTorrent({ dir, name: `r${n}`, files: [{ path: 'a.bin', size: 40_000 }, { path: 'b.bin', size: 20_000 }], pieceLength: 16384, seed: 800 + n++ });
  const session = await newSession();
  const handle = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await handle.waitFor('seeding');
  return { session, handle, root: t.dataRoot, name: t.name };
}

describe('TorrentHandle.renameFile', () => {
  it('renames the file on disk and in files(); the data still checks, and the resume data brings the name back', async () => {
    const { handle, root, name } = await seeding();
    await handle.renameFile(0, `${name}/sub/renamed.bin`);
    await access(path.join(root, name, 'sub', 'renamed.bin'));
    await expect(access(path.join(root, name, 'a.bin'))).rejects.toThrow();
    expect(handle.files().map((f) => f.path)).toEqual([path.join(name, 'sub', 'renamed.bin'), path.join(name, 'b.bin')]);
    await handle.forceRecheck();
    expect(handle.status().progress).toBe(1);
    const resume = await handle.saveResumeData();
    expect(decodeResumeData(resume).renamed_files).toEqual([[0, path.join(name, 'sub', 'renamed.bin')]]);
    const again = await (await newSession()).addTorrent({ resume_data: resume });
    await again.waitFor('checked');
    expect(again.files()[0]!.path).toBe(path.join(name, 'sub', 'renamed.bin'));
    expect(again.status().progress).toBe(1);
  });

  it('refuses a name that is taken, one that leaves the save path, and a bad index', async () => {
    const { handle, root, name } = await seeding();
    await expect(handle.renameFile(0, `${name}/b.bin`)).rejects.toMatchObject({ code: 'invalid_param' });
    await expect(handle.renameFile(0, '../../escape.bin')).rejects.toMatchObject({ code: 'invalid_param' });
    await expect(handle.renameFile(9, 'x.bin')).rejects.toMatchObject({ code: 'invalid_param', field: 'index' });
    await writeFile(path.join(root, 'in-the-way.bin'), 'x');
    await expect(handle.renameFile(0, 'in-the-way.bin')).rejects.toMatchObject({ code: 'disk_error' });
    await access(path.join(root, name, 'a.bin'));
    expect(handle.files()[0]!.path).toBe(path.join(name, 'a.bin'));
  });
});
