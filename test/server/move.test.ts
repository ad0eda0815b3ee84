// POST /torrent/<hash>/move and /rename: libtorrent's move_storage and rename_file through spritzle's own REST API.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access, cp } from 'node:fs/promises';
import path from 'node:path';
import { type Api, errorOf, postFile, postJson, startApi, testTorrent } from '../helpers/server.js';

let api: Api;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api.close(); });

describe('POST /torrent/<hash>/move', () => {
  it('moves the files inside the download root and answers the status at the new save path', async () => {
    const t = await testTorrent(api.work);
    await cp(path.join(t.dataRoot, t.name), path.join(api.root, 'a', t.name), { recursive: true });
    expect((await postFile(api, t.torrentBytes, { save_path: 'a' })).status).toBe(201);
    const r = await postJson(api, `/torrent/${t.infoHash}/move`, { save_path: 'b' });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ save_path: path.join(api.root, 'b'), moving_storage: false });
    await access(path.join(api.root, 'b', t.name));
    await expect(access(path.join(api.root, 'a', t.name))).rejects.toThrow();
  });

  it('a save path outside the download root is a 400 and nothing moves', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { paused: true })).status).toBe(201);
    const r = await postJson(api, `/torrent/${t.infoHash}/move`, { save_path: '/etc' });
    expect(r.status).toBe(400);
    expect(await errorOf(r)).toMatchObject({ code: 'invalid_path', field: 'save_path' });
  });
});

describe('POST /torrent/<hash>/rename', () => {
  it('renames a file on disk and answers the file list; a name that leaves the save path is a 400', async () => {
    const t = await testTorrent(api.work);
    await cp(path.join(t.dataRoot, t.name), path.join(api.root, 'r', t.name), { recursive: true });
    expect((await postFile(api, t.torrentBytes, { save_path: 'r' })).status).toBe(201);
    const r = await postJson(api, `/torrent/${t.infoHash}/rename`, { index: 0, name: 'sub/new.bin' });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { path: string }[]).map((f) => f.path)).toEqual([path.join('sub', 'new.bin')]);
    await access(path.join(api.root, 'r', 'sub', 'new.bin'));
    expect((await postJson(api, `/torrent/${t.infoHash}/rename`, { index: 0, name: '../../x' })).status).toBe(400);
  });
});
