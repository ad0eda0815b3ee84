import { describe, it, expect, jest } from '@jest/globals';
import { Torrent } from '../../../packages/engine/src/torrent/torrent.js';
import type { TorrentHandle } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

/** Three seeding torrents in one session (a long tick, so no tick runs between the calls). */
async function threeSeeds() {
  const s = await session();
  const handles: TorrentHandle[] = [];
  for (const name of ['a.bin', 'b.bin', 'c.bin']) {
    const t = await makeTorrent({ dir: await tmpDir(`stats-${name}`), name, files: 65536, pieceLength: 16384 });
    handles.push(await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot }));
  }
  await waitFor(() => handles.every((h) => h.status().is_seeding));
  return { s, handles };
}

describe('session stats with many torrents', () => {
  it('sum over the torrents once until a tick or a torrent event, however often they are read', async () => {
    const { s } = await threeSeeds();
    s.stats();
    const walk = jest.spyOn(Torrent.prototype, 'syncStorageCounters');
    try {
      for (let i = 0; i < 10; i++) s.stats();
      expect(walk.mock.calls.length).toBeLessThanOrEqual(3); // one walk at most, if a tick came in between
    } finally {
      walk.mockRestore();
    }
  });

  it('count a torrent paused at once, without waiting for a tick', async () => {
    const { s, handles } = await threeSeeds();
    expect(s.stats()['ses.num_seeding_torrents']).toBe(3);
    handles[0]!.pause();
    expect(s.stats()['ses.num_stopped_torrents']).toBe(1);
    expect(s.stats()['ses.num_seeding_torrents']).toBe(2);
  });
});
