// Issue 19: the server's `durable` hook. An application that keeps its torrents on disk passes it; the
// answer to an add or a removal waits for it, and its failure is the answer.
import { describe, it, expect, afterEach } from '@jest/globals';
import { SpritzleError } from '@spritzle/engine';
import { startApi, testTorrent, type Api } from '../helpers/server.js';

let api: Api | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

async function post(a: Api, torrent: Uint8Array): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([torrent]), 't.torrent');
  form.append('args', JSON.stringify({ flags: ['paused'] }));
  return fetch(`${a.url}/torrent`, { method: 'POST', body: form });
}

describe('the durable hook', () => {
  it('a 201 comes only after the hook resolved for the added torrent', async () => {
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    api = await startApi({
      durable: async (hash) => {
        events.push(`hook ${hash}`);
        // Let the test see the request is held here, then let it go.
        setImmediate(() => {
          events.push('released');
          release();
        });
        await held;
      },
    });
    const t = await testTorrent(api.work);
    const r = await post(api, t.torrentBytes);
    events.push(`answer ${r.status}`);
    expect(events).toEqual([`hook ${t.infoHash}`, 'released', 'answer 201']);
  });

  it('a hook that fails makes the add answer its error (500 disk_error), not 201', async () => {
    api = await startApi({ durable: () => Promise.reject(new SpritzleError('disk_error', 'cannot save the torrent list: ENOSPC')) });
    const t = await testTorrent(api.work);
    const r = await post(api, t.torrentBytes);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: { code: 'disk_error', message: 'cannot save the torrent list: ENOSPC' } });
  });

  it('removals wait for the hook too, one call per removed torrent', async () => {
    const calls: string[] = [];
    api = await startApi({ durable: async (hash) => { calls.push(hash); } });
    const [a, b, c] = [await testTorrent(api.work), await testTorrent(api.work), await testTorrent(api.work)];
    for (const t of [a, b, c]) expect((await post(api, t.torrentBytes)).status).toBe(201);
    calls.length = 0;
    expect((await fetch(`${api.url}/torrent/${a.infoHash}`, { method: 'DELETE' })).status).toBe(200);
    expect(calls).toEqual([a.infoHash]);
    calls.length = 0;
    expect((await fetch(`${api.url}/torrent`, { method: 'DELETE' })).status).toBe(200);
    expect(calls.sort()).toEqual([b.infoHash, c.infoHash].sort());
  });
});
