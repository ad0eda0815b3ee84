// file_pool_size as a session setting, the pool's gauges in the session stats, and torrents that are paused or
// removed holding no descriptor.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_SETTINGS, validateSettings } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile, waitFor } from '../../helpers/engine.js';

const session = sessionsForThisFile();

/** A seeding multi-file torrent (data checked, so its files were opened). */
async function seeding(files: number, settings = {}) {
  const t = await makeTorrent({
    dir: await tmpDir('pool-session'), name: 'p', pieceLength: 16384,
    files: Array.from({ length: files }, (_, i) => ({ path: `f${i}`, size: 20_000 })),
  });
  const s = await session(settings);
  const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await waitFor(() => h.status().state === 'seeding', 30_000, 'seeding');
  return { s, h };
}

describe('file_pool_size', () => {
  it('defaults to libtorrent 2.0\'s 40 and is validated like the other integer settings', () => {
    expect(DEFAULT_SETTINGS.file_pool_size).toBe(40);
    expect(validateSettings({ file_pool_size: '8' })).toEqual({ file_pool_size: 8 });
    for (const bad of [0, -1, 1.5, 2e6, 'many']) {
      expect(() => validateSettings({ file_pool_size: bad })).toThrow(expect.objectContaining({ code: 'invalid_param', field: 'file_pool_size' }));
    }
  });

  it('bounds the files a session keeps open, as given at start', async () => {
    const { s } = await seeding(12, { file_pool_size: 5 });
    const stats = s.stats();
    expect(stats['spritzle.disk.file_pool_open']).toBe(5);
    expect(stats['spritzle.disk.file_pool_misses']).toBe(12);
    expect(stats['spritzle.disk.file_pool_evictions']).toBe(7);
  });

  it('closes idle files at once when lowered on a live session', async () => {
    const { s } = await seeding(12);
    expect(s.stats()['spritzle.disk.file_pool_open']).toBe(12);
    s.applySettings({ file_pool_size: 3 });
    await waitFor(() => s.stats()['spritzle.disk.file_pool_open'] === 3, 5_000, 'three files open');
    expect(s.settings().file_pool_size).toBe(3);
  });
});

describe('torrents that hold no descriptor', () => {
  it('a paused torrent closes its files', async () => {
    const { s, h } = await seeding(4);
    expect(s.stats()['spritzle.disk.file_pool_open']).toBe(4);
    h.pause();
    await waitFor(() => s.stats()['spritzle.disk.file_pool_open'] === 0, 5_000, 'no file open');
  });

  it('a removed torrent closes its files', async () => {
    const { s, h } = await seeding(4);
    await s.removeTorrent(h.infoHash);
    await waitFor(() => s.stats()['spritzle.disk.file_pool_open'] === 0, 5_000, 'no file open');
  });
});
