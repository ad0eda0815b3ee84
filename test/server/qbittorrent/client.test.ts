// @ctrl/qbittorrent (the npm client Flood and others use) against spritzle's qBittorrent Web API v2, with
// data downloaded from a real libtorrent seed on 127.0.0.1.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { QBittorrent } from '@ctrl/qbittorrent';
import { sameBytes } from '../../helpers/fixtures.js';
import { killAllLtPeers, startLtSeed } from '../../helpers/libtorrent.js';
import { type Api, localHttp, startApi, testTorrent, until } from '../../helpers/server.js';

const TOKEN = 'qb-client-test-token';
let api: Api;
let client: QBittorrent;

beforeAll(async () => {
  api = await startApi({ token: TOKEN });
  client = new QBittorrent({ baseUrl: api.url, username: 'admin', password: TOKEN });
});
afterAll(async () => {
  await killAllLtPeers();
  await api.close();
});

describe('@ctrl/qbittorrent against the adapter', () => {
  it('logs in with the token as password and reads the version', async () => {
    expect(await client.login()).toBe(true);
    expect(await client.getApiVersion()).toBe('2.9.3');
    expect(await client.getAppVersion()).toBe('v4.6.7');
  });

  it('a wrong password is refused', async () => {
    const bad = new QBittorrent({ baseUrl: api.url, username: 'admin', password: 'wrong' });
    await expect(bad.login()).rejects.toThrow(/Cookie not found|Auth Failed/);
  });

  it('adds from a file with a category, downloads it from a libtorrent seed, and lists it as seeding', async () => {
    const t = await testTorrent(api.work, 1024 * 1024 + 777);
    await client.createCategory('tv', 'tv-dir');
    await startLtSeed(t.torrentPath, t.dataRoot, { peers: [`127.0.0.1:${api.session.listenPort}`] });
    await client.addTorrent(Buffer.from(t.torrentBytes), { category: 'tv', tags: 'a,b' });
    const done = await until('seeding', async () => {
      const [x] = await client.listTorrents({ hashes: t.infoHash });
      return x && x.progress === 1 && ['uploading', 'stalledUP'].includes(x.state) ? x : undefined;
    });
    expect(done).toMatchObject({ hash: t.infoHash, name: t.name, category: 'tv', tags: 'a, b', size: t.files[0]!.size, amount_left: 0 });
    expect(done.save_path).toBe(path.join(api.root, 'tv-dir'));
    expect(await sameBytes(path.join(api.root, 'tv-dir', t.name), path.join(t.dataRoot, t.name))).toBe(true);
    expect(await client.listTorrents({ category: 'tv' })).toHaveLength(1);
    expect(await client.listTorrents({ category: 'movies' })).toHaveLength(0);
    const normalized = await client.getTorrent(t.infoHash);
    expect(normalized).toMatchObject({ id: t.infoHash, isCompleted: true, label: 'tv', state: 'seeding' });

    const files = await client.torrentFiles(t.infoHash);
    expect(files).toEqual([expect.objectContaining({ index: 0, name: t.name, size: t.files[0]!.size, progress: 1, priority: 4 })]);
    const props = await client.torrentProperties(t.infoHash);
    expect(props).toMatchObject({ save_path: path.join(api.root, 'tv-dir'), piece_size: 16384, total_size: t.files[0]!.size });
  });

  it('adds from a URL (a .torrent served on 127.0.0.1) and from a magnet whose metadata comes from a seed', async () => {
    const byUrl = await testTorrent(api.work, 50_000);
    const web = await localHttp((_req, res) => {
      res.setHeader('content-type', 'application/x-bittorrent');
      res.end(Buffer.from(byUrl.torrentBytes));
    });
    try {
      await client.addMagnet(`${web.url}/x.torrent`, { paused: 'true' });
    } finally {
      await web.close();
    }
    const [u] = await client.listTorrents({ hashes: byUrl.infoHash });
    expect(u).toMatchObject({ hash: byUrl.infoHash, state: 'pausedDL', name: byUrl.name });

    const byMagnet = await testTorrent(api.work, 200_000);
    await startLtSeed(byMagnet.torrentPath, byMagnet.dataRoot, { peers: [`127.0.0.1:${api.session.listenPort}`] });
    await client.addMagnet(`magnet:?xt=urn:btih:${byMagnet.infoHash}&dn=${byMagnet.name}`);
    const m = await until('magnet seeding', async () => {
      const [x] = await client.listTorrents({ hashes: byMagnet.infoHash });
      return x && x.progress === 1 ? x : undefined;
    });
    expect(m).toMatchObject({ name: byMagnet.name, total_size: 200_000 });
  });

  it('changes tags, category and limits; pauses, resumes and rechecks', async () => {
    const [first] = await client.listTorrents({ category: 'tv' });
    const hash = first!.hash;
    await client.addTorrentTags(hash, 'c');
    await client.removeTorrentTags(hash, 'a');
    await client.createCategory('movies');
    await client.setTorrentCategory(hash, 'movies');
    await client.setTorrentDownloadLimit(hash, 100_000);
    expect(await client.getTags()).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(Object.keys(await client.getCategories()).sort()).toEqual(['movies', 'tv']);
    let [t] = await client.listTorrents({ hashes: hash });
    expect(t).toMatchObject({ category: 'movies', tags: 'b, c' });

    await client.pauseTorrent(hash);
    [t] = await client.listTorrents({ hashes: hash });
    expect(t!.state).toBe('pausedUP');
    await client.resumeTorrent(hash);
    [t] = await client.listTorrents({ hashes: hash });
    expect(t!.state).not.toMatch(/^paused/);
    await client.recheckTorrent(hash);
    await until('checked again', async () => {
      const [x] = await client.listTorrents({ hashes: hash });
      return x && x.progress === 1 && !x.state.startsWith('checking') ? x : undefined;
    });
  });

  it('a seeding torrent whose ratio limit is reached is paused (pausedUP)', async () => {
    const [t] = (await client.listTorrents()).filter((x) => x.category === '' && x.progress === 1);
    const r = await fetch(`${api.url}/api/v2/torrents/setShareLimits`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
      body: new URLSearchParams({ hashes: t!.hash, ratioLimit: '0', seedingTimeLimit: '-1', inactiveSeedingTimeLimit: '-1' }),
    });
    expect(r.status).toBe(200);
    const paused = await until('paused by its ratio limit', async () => {
      const [x] = await client.listTorrents({ hashes: t!.hash });
      return x?.state === 'pausedUP' ? x : undefined;
    });
    expect(paused).toMatchObject({ ratio_limit: 0, max_ratio: 0, seeding_time_limit: -1 });
  });

  it('moves a torrent (setLocation): its files go to the new save path and it keeps seeding', async () => {
    const [t] = await client.listTorrents({ category: 'movies' });
    const target = path.join(api.root, 'elsewhere');
    expect(await client.setTorrentLocation(t!.hash, target)).toBe(true);
    const [after] = await client.listTorrents({ hashes: t!.hash });
    expect(after).toMatchObject({ save_path: target, progress: 1 });
    await access(path.join(target, t!.name));
    await expect(access(path.join(t!.save_path, t!.name))).rejects.toThrow();
    await expect(client.setTorrentLocation(t!.hash, '/etc')).rejects.toMatchObject({ statusCode: 400 });
  });

  it('answers topPrio with 409 while queueing is off, as qBittorrent does', async () => {
    const [t] = await client.listTorrents({ category: 'movies' });
    await expect(client.topPriority(t!.hash)).rejects.toMatchObject({ statusCode: 409 });
  });

  it('renames a file (renameFile): on disk and in torrents/files', async () => {
    const [t] = await client.listTorrents({ category: 'movies' });
    expect(await client.renameFile(t!.hash, t!.name, 'renamed.bin')).toBe(true);
    expect((await client.torrentFiles(t!.hash)).map((f) => f.name)).toEqual(['renamed.bin']);
    await access(path.join(t!.save_path, 'renamed.bin'));
    await expect(client.renameFile(t!.hash, 'no-such-file', 'x.bin')).rejects.toMatchObject({ statusCode: 409 });
  });

  it('reads sync/maindata: a full update, then only what changed', async () => {
    const full = (await client.getSyncMainData(0)) as { rid: number; full_update?: boolean; torrents: Record<string, Record<string, unknown>>; categories: Record<string, unknown> };
    expect(full.full_update).toBe(true);
    expect(Object.keys(full.torrents)).toHaveLength(3);
    expect(Object.keys(full.categories).sort()).toEqual(['movies', 'tv']);
    const [t] = await client.listTorrents({ category: 'movies' });
    await client.pauseTorrent(t!.hash);
    const delta = (await client.getSyncMainData(full.rid)) as { rid: number; full_update?: boolean; torrents?: Record<string, Record<string, unknown>> };
    expect(delta.full_update).toBeUndefined();
    expect(delta.rid).toBeGreaterThan(full.rid);
    expect(delta.torrents?.[t!.hash]).toMatchObject({ state: 'pausedUP' });
    expect(delta.torrents?.[t!.hash]).not.toHaveProperty('name');
  });

  it('deletes with files, and the next delta lists the removal', async () => {
    const { rid } = (await client.getSyncMainData(0)) as { rid: number };
    const [t] = await client.listTorrents({ category: 'movies' });
    const data = path.join(t!.save_path, (await client.torrentFiles(t!.hash))[0]!.name); // renamed above
    await access(data);
    await client.removeTorrent(t!.hash, true);
    await expect(access(data)).rejects.toThrow();
    const delta = (await client.getSyncMainData(rid)) as { torrents_removed?: string[] };
    expect(delta.torrents_removed).toEqual([t!.hash]);
  });
});
