// A torrent's category, tags and share limits set through the qBittorrent API survive a daemon restart:
// they travel in its resume data.
import { describe, it, expect, afterAll } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tmpDir } from '../../helpers/fixtures.js';
import { killAllDaemons, startDaemon } from '../../helpers/daemon.js';
import { testTorrent } from '../../helpers/server.js';

afterAll(async () => { await killAllDaemons(); });

describe('labels across a restart', () => {
  it('category, tags and share limits come back with the torrent', async () => {
    const base = await tmpDir('spritzle-qb-restart');
    const state = path.join(base, 'state');
    const downloads = path.join(base, 'downloads');
    await mkdir(downloads, { recursive: true });
    const t = await testTorrent(base);

    const first = await startDaemon(state, downloads);
    const form = new FormData();
    form.append('torrents', new Blob([t.torrentBytes]), 'x.torrent');
    form.append('category', 'tv');
    form.append('tags', 'hd,new');
    form.append('paused', 'true');
    form.append('ratioLimit', '1.5');
    form.append('seedingTimeLimit', '60');
    expect(await (await fetch(`${first.url}/api/v2/torrents/add`, { method: 'POST', body: form })).text()).toBe('Ok.');
    expect((await first.stop()).code).toBe(0);

    const second = await startDaemon(state, downloads);
    const [row] = (await (await fetch(`${second.url}/api/v2/torrents/info`)).json()) as Record<string, unknown>[];
    expect(row).toMatchObject({ hash: t.infoHash, category: 'tv', tags: 'hd, new', ratio_limit: 1.5, seeding_time_limit: 60, state: 'pausedDL' });
    expect(Object.keys((await (await fetch(`${second.url}/api/v2/torrents/categories`)).json()) as object)).toEqual(['tv']);
    await second.stop();
  });
});
