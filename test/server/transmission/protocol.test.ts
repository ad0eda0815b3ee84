// Transmission's RPC at the HTTP level: basic auth with the token, the session-id handshake (CSRF), the
// daemon's Host and Origin rules, result strings for what fails, stable ids, both framings, table format.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { type Api, raw, startApi, testTorrent } from '../../helpers/server.js';

const TOKEN = 'tr-protocol-token';
const PATH = '/transmission/rpc';
const basic = (pw: string): string => `Basic ${Buffer.from(`u:${pw}`).toString('base64')}`;

async function sessionId(port: number, headers: Record<string, string> = {}): Promise<string> {
  const r = await raw(port, { method: 'POST', path: PATH, headers, body: '{"method":"session-get"}' });
  expect(r.status).toBe(409);
  return String(r.headers['x-transmission-session-id']);
}

describe('with a token', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi({ token: TOKEN }); });
  afterAll(async () => { await api.close(); });

  it('401 with a Basic challenge without credentials or with a wrong password', async () => {
    const r = await raw(api.port, { method: 'POST', path: PATH, body: '{}' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Basic/);
    expect((await raw(api.port, { method: 'POST', path: PATH, headers: { authorization: basic('nope') }, body: '{}' })).status).toBe(401);
  });

  it('the right password reaches the handshake: 409 with the session id, then the call goes through', async () => {
    const id = await sessionId(api.port, { authorization: basic(TOKEN) });
    expect(id.length).toBeGreaterThan(20);
    const r = await raw(api.port, { method: 'POST', path: PATH, headers: { authorization: basic(TOKEN), 'x-transmission-session-id': id }, body: '{"method":"session-get","tag":7}' });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ result: 'success', tag: 7, arguments: { 'rpc-version': 17 } });
  });

  it('a wrong session id is a 409 again (a cross-site page cannot know it)', async () => {
    const r = await raw(api.port, { method: 'POST', path: PATH, headers: { authorization: basic(TOKEN), 'x-transmission-session-id': 'guess' }, body: '{"method":"session-get"}' });
    expect(r.status).toBe(409);
  });
});

describe('login rate limit', () => {
  let api: Api;
  beforeAll(async () => { api = await startApi({ token: TOKEN }); });
  afterAll(async () => { await api.close(); });

  it('after five wrong passwords the address gets 403, even with the right one', async () => {
    for (let i = 0; i < 5; i++) expect((await raw(api.port, { method: 'POST', path: PATH, headers: { authorization: basic(`w${i}`) }, body: '{}' })).status).toBe(401);
    expect((await raw(api.port, { method: 'POST', path: PATH, headers: { authorization: basic(TOKEN) }, body: '{}' })).status).toBe(403);
  });
});

describe('without a token (loopback)', () => {
  let api: Api;
  let id = '';
  const rpc = async (body: unknown): Promise<Record<string, unknown>> => {
    const r = await raw(api.port, { method: 'POST', path: PATH, headers: { 'x-transmission-session-id': id }, body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    return r.json() as Record<string, unknown>;
  };
  beforeAll(async () => {
    api = await startApi();
    id = await sessionId(api.port);
  });
  afterAll(async () => { await api.close(); });

  it('obeys the Host allow-list and the Origin rule', async () => {
    expect((await raw(api.port, { method: 'POST', path: PATH, headers: { host: 'evil.example', 'x-transmission-session-id': id }, body: '{}' })).status).toBe(403);
    expect((await raw(api.port, { method: 'POST', path: PATH, headers: { origin: 'http://evil.example', 'x-transmission-session-id': id }, body: '{}' })).status).toBe(403);
  });

  it('an unknown method gets a result string, as do "constructor" and a body without a method', async () => {
    expect(await rpc({ method: 'no-such-method' })).toMatchObject({ result: 'method name not recognized' });
    expect(await rpc({ method: 'constructor' })).toMatchObject({ result: 'method name not recognized' });
    expect(await rpc({})).toMatchObject({ result: 'method name not recognized' });
  });

  it('ids are given in order of arrival, never reused, and accepted as numbers or hashes', async () => {
    const add = async (): Promise<{ id: number; hashString: string }> => {
      const t = await testTorrent(api.work);
      const r = await rpc({ method: 'torrent-add', arguments: { metainfo: Buffer.from(t.torrentBytes).toString('base64'), paused: true } });
      return (r.arguments as Record<string, { id: number; hashString: string }>)['torrent-added']!;
    };
    const a = await add();
    const b = await add();
    expect(b.id).toBe(a.id + 1);
    await rpc({ method: 'torrent-remove', arguments: { ids: [a.id] } });
    const c = await add();
    expect(c.id).toBe(b.id + 1);
    const byHash = await rpc({ method: 'torrent-get', arguments: { ids: [c.hashString], fields: ['id'] } });
    expect(byHash.arguments).toEqual({ torrents: [{ id: c.id }] });
    const recent = await rpc({ method: 'torrent-get', arguments: { ids: 'recently-active', fields: ['id'] } });
    expect((recent.arguments as { removed: number[] }).removed).toEqual([a.id]);
  });

  it('a duplicate add answers torrent-duplicate with the existing id', async () => {
    const t = await testTorrent(api.work);
    const metainfo = Buffer.from(t.torrentBytes).toString('base64');
    const first = await rpc({ method: 'torrent-add', arguments: { metainfo, paused: true } });
    const again = await rpc({ method: 'torrent-add', arguments: { metainfo, paused: true } });
    expect(again).toMatchObject({ result: 'success', arguments: { 'torrent-duplicate': (first.arguments as Record<string, unknown>)['torrent-added'] } });
  });

  it('format "table" answers the field names, then one row per torrent', async () => {
    const r = await rpc({ method: 'torrent-get', arguments: { fields: ['id', 'status', 'percentDone'], format: 'table' } });
    const table = (r.arguments as { torrents: unknown[][] }).torrents;
    expect(table[0]).toEqual(['id', 'status', 'percentDone']);
    expect(table.slice(1).every((row) => row.length === 3 && row[1] === 0)).toBe(true);
  });

  it("accepts 4.1's JSON-RPC 2.0 framing with snake_case names", async () => {
    const r = await rpc({ jsonrpc: '2.0', method: 'torrent_get', params: { fields: ['id', 'hash_string'] }, id: 5 });
    expect(r).toMatchObject({ jsonrpc: '2.0', id: 5 });
    const rows = (r.result as { torrents: Record<string, unknown>[] }).torrents;
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'hash_string']);
    expect(await rpc({ jsonrpc: '2.0', method: 'nope', id: 6 })).toMatchObject({ error: { code: -32601 }, id: 6 });
  });

  it('a download-dir outside the download root is refused; free-space stays inside it', async () => {
    const t = await testTorrent(api.work);
    const r = await rpc({ method: 'torrent-add', arguments: { metainfo: Buffer.from(t.torrentBytes).toString('base64'), 'download-dir': '/etc' } });
    expect(r.result).toMatch(/outside the download root/);
    expect((await rpc({ method: 'free-space', arguments: { path: '/' } })).result).toMatch(/outside the download root/);
    const inside = await rpc({ method: 'free-space', arguments: { path: api.root } });
    expect(inside).toMatchObject({ result: 'success', arguments: { path: api.root } });
    expect((inside.arguments as { 'size-bytes': number })['size-bytes']).toBeGreaterThan(0);
  });

  it('seedRatioMode/seedRatioLimit and seedIdleMode/seedIdleLimit set the torrent\'s share limits', async () => {
    const t = await testTorrent(api.work);
    const added = await rpc({ method: 'torrent-add', arguments: { metainfo: Buffer.from(t.torrentBytes).toString('base64'), paused: true } });
    const id = ((added.arguments as Record<string, { id: number }>)['torrent-added']!).id;
    const fields = ['seedRatioMode', 'seedRatioLimit', 'seedIdleMode', 'seedIdleLimit'];
    const get = async (): Promise<unknown> => ((await rpc({ method: 'torrent-get', arguments: { ids: [id], fields } })).arguments as { torrents: unknown[] }).torrents[0];
    expect(await get()).toEqual({ seedRatioMode: 0, seedRatioLimit: 0, seedIdleMode: 0, seedIdleLimit: 0 });
    expect((await rpc({ method: 'torrent-set', arguments: { ids: [id], seedRatioMode: 1, seedRatioLimit: 1.5, seedIdleMode: 1, seedIdleLimit: 30 } })).result).toBe('success');
    expect(await get()).toEqual({ seedRatioMode: 1, seedRatioLimit: 1.5, seedIdleMode: 1, seedIdleLimit: 30 });
    expect(api.session.findTorrent(t.infoHash)!.shareLimits()).toMatchObject({ ratio_limit: 1.5, inactive_seeding_time_limit: 1800, action: 'pause' });
    await rpc({ method: 'torrent-set', arguments: { ids: [id], seedRatioMode: 2 } });
    expect(await get()).toMatchObject({ seedRatioMode: 2 });
    expect((await rpc({ method: 'torrent-set', arguments: { ids: [id], seedRatioMode: 7 } })).result).toMatch(/0, 1 or 2/);
  });

  it('the download queue: a held-back torrent is download-wait (3); queue-move-top and torrent-start-now let it run', async () => {
    expect((await rpc({ method: 'session-set', arguments: { 'download-queue-enabled': true, 'download-queue-size': 1 } })).result).toBe('success');
    expect(api.session.settings().active_downloads).toBe(1);
    const ids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await testTorrent(api.work);
      const r = await rpc({ method: 'torrent-add', arguments: { metainfo: Buffer.from(t.torrentBytes).toString('base64') } });
      ids.push(((r.arguments as Record<string, { id: number }>)['torrent-added']!).id);
    }
    const [a, b] = ids as [number, number];
    const status = async (id: number): Promise<number> => ((await rpc({ method: 'torrent-get', arguments: { ids: [id], fields: ['status'] } })).arguments as { torrents: { status: number }[] }).torrents[0]!.status;
    const until = async (id: number, want: number): Promise<void> => {
      for (let i = 0; i < 200 && (await status(id)) !== want; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await status(id)).toBe(want);
    };
    await until(b, 3);
    expect((await rpc({ method: 'queue-move-top', arguments: { ids: [b] } })).result).toBe('success');
    await until(a, 3);
    expect(await status(b)).toBe(4);
    expect((await rpc({ method: 'torrent-start-now', arguments: { ids: [a] } })).result).toBe('success');
    await until(a, 4);
    await rpc({ method: 'session-set', arguments: { 'download-queue-enabled': false } });
    expect(api.session.settings().active_downloads).toBe(-1);
    await rpc({ method: 'torrent-remove', arguments: { ids } });
  });

  it('port-test answers honestly that it cannot test', async () => {
    expect((await rpc({ method: 'port-test' })).result).toMatch(/outside service/);
  });
});
