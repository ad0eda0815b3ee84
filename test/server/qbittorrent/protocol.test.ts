// qBittorrent Web API v2 at the HTTP level: authentication (SID, Bearer, Basic, loopback bypass), the login
// rate limit, the daemon's Host and Origin rules, methods, plain-text errors, and torrents/info's query.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { makeTorrent } from '../../helpers/fixtures.js';
import { startLocalTracker } from '../../helpers/trackers.js';
import { type Api, postFile, raw, startApi, testTorrent } from '../../helpers/server.js';

const TOKEN = 'qb-protocol-token';
const form = (o: Record<string, string>): { headers: Record<string, string>; body: string } =>
  ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });

describe('with a token', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi({ token: TOKEN }); });
  afterAll(async () => { await api.close(); });

  it('answers 403 "Forbidden" in plain text before login', async () => {
    const r = await raw(api.port, { path: '/api/v2/torrents/info' });
    expect(r.status).toBe(403);
    expect(r.text).toBe('Forbidden');
  });

  it('a login gives an SID cookie that authenticates later calls', async () => {
    const login = await raw(api.port, { method: 'POST', path: '/api/v2/auth/login', ...form({ username: 'u', password: TOKEN }) });
    expect(login.text).toBe('Ok.');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^SID=.+/);
    const r = await raw(api.port, { path: '/api/v2/torrents/info', headers: { cookie } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual([]);
  });

  it('a logged-out SID no longer works', async () => {
    const login = await raw(api.port, { method: 'POST', path: '/api/v2/auth/login', ...form({ username: 'u', password: TOKEN }) });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await raw(api.port, { method: 'POST', path: '/api/v2/auth/logout', headers: { cookie } })).status).toBe(200);
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { cookie } })).status).toBe(403);
  });

  it('accepts Authorization: Bearer <token> and Basic with the token as password', async () => {
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { authorization: `Bearer ${TOKEN}` } })).text).toBe('v4.6.7');
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { authorization: basic } })).status).toBe(200);
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { authorization: 'Bearer nope' } })).status).toBe(403);
  });

  it('a forged SID is refused', async () => {
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { cookie: 'SID=forged' } })).status).toBe(403);
  });

  it('the REST API still wants its Bearer token (the adapter does not open it)', async () => {
    expect((await raw(api.port, { path: '/torrent' })).status).toBe(401);
  });
});

describe('login rate limit', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi({ token: TOKEN }); });
  afterAll(async () => { await api.close(); });

  it('five wrong passwords ban the address: then even the right one gets 403', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await raw(api.port, { method: 'POST', path: '/api/v2/auth/login', ...form({ username: 'u', password: `wrong${i}` }) });
      expect([r.status, r.text]).toEqual([200, 'Fails.']);
    }
    const r = await raw(api.port, { method: 'POST', path: '/api/v2/auth/login', ...form({ username: 'u', password: TOKEN }) });
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/banned/);
  });
});

describe('token guessing by header', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi({ token: TOKEN }); });
  afterAll(async () => { await api.close(); });

  it('five wrong Bearer tokens ban the address like five wrong logins', async () => {
    for (let i = 0; i < 5; i++) expect((await raw(api.port, { path: '/api/v2/app/version', headers: { authorization: `Bearer guess${i}` } })).status).toBe(403);
    const r = await raw(api.port, { path: '/api/v2/app/version', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(403);
    expect(r.text).toMatch(/banned/);
  });
});

describe('without a token', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi(); });
  afterAll(async () => { await api.close(); });

  it('loopback callers need no login (bypass for localhost), and login still hands out an SID', async () => {
    expect((await raw(api.port, { path: '/api/v2/app/webapiVersion' })).text).toBe('2.9.3');
    const login = await raw(api.port, { method: 'POST', path: '/api/v2/auth/login', ...form({ username: 'x', password: 'y' }) });
    expect(login.text).toBe('Ok.');
    expect(String(login.headers['set-cookie'])).toMatch(/^SID=/);
  });

  it('obeys the Host allow-list (DNS rebinding) and the Origin rule for state changes', async () => {
    expect((await raw(api.port, { path: '/api/v2/app/version', headers: { host: 'evil.example' } })).status).toBe(403);
    const r = await raw(api.port, { method: 'POST', path: '/api/v2/torrents/pause', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'hashes=all' });
    expect(r.status).toBe(403);
  });

  it('actions are POST only: GET gets 405', async () => {
    const r = await raw(api.port, { path: '/api/v2/torrents/pause?hashes=all' });
    expect(r.status).toBe(405);
  });

  it('a missing parameter is a plain-text 400, an unknown hash a 404, an unknown call a 404', async () => {
    const bad = await raw(api.port, { path: '/api/v2/torrents/properties' });
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/text\/plain/);
    expect((await raw(api.port, { path: `/api/v2/torrents/properties?hash=${'a'.repeat(40)}` })).status).toBe(404);
    expect((await raw(api.port, { path: '/api/v2/nothing/here' })).status).toBe(404);
  });

  it('a duplicate add answers "Fails."; a category that does not exist is created on add', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { paused: true })).status).toBe(201);
    const fd = new FormData();
    fd.append('torrents', new Blob([t.torrentBytes]), 'x.torrent');
    expect(await (await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd })).text()).toBe('Fails.');
    const t2 = await testTorrent(api.work);
    const fd2 = new FormData();
    fd2.append('torrents', new Blob([t2.torrentBytes]), 'y.torrent');
    fd2.append('category', 'new-cat');
    fd2.append('paused', 'true');
    expect(await (await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd2 })).text()).toBe('Ok.');
    expect(await (await fetch(`${api.url}/api/v2/torrents/categories`)).json()).toEqual({ 'new-cat': { name: 'new-cat', savePath: '' } });
  });

  it('a savepath outside the download root is refused', async () => {
    const t = await testTorrent(api.work);
    const fd = new FormData();
    fd.append('torrents', new Blob([t.torrentBytes]), 'x.torrent');
    fd.append('savepath', '/etc');
    const r = await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/outside the download root/);
  });

  it('torrents/info sorts, reverses, pages and filters; an unknown filter is a 400', async () => {
    const all = (await (await fetch(`${api.url}/api/v2/torrents/info?sort=name`)).json()) as { name: string; state: string }[];
    expect(all.length).toBe(2);
    expect(all.map((t) => t.name)).toEqual([...all.map((t) => t.name)].sort());
    const rev = (await (await fetch(`${api.url}/api/v2/torrents/info?sort=name&reverse=true&limit=1`)).json()) as { name: string }[];
    expect(rev).toEqual([expect.objectContaining({ name: all[1]!.name })]);
    const off = (await (await fetch(`${api.url}/api/v2/torrents/info?sort=name&offset=-1`)).json()) as { name: string }[];
    expect(off.map((t) => t.name)).toEqual([all[1]!.name]);
    expect(await (await fetch(`${api.url}/api/v2/torrents/info?filter=paused`)).json()).toHaveLength(2);
    expect(await (await fetch(`${api.url}/api/v2/torrents/info?filter=downloading`)).json()).toHaveLength(2);
    expect(await (await fetch(`${api.url}/api/v2/torrents/info?filter=completed`)).json()).toHaveLength(0);
    expect((await fetch(`${api.url}/api/v2/torrents/info?filter=bogus`)).status).toBe(400);
  });

  it('firstLastPiecePrio on add and toggleFirstLastPiecePrio set f_l_piece_prio', async () => {
    const t = await testTorrent(api.work);
    const fd = new FormData();
    fd.append('torrents', new Blob([t.torrentBytes]), 'x.torrent');
    fd.append('firstLastPiecePrio', 'true');
    fd.append('paused', 'true');
    expect(await (await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd })).text()).toBe('Ok.');
    const flp = async (): Promise<unknown> => ((await (await fetch(`${api.url}/api/v2/torrents/info?hashes=${t.infoHash}`)).json()) as { f_l_piece_prio: boolean }[])[0]!.f_l_piece_prio;
    expect(await flp()).toBe(true);
    expect((await fetch(`${api.url}/api/v2/torrents/toggleFirstLastPiecePrio`, { method: 'POST', body: new URLSearchParams({ hashes: t.infoHash }) })).status).toBe(200);
    expect(await flp()).toBe(false);
    await fetch(`${api.url}/api/v2/torrents/delete`, { method: 'POST', body: new URLSearchParams({ hashes: t.infoHash, deleteFiles: 'false' }) });
  });

  it('queueing: max_active_downloads holds a torrent back (queuedDL), topPrio and setForceStart let it run', async () => {
    const set = (prefs: unknown): Promise<Response> => fetch(`${api.url}/api/v2/app/setPreferences`, { method: 'POST', body: new URLSearchParams({ json: JSON.stringify(prefs) }) });
    const post = (call: string, form: Record<string, string>): Promise<Response> => fetch(`${api.url}/api/v2/torrents/${call}`, { method: 'POST', body: new URLSearchParams(form) });
    const info = async (hash: string): Promise<Record<string, unknown>> => ((await (await fetch(`${api.url}/api/v2/torrents/info?hashes=${hash}`)).json()) as Record<string, unknown>[])[0]!;
    expect((await set({ queueing_enabled: true, max_active_downloads: 1 })).status).toBe(200);
    expect(api.session.settings()).toMatchObject({ active_downloads: 1, active_seeds: 3, active_limit: 5 });
    expect(await (await fetch(`${api.url}/api/v2/app/preferences`)).json()).toMatchObject({ queueing_enabled: true, max_active_downloads: 1 });
    const hashes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await testTorrent(api.work);
      const fd = new FormData();
      fd.append('torrents', new Blob([t.torrentBytes]), 'q.torrent');
      expect(await (await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd })).text()).toBe('Ok.');
      hashes.push(t.infoHash);
    }
    const [a, b] = hashes as [string, string];
    const waitState = async (hash: string, re: RegExp): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 200; i++) {
        const x = await info(hash);
        if (re.test(String(x.state))) return x;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${hash} never matched ${re}`);
    };
    // The torrents added paused by the tests above are in the queue too (above these two), not auto-managed.
    const queuedB = await waitState(b, /^queuedDL$/);
    expect(queuedB).toMatchObject({ priority: ((await info(a)).priority as number) + 1, force_start: false });
    expect((await post('topPrio', { hashes: b })).status).toBe(200);
    expect((await info(b)).priority).toBe(1);
    expect(await waitState(a, /^queuedDL$/)).toMatchObject({ priority: queuedB.priority });
    expect((await info(b)).state).not.toBe('queuedDL');
    expect((await post('setForceStart', { hashes: a, value: 'true' })).status).toBe(200);
    expect(await waitState(a, /^(stalledDL|downloading|metaDL)$/)).toMatchObject({ force_start: true });
    expect((await set({ queueing_enabled: false })).status).toBe(200);
    expect(api.session.settings()).toMatchObject({ active_downloads: -1, active_seeds: -1, active_limit: -1 });
    expect((await post('topPrio', { hashes: b })).status).toBe(409);
    for (const h of hashes) await post('delete', { hashes: h, deleteFiles: 'true' });
  });

  it('reannounce makes a running torrent announce to its tracker again', async () => {
    const tracker = await startLocalTracker({ intervalMs: 3_600_000 });
    try {
      const t = await makeTorrent({ dir: api.work, name: 'reannounce', files: 30_000, pieceLength: 16384, seed: 901, announce: [tracker.httpUrl] });
      const fd = new FormData();
      fd.append('torrents', new Blob([t.torrentBytes]), 'r.torrent');
      expect(await (await fetch(`${api.url}/api/v2/torrents/add`, { method: 'POST', body: fd })).text()).toBe('Ok.');
      const announces = (): number => tracker.events.filter((e) => e.infoHash === t.infoHash).length;
      for (let i = 0; i < 200 && announces() === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const before = announces();
      expect(before).toBeGreaterThan(0);
      expect((await fetch(`${api.url}/api/v2/torrents/reannounce`, { method: 'POST', body: new URLSearchParams({ hashes: t.infoHash }) })).status).toBe(200);
      for (let i = 0; i < 200 && announces() === before; i++) await new Promise((r) => setTimeout(r, 50));
      expect(announces()).toBeGreaterThan(before);
      await fetch(`${api.url}/api/v2/torrents/delete`, { method: 'POST', body: new URLSearchParams({ hashes: t.infoHash, deleteFiles: 'true' }) });
    } finally {
      await tracker.close();
    }
  });

  it('setPreferences applies the mapped subset and refuses turning on what is missing', async () => {
    const set = (prefs: unknown): Promise<Response> => fetch(`${api.url}/api/v2/app/setPreferences`, { method: 'POST', body: new URLSearchParams({ json: JSON.stringify(prefs) }) });
    expect((await set({ dl_limit: 5000, up_limit: 7000 })).status).toBe(200);
    expect(api.session.settings()).toMatchObject({ download_rate_limit: 5000, upload_rate_limit: 7000 });
    const refused = await set({ max_ratio_enabled: true });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/share limits/);
    expect((await set({ save_path: '/etc' })).status).toBe(400);
  });
});
