// A change made through spritzle's own REST API that the engine announces with no event (a category, tags,
// share limits, a queue move) reaches the compat adapters' next answers, not only after their cache ages.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { type Api, startApi, testTorrent } from '../../helpers/server.js';

let api: Api;
const hashes: string[] = [];
beforeAll(async () => {
  api = await startApi();
  for (let i = 0; i < 2; i++) {
    const t = await testTorrent(api.work, 16384);
    hashes.push((await api.session.addTorrent({ ti: t.torrentBytes, paused: true })).infoHash);
  }
});
afterAll(async () => { await api.close(); });

const maindata = async (rid: number): Promise<{ rid: number; torrents?: Record<string, Record<string, unknown>> }> =>
  (await fetch(`${api.url}/api/v2/sync/maindata?rid=${rid}`)).json() as Promise<{ rid: number; torrents?: Record<string, Record<string, unknown>> }>;
const patch = (hash: string, body: Record<string, unknown>): Promise<Response> =>
  fetch(`${api.url}/torrent/${hash}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('REST changes in the compat adapters', () => {
  it('sync/maindata\'s next delta carries a category, tags and a ratio limit set with PATCH /torrent/<hash>', async () => {
    const { rid } = await maindata(0);
    expect((await patch(hashes[0]!, { category: 'tv', tags: ['hd'], share_limits: { ratio_limit: 2 } })).status).toBe(200);
    const delta = await maindata(rid);
    expect(delta.torrents?.[hashes[0]!]).toMatchObject({ category: 'tv', tags: 'hd', ratio_limit: 2 });
  });

  it('a queue move with PATCH shows in every torrent it moved', async () => {
    // qBittorrent shows queue positions (priority) only while queueing is on.
    const on = await fetch(`${api.url}/session/settings`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ active_downloads: 5 }) });
    expect(on.status).toBe(200);
    const { rid } = await maindata(0);
    const before = api.session.findTorrent(hashes[1]!)!.status().queue_position;
    expect((await patch(hashes[1]!, { queue_position: 0 })).status).toBe(200);
    const delta = await maindata(rid);
    const other = hashes[0]!;
    // The other torrent moved down one place without being named.
    expect(before).toBe(1);
    expect(Object.keys(delta.torrents ?? {}).sort()).toEqual([...hashes].sort());
    expect(api.session.findTorrent(other)!.status().queue_position).toBe(1);
  });

  it('Transmission\'s torrent-get shows the labels set with PATCH', async () => {
    const rpc = `${api.url}/transmission/rpc`;
    const sid = (await fetch(rpc, { method: 'POST', body: '{}' })).headers.get('x-transmission-session-id')!;
    const get = async (): Promise<{ hashString: string; labels: string[] }[]> => ((await (await fetch(rpc, {
      method: 'POST', headers: { 'x-transmission-session-id': sid },
      body: JSON.stringify({ method: 'torrent-get', arguments: { fields: ['hashString', 'labels'] } }),
    })).json()) as { arguments: { torrents: { hashString: string; labels: string[] }[] } }).arguments.torrents;
    await get();
    expect((await patch(hashes[1]!, { tags: ['new'] })).status).toBe(200);
    expect((await get()).find((t) => t.hashString === hashes[1])!.labels).toEqual(['new']);
  });

  it('sync/maindata\'s next delta carries a category, tags and a ratio limit set through the library (torrent_labels_changed)', async () => {
    const { rid } = await maindata(0);
    const events: unknown[] = [];
    api.session.on('torrent_labels_changed', (e) => void events.push(e));
    const h = api.session.findTorrent(hashes[1]!)!;
    h.setCategory('films');
    h.addTags(['uhd']);
    h.setShareLimits({ ratio_limit: 3 });
    expect(events).toEqual([
      { info_hash: hashes[1], changed: 'category' },
      { info_hash: hashes[1], changed: 'tags' },
      { info_hash: hashes[1], changed: 'share_limits' },
    ]);
    const delta = await maindata(rid);
    expect(delta.torrents?.[hashes[1]!]).toMatchObject({ category: 'films', tags: expect.stringContaining('uhd'), ratio_limit: 3 });
  });
});
