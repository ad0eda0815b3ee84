// The whole path through the REST API: POST a .torrent whose only peer is a real libtorrent seed, watch it
// over GET and the SSE stream until it seeds with progress 1.0, then DELETE ?delete_files removes the data.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { sameBytes } from '../helpers/fixtures.js';
import { startLtSeed, type LtSeed } from '../helpers/libtorrent.js';
import { type Api, type SseEvent, postFile, raw, sleep, sseEvents, startApi, testTorrent } from '../helpers/server.js';

let api: Api;
let seed: LtSeed | undefined;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await seed?.stop().catch(() => undefined);
  await api.close();
});

/** Collects SSE events in the background until aborted. */
function listen(url: string): { events: SseEvent[]; stop(): void; ready: Promise<void> } {
  const ctl = new AbortController();
  const events: SseEvent[] = [];
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  void (async () => {
    const res = await fetch(`${url}/events`, { signal: ctl.signal });
    for await (const e of sseEvents(res)) {
      events.push(e);
      markReady();
    }
  })().catch(() => undefined);
  return { events, stop: () => ctl.abort(), ready };
}

describe('full flow against a libtorrent seed', () => {
  it('downloads through the API, is seen seeding over GET and SSE, and DELETE ?delete_files removes the data', async () => {
    const t = await testTorrent(api.work, 3 * 1024 * 1024 + 12345);
    seed = await startLtSeed(t.torrentPath, t.dataRoot);
    const sse = listen(api.url);
    await sse.ready;

    const res = await postFile(api, t.torrentBytes, { save_path: 'flow', peers: [`127.0.0.1:${seed.port}`] });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: t.infoHash });

    let status: { state: string; progress: number; is_seeding: boolean } | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
      status = (await (await fetch(`${api.url}/torrent/${t.infoHash}`)).json()) as typeof status;
      if (status!.state === 'seeding') break;
    }
    expect(status).toMatchObject({ state: 'seeding', progress: 1, is_seeding: true });
    const data = path.join(api.root, 'flow', t.name);
    expect(await sameBytes(data, path.join(t.dataRoot, t.name))).toBe(true);

    // The stream told the same story: added, finished, seeding.
    for (let i = 0; i < 50 && !sse.events.some((e) => e.event === 'state_changed' && e.data.state === 'seeding'); i++) await sleep(50);
    const names = sse.events.filter((e) => e.data.info_hash === t.infoHash).map((e) => e.event);
    expect(names).toContain('torrent_added');
    expect(names).toContain('torrent_finished');
    expect(sse.events).toContainEqual({ event: 'state_changed', data: expect.objectContaining({ info_hash: t.infoHash, state: 'seeding' }) });

    const del = await raw(api.port, { method: 'DELETE', path: `/torrent/${t.infoHash}?delete_files` });
    expect(del.status).toBe(200);
    expect(del.body.length).toBe(0);
    await expect(access(data)).rejects.toThrow();
    expect(await (await fetch(`${api.url}/torrent`)).json()).toEqual([]);
    sse.stop();
  });
});
