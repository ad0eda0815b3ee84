// The exact request sequence Sonarr's qBittorrent client (QBittorrentProxySelector + QBittorrentProxyV2) makes
// when it tests the connection, grabs a release and later removes it, replayed against a real daemon
// (`spritzle start --token`), each answer checked field by field against what Sonarr deserializes.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { killAllDaemons, startTokenDaemon, type Daemon } from '../../helpers/daemon.js';
import { killAllLtPeers, startLtSeed } from '../../helpers/libtorrent.js';
import { sleep, testTorrent } from '../../helpers/server.js';

const TOKEN = 'sonarr-replay-token';
let daemon: Daemon;
let downloads: string;
let work: string;
let sid = '';

beforeAll(async () => {
  ({ daemon, downloads, work } = await startTokenDaemon('spritzle-sonarr', TOKEN));
});
afterAll(async () => {
  await killAllLtPeers();
  await daemon.stop();
  await killAllDaemons();
});

/** Sonarr's request: form-encoded POST or GET with query, the SID cookie once it has one. */
async function sonarr(method: 'GET' | 'POST', resource: string, form?: Record<string, string> | FormData): Promise<Response> {
  const headers: Record<string, string> = {};
  if (sid) headers.cookie = `SID=${sid}`;
  let url = `${daemon.url}${resource}`;
  let body: FormData | URLSearchParams | undefined;
  if (method === 'GET' && form && !(form instanceof FormData)) url += `?${new URLSearchParams(form).toString()}`;
  else if (form) body = form instanceof FormData ? form : new URLSearchParams(form);
  return fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
}

const CATEGORY = 'tv-sonarr';

describe("Sonarr's qBittorrent request sequence", () => {
  let hash = '';

  it('probes the API version unauthenticated and reads 403 as "v2, log in first"', async () => {
    const r = await sonarr('GET', '/api/v2/app/webapiVersion');
    expect(r.status).toBe(403);
    expect(await r.text()).toBe('Forbidden');
  });

  it('logs in (form username/password) and gets "Ok." with an SID cookie', async () => {
    const r = await sonarr('POST', '/api/v2/auth/login', { username: 'sonarr', password: TOKEN });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Ok.');
    const m = /(?:^|;\s*)SID=([^;]+)/.exec(r.headers.get('set-cookie') ?? '');
    expect(m).not.toBeNull();
    sid = m![1]!;
  });

  it('reads the API version and the app version as plain text', async () => {
    const api = await sonarr('GET', '/api/v2/app/webapiVersion');
    expect(api.status).toBe(200);
    expect(await api.text()).toMatch(/^2\.9\.\d+$/);
    expect(await (await sonarr('GET', '/api/v2/app/version')).text()).toMatch(/^v4\.6\.\d+$/);
  });

  it('reads the preferences Sonarr checks (share-limit and queueing switches)', async () => {
    const r = await sonarr('GET', '/api/v2/app/preferences');
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    const p = (await r.json()) as Record<string, unknown>;
    expect(typeof p.save_path).toBe('string');
    expect(p).toMatchObject({
      max_ratio_enabled: false, max_ratio: -1, max_seeding_time_enabled: false, max_seeding_time: -1,
      max_inactive_seeding_time_enabled: false, max_inactive_seeding_time: -1, max_ratio_act: 0, queueing_enabled: false, dht: false,
    });
  });

  it('reads the categories and creates its own', async () => {
    expect(await (await sonarr('GET', '/api/v2/torrents/categories')).json()).toEqual({});
    const c = await sonarr('POST', '/api/v2/torrents/createCategory', { category: CATEGORY, savePath: '' });
    expect(c.status).toBe(200);
    expect(await (await sonarr('GET', '/api/v2/torrents/categories')).json()).toEqual({ [CATEGORY]: { name: CATEGORY, savePath: '' } });
  });

  it('adds a .torrent as multipart "torrents" with its category and gets "Ok."', async () => {
    const t = await testTorrent(work, 300_000, 'Show.S01E01.mkv');
    hash = t.infoHash;
    const port = Number(/peers on 127\.0\.0\.1:(\d+)/.exec(daemon.stdout())![1]);
    await startLtSeed(t.torrentPath, t.dataRoot, { peers: [`127.0.0.1:${port}`] });
    const form = new FormData();
    form.append('torrents', new Blob([t.torrentBytes], { type: 'application/x-bittorrent' }), 'Show.S01E01.torrent');
    form.append('category', CATEGORY);
    const r = await sonarr('POST', '/api/v2/torrents/add', form);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Ok.');
  });

  it('lists torrents by category with every field Sonarr deserializes, typed as it expects', async () => {
    let list: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && list.length === 0; i++, await sleep(50)) {
      list = (await (await sonarr('GET', '/api/v2/torrents/info', { category: CATEGORY })).json()) as Record<string, unknown>[];
    }
    expect(list).toHaveLength(1);
    const t = list[0]!;
    expect(t).toMatchObject({ hash, name: 'Show.S01E01.mkv', size: 300_000, category: CATEGORY, save_path: downloads, content_path: path.join(downloads, 'Show.S01E01.mkv') });
    for (const k of ['progress', 'eta', 'ratio', 'ratio_limit', 'seeding_time', 'seeding_time_limit', 'inactive_seeding_time_limit', 'last_activity', 'added_on', 'completion_on', 'dlspeed', 'upspeed', 'num_seeds', 'num_leechs', 'priority', 'amount_left', 'downloaded', 'uploaded']) {
      expect([k, typeof t[k]]).toEqual([k, 'number']);
    }
    expect(['downloading', 'stalledDL', 'metaDL', 'checkingDL', 'uploading', 'stalledUP', 'checkingResumeData']).toContain(t.state);
    expect(t.ratio_limit).toBe(-2);
    expect(t.seeding_time_limit).toBe(-2);
    expect(t.inactive_seeding_time_limit).toBe(-2);
    expect(await (await sonarr('GET', '/api/v2/torrents/info', { category: 'other' })).json()).toEqual([]);
  });

  it('reads the properties and the files', async () => {
    const p = (await (await sonarr('GET', '/api/v2/torrents/properties', { hash })).json()) as Record<string, unknown>;
    expect(p).toMatchObject({ save_path: downloads, piece_size: 16384, total_size: 300_000 });
    expect(typeof p.seeding_time).toBe('number');
    const files = (await (await sonarr('GET', '/api/v2/torrents/files', { hash })).json()) as Record<string, unknown>[];
    expect(files).toEqual([expect.objectContaining({ name: 'Show.S01E01.mkv', size: 300_000 })]);
    expect((await sonarr('GET', '/api/v2/torrents/properties', { hash: '0'.repeat(40) })).status).toBe(404);
  });

  it('setShareLimits sets the torrent\'s limits, read back as Sonarr reads them', async () => {
    const r = await sonarr('POST', '/api/v2/torrents/setShareLimits', { hashes: hash, ratioLimit: '2', seedingTimeLimit: '1440', inactiveSeedingTimeLimit: '-2' });
    expect(r.status).toBe(200);
    const [t] = (await (await sonarr('GET', '/api/v2/torrents/info', { hashes: hash })).json()) as Record<string, unknown>[];
    expect(t).toMatchObject({ ratio_limit: 2, seeding_time_limit: 1440, inactive_seeding_time_limit: -2, max_ratio: 2, max_seeding_time: 1440 });
  });

  it('topPrio answers 409, which Sonarr tolerates as "queueing is off"', async () => {
    const r = await sonarr('POST', '/api/v2/torrents/topPrio', { hashes: hash });
    expect(r.status).toBe(409);
  });

  it('deletes with its files', async () => {
    // The data is there (downloaded from the seed) before the delete takes it away.
    for (let i = 0; i < 600; i++, await sleep(100)) {
      const [t] = (await (await sonarr('GET', '/api/v2/torrents/info', { hashes: hash })).json()) as { progress: number }[];
      if (t!.progress === 1) break;
    }
    await access(path.join(downloads, 'Show.S01E01.mkv'));
    const r = await sonarr('POST', '/api/v2/torrents/delete', { hashes: hash, deleteFiles: 'true' });
    expect(r.status).toBe(200);
    expect(await (await sonarr('GET', '/api/v2/torrents/info', { category: CATEGORY })).json()).toEqual([]);
    await expect(access(path.join(downloads, 'Show.S01E01.mkv'))).rejects.toThrow();
  });
});
