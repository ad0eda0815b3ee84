// The session's file pool with thousands of torrents: descriptors stay within file_pool_size plus a fixed
// overhead however many torrents are loaded and seeding, and uploads to a real libtorrent peer from many
// torrents in turn work through it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sessionsForThisFile, waitFor } from '../helpers/engine.js';
import { countFds, ltGetInTurn, makeTinyTorrents } from '../helpers/many-torrents.js';
import { requireLibtorrent } from '../helpers/libtorrent.js';

const newSession = sessionsForThisFile();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/**
 * Descriptors besides the pool's: up to 10 peer connections (the downloader's parallel torrents), its 3 pipes,
 * and a few of libuv's and jest's own. Without a session-wide pool this count is one per seeding torrent.
 */
const OVERHEAD = 30;

describe('the session file pool', () => {
  it('keeps 5,000 seeding torrents within file_pool_size descriptors, uploading from 200 of them in turn', async () => {
    requireLibtorrent();
    const dir = await tmp('spritzle-pool-');
    const torrents = await makeTinyTorrents(dir, 5000, { withFile: (i) => i % 25 === 0 });
    const session = await newSession();
    const poolSize = session.settings().file_pool_size;
    expect(poolSize).toBe(40);
    const before = await countFds();
    let most = 0;
    for (let i = 0; i < torrents.length; i++) {
      await session.addTorrent({ ti: torrents[i]!.torrentBytes, save_path: dir });
      if (i % 500 === 0) most = Math.max(most, (await countFds()) - before);
    }
    await waitFor(() => session.stats()['ses.num_seeding_torrents'] === 5000, 60_000, '5,000 torrents seeding');
    most = Math.max(most, (await countFds()) - before);

    const out = await tmp('spritzle-pool-get-');
    const picked = torrents.filter((_, i) => i % 25 === 0);
    expect(picked).toHaveLength(200);
    const got = ltGetInTurn(picked.map((t) => t.torrentPath), out, session.listenPort);
    const sampler = setInterval(() => {
      void countFds().then((n) => {
        most = Math.max(most, n - before);
      });
    }, 50);
    const result = await got.finally(() => clearInterval(sampler));
    expect(result.failed).toEqual([]);
    expect(result.ok).toBe(200);
    most = Math.max(most, (await countFds()) - before);
    expect(most).toBeLessThanOrEqual(poolSize + OVERHEAD);
    const stats = session.stats();
    expect(stats['spritzle.disk.file_pool_open']).toBeLessThanOrEqual(poolSize);
    expect(stats['spritzle.disk.file_pool_misses']).toBeGreaterThanOrEqual(5000);
  }, 240_000);
});
