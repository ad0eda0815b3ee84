// Share limits and the queue through spritzle's own REST API: PATCH /torrent/<hash> sets them, the status shows them.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { type Api, errorOf, postFile, postJson, startApi, testTorrent } from '../helpers/server.js';

let api: Api;
let hash: string;
beforeAll(async () => {
  api = await startApi();
  const t = await testTorrent(api.work);
  hash = t.infoHash;
  expect((await postFile(api, t.torrentBytes, { paused: true })).status).toBe(201);
});
afterAll(async () => { await api.close(); });

describe('share limits over REST', () => {
  it('a new torrent shows the session\'s limits (-2) and the pause action', async () => {
    const st = (await (await fetch(`${api.url}/torrent/${hash}?fields=share_limits`)).json()) as Record<string, unknown>;
    expect(st).toEqual({ info_hash: hash, share_limits: { ratio_limit: -2, seeding_time_limit: -2, inactive_seeding_time_limit: -2, action: 'pause' } });
  });

  it('PATCH share_limits changes the keys given and keeps the others', async () => {
    const r = await postJson(api, `/torrent/${hash}`, { share_limits: { ratio_limit: 2.5, action: 'remove' } }, 'PATCH');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { share_limits: unknown }).share_limits).toEqual({ ratio_limit: 2.5, seeding_time_limit: -2, inactive_seeding_time_limit: -2, action: 'remove' });
  });

  it('a bad value is a 400 naming it, and nothing in the body changes', async () => {
    const r = await postJson(api, `/torrent/${hash}`, { sequential_download: true, share_limits: { seeding_time_limit: 1.5 } }, 'PATCH');
    expect(r.status).toBe(400);
    expect(await errorOf(r)).toMatchObject({ code: 'invalid_param', field: 'share_limits.seeding_time_limit' });
    const st = (await (await fetch(`${api.url}/torrent/${hash}?fields=sequential_download`)).json()) as Record<string, unknown>;
    expect(st.sequential_download).toBe(false);
    const unknown = await postJson(api, `/torrent/${hash}`, { share_limits: { ratio: 1 } }, 'PATCH');
    expect(unknown.status).toBe(400);
  });
});

describe('queue over REST', () => {
  it('PATCH queue_position moves a torrent in the queue; the status shows queue_position and auto_managed', async () => {
    const t2 = await testTorrent(api.work);
    expect((await postFile(api, t2.torrentBytes, { paused: true })).status).toBe(201);
    const pos = async (h: string): Promise<number> => ((await (await fetch(`${api.url}/torrent/${h}?fields=queue_position`)).json()) as { queue_position: number }).queue_position;
    expect([await pos(hash), await pos(t2.infoHash)]).toEqual([0, 1]);
    const r = await postJson(api, `/torrent/${t2.infoHash}`, { queue_position: 0, auto_managed: true }, 'PATCH');
    expect(await r.json()).toMatchObject({ queue_position: 0, auto_managed: true });
    expect(await pos(hash)).toBe(1);
    expect((await postJson(api, `/torrent/${hash}`, { queue_position: -1 }, 'PATCH')).status).toBe(400);
  });
});
