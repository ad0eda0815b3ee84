// What the qBittorrent API set survives a daemon restart: a torrent's category, tags and share limits in its
// resume data, the categories' save paths and the tags no torrent has in the session's state file.
import { describe, it, expect, afterAll } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tmpDir } from '../../helpers/fixtures.js';
import { killAllDaemons, startDaemon } from '../../helpers/daemon.js';
import { testTorrent } from '../../helpers/server.js';

afterAll(async () => { await killAllDaemons(); });

describe('labels across a restart', () => {
  it('category, tags, share limits and the categories\' save paths come back', async () => {
    const base = await tmpDir('spritzle-qb-restart');
    const state = path.join(base, 'state');
    const downloads = path.join(base, 'downloads');
    await mkdir(downloads, { recursive: true });
    const t = await testTorrent(base);

    const first = await startDaemon(state, downloads);
    const post = (url: string, call: string, form: Record<string, string>): Promise<Response> => fetch(`${url}/api/v2/torrents/${call}`, { method: 'POST', body: new URLSearchParams(form) });
    expect((await post(first.url, 'createCategory', { category: 'tv', savePath: 'tv-dir' })).status).toBe(200);
    expect((await post(first.url, 'createCategory', { category: 'empty', savePath: '' })).status).toBe(200);
    expect((await post(first.url, 'createTags', { tags: 'lonely' })).status).toBe(200);
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
    expect(row).toMatchObject({ hash: t.infoHash, category: 'tv', tags: 'hd, new', ratio_limit: 1.5, seeding_time_limit: 60, state: 'pausedDL', save_path: path.join(downloads, 'tv-dir') });
    // The categories' save paths and the tags no torrent has are the session's, kept in its state file.
    expect(await (await fetch(`${second.url}/api/v2/torrents/categories`)).json()).toEqual({
      empty: { name: 'empty', savePath: '' }, tv: { name: 'tv', savePath: path.join(downloads, 'tv-dir') },
    });
    expect(await (await fetch(`${second.url}/api/v2/torrents/tags`)).json()).toEqual(['hd', 'lonely', 'new']);
    await second.stop();
  });
});
