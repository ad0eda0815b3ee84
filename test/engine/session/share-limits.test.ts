// Share limits in a session: a seeding torrent that reaches one is paused or removed, as its limits ask, and
// the limits come back with its resume data.
import { describe, it, expect } from '@jest/globals';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { decodeResumeData, type SessionEvents } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile, waitFor } from '../../helpers/engine.js';

const newSession = sessionsForThisFile();
let n = 0;

async function seeding(): Promise<{ session: Awaited<ReturnType<typeof newSession>>; handle: Awaited<ReturnType<Awaited<ReturnType<typeof newSession>>['addTorrent']>>; dataRoot: string; name: string }> {
  const dir = await tmpDir('spritzle-share-limits');
  const t = await makeTorrent({ dir, name: `seed${n}`, files: 40_000, pieceLength: 16384, seed: 100 + n++ });
  const session = await newSession();
  const handle = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await handle.waitFor('seeding');
  return { session, handle, dataRoot: t.dataRoot, name: t.name };
}

describe('share limits', () => {
  it('a torrent starts with the session\'s limits (none) and the pause action', async () => {
    const { handle } = await seeding();
    expect(handle.shareLimits()).toEqual({ ratio_limit: -2, seeding_time_limit: -2, inactive_seeding_time_limit: -2, action: 'pause' });
  });

  it('a seeding torrent past its seeding-time limit is paused, with share_limit_reached first', async () => {
    const { session, handle } = await seeding();
    const events: SessionEvents['share_limit_reached'][] = [];
    session.on('share_limit_reached', (e) => events.push(e));
    handle.setShareLimits({ seeding_time_limit: 0 });
    await waitFor(() => handle.status().paused, 10_000, 'paused');
    expect(events).toEqual([{ info_hash: handle.infoHash, limit: 'seeding_time', action: 'pause' }]);
  });

  it('the remove_with_files action removes the torrent and its data', async () => {
    const { session, handle, dataRoot, name } = await seeding();
    // torrent_removed comes once the files are gone (the handle is invalid a moment before).
    const removed = new Promise<SessionEvents['torrent_removed']>((resolve) => session.on('torrent_removed', resolve));
    handle.setShareLimits({ ratio_limit: 0, action: 'remove_with_files' });
    expect(await removed).toEqual({ info_hash: handle.infoHash, deleted_files: true });
    await expect(access(path.join(dataRoot, name))).rejects.toThrow();
    expect(session.torrents()).toEqual([]);
  });

  it('a bad limit is refused whole, naming the key', async () => {
    const { handle } = await seeding();
    expect(() => handle.setShareLimits({ ratio_limit: 1, seeding_time_limit: -7 })).toThrow(expect.objectContaining({ code: 'invalid_param', field: 'share_limits.seeding_time_limit' }));
    expect(handle.shareLimits().ratio_limit).toBe(-2);
  });

  it('the limits are saved with the resume data and restored from it', async () => {
    const { session, handle } = await seeding();
    handle.setShareLimits({ ratio_limit: 1.5, inactive_seeding_time_limit: 600, action: 'remove' });
    const resume = await handle.saveResumeData();
    expect(decodeResumeData(resume).share_limits).toEqual({ ratio_limit: 1.5, seeding_time_limit: -2, inactive_seeding_time_limit: 600, action: 'remove' });
    await session.removeTorrent(handle.infoHash);
    const again = await session.addTorrent({ resume_data: resume });
    expect(again.shareLimits()).toEqual({ ratio_limit: 1.5, seeding_time_limit: -2, inactive_seeding_time_limit: 600, action: 'remove' });
  });
});
