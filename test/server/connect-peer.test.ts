import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { errorOf, postFile, postJson, startApi, testTorrent, type Api } from '../helpers/server.js';
import { waitFor } from '../helpers/engine.js';

// POST /torrent/<hash>/peers: libtorrent's connect_peer over REST, for a torrent already in the session.

let api: Api;
let seeder: Session;

beforeAll(async () => {
  api = await startApi();
  seeder = await Session.create({ listen_interfaces: '127.0.0.1:0' });
});
afterAll(async () => {
  await seeder.close();
  await api.close();
});

describe('POST /torrent/<hash>/peers', () => {
  it('dials the peer: a torrent added with no peers downloads from it', async () => {
    const t = await testTorrent(api.work, 200_000);
    await seeder.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const res = await postJson(api, `/torrent/${t.infoHash}/peers`, { host: '127.0.0.1', port: seeder.listenPort });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ info_hash: t.infoHash, host: '127.0.0.1', port: seeder.listenPort });
    await waitFor(() => api.session.findTorrent(t.infoHash)!.status().is_seeding, 30_000, 'the download');
  });

  it.each([
    [{ host: 'example.org', port: 6881 }, 'host'],
    [{ host: '127.0.0.1', port: 0 }, 'port'],
    [{ host: '127.0.0.1', port: '6881' }, 'port'],
    [{ host: '127.0.0.1', port: 6881, flags: 1 }, 'flags'],
    [{ port: 6881 }, 'host'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const res = await postJson(api, `/torrent/${t.infoHash}/peers`, body);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field });
  });

  it('answers 404 for a torrent not in the session', async () => {
    const res = await postJson(api, `/torrent/${'7'.repeat(40)}/peers`, { host: '127.0.0.1', port: 6881 });
    expect(res.status).toBe(404);
  });
});
