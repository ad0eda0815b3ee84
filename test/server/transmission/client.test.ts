// @ctrl/transmission against spritzle's Transmission RPC, with data from a real libtorrent seed on 127.0.0.1.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { Transmission } from '@ctrl/transmission';
import { sameBytes } from '../../helpers/fixtures.js';
import { killAllLtPeers, startLtSeed } from '../../helpers/libtorrent.js';
import { type Api, localHttp, startApi, testTorrent, until } from '../../helpers/server.js';

const TOKEN = 'tr-client-test-token';
let api: Api;
let client: Transmission;

beforeAll(async () => {
  api = await startApi({ token: TOKEN });
  client = new Transmission({ baseUrl: api.url, username: 'any', password: TOKEN });
});
afterAll(async () => {
  await killAllLtPeers();
  await api.close();
});

interface TrTorrent { id: number; hashString: string; name: string; status: number; percentDone: number; labels: string[]; downloadDir: string; leftUntilDone: number }

async function one(id: number | string): Promise<TrTorrent> {
  const res = await client.listTorrents(id);
  return (res.arguments.torrents as unknown as TrTorrent[])[0]!;
}

describe('@ctrl/transmission against the adapter', () => {
  it('does the session-id handshake and reads the session', async () => {
    const s = await client.getSession();
    expect(s.result).toBe('success');
    expect(s.arguments).toMatchObject({ 'rpc-version': 17, 'download-dir': api.root });
  });

  let fileId = 0;
  it('adds a .torrent with labels, downloads it from a libtorrent seed and shows it seeding', async () => {
    const t = await testTorrent(api.work, 700_000);
    await startLtSeed(t.torrentPath, t.dataRoot, { peers: [`127.0.0.1:${api.session.listenPort}`] });
    const added = await client.addTorrent(Buffer.from(t.torrentBytes), { 'download-dir': 'tr', labels: ['tv'] } as never);
    expect(added.result).toBe('success');
    const info = (added.arguments as unknown as { 'torrent-added': { id: number; hashString: string } })['torrent-added'];
    expect(info.hashString).toBe(t.infoHash);
    fileId = info.id;
    const done = await until('seeding', async () => {
      const x = await one(fileId);
      return x.status === 6 && x.percentDone === 1 ? x : undefined;
    });
    expect(done).toMatchObject({ id: fileId, name: t.name, labels: ['tv'], downloadDir: path.join(api.root, 'tr'), leftUntilDone: 0 });
    expect(await sameBytes(path.join(api.root, 'tr', t.name), path.join(t.dataRoot, t.name))).toBe(true);
    const normalized = await client.getTorrent(t.infoHash);
    expect(normalized).toMatchObject({ id: t.infoHash, isCompleted: true, label: 'tv', state: 'seeding' });
  });

  it('adds from a URL and from a magnet; numeric ids stay the same across calls', async () => {
    const byUrl = await testTorrent(api.work, 30_000);
    const web = await localHttp((_req, res) => res.end(Buffer.from(byUrl.torrentBytes)));
    try {
      const r = await client.addUrl(`${web.url}/a.torrent`, { 'download-dir': 'tr', paused: true });
      expect(r.arguments).toHaveProperty('torrent-added');
    } finally {
      await web.close();
    }
    const byMagnet = await testTorrent(api.work, 90_000);
    await startLtSeed(byMagnet.torrentPath, byMagnet.dataRoot, { peers: [`127.0.0.1:${api.session.listenPort}`] });
    const m = await client.addMagnet(`magnet:?xt=urn:btih:${byMagnet.infoHash}`, { 'download-dir': 'tr' });
    const mId = (m.arguments as unknown as { 'torrent-added': { id: number } })['torrent-added'].id;
    await until('magnet done', async () => ((await one(mId)).percentDone === 1 ? true : undefined));
    expect((await one(byUrl.infoHash)).status).toBe(0);
    const all = await client.getAllData();
    expect(all.torrents).toHaveLength(3);
    expect((await one(fileId)).hashString).toBeDefined();
    expect((await one(mId)).name).toBe(byMagnet.name);
  });

  it('stops, starts, verifies, sets labels and limits', async () => {
    await client.pauseTorrent(fileId);
    expect((await one(fileId)).status).toBe(0);
    await client.resumeTorrent(fileId);
    expect((await one(fileId)).status).not.toBe(0);
    await client.setTorrent(fileId, { labels: ['movies', 'hd'], downloadLimit: 100, downloadLimited: true });
    expect((await one(fileId)).labels).toEqual(['hd', 'movies']);
    await client.verifyTorrent(fileId);
    await until('verified', async () => {
      const x = await one(fileId);
      return x.status === 6 && x.percentDone === 1 ? x : undefined;
    });
  });

  it('moves a torrent (torrent-set-location with move): its files go with it', async () => {
    const before = await one(fileId);
    const target = path.join(api.root, 'moved');
    expect((await client.moveTorrent(fileId, target)).result).toBe('success');
    expect(await one(fileId)).toMatchObject({ downloadDir: target, percentDone: 1 });
    await access(path.join(target, before.name));
  });

  it('renames a path (torrent-rename-path): the file follows on disk', async () => {
    const t = await one(fileId);
    const r = await client.renamePath(fileId, { path: t.name, name: 'renamed.bin' });
    expect(r.result).toBe('success');
    await access(path.join(t.downloadDir, 'renamed.bin'));
    expect((await client.renamePath(fileId, { path: 'nope', name: 'x' })).result).toMatch(/not a file or folder/);
  });

  it('removes with local data', async () => {
    const t = await one(fileId);
    const data = path.join(t.downloadDir, 'renamed.bin'); // renamed above
    await access(data);
    const r = await client.removeTorrent(fileId, true);
    expect(r.result).toBe('success');
    await expect(access(data)).rejects.toThrow();
    const left = await client.listTorrents();
    expect((left.arguments.torrents as unknown as TrTorrent[]).map((x) => x.id)).not.toContain(fileId);
  });
});
