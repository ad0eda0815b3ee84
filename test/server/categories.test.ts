// Categories and tags through spritzle's own REST API.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import path from 'node:path';
import { type Api, errorOf, postFile, postJson, startApi, testTorrent } from '../helpers/server.js';

let api: Api;
beforeAll(async () => { api = await startApi(); });
afterAll(async () => { await api.close(); });

describe('categories and tags over REST', () => {
  it('PUT /session/categories/<name> creates a category with a save path inside the download root', async () => {
    const r = await postJson(api, '/session/categories/tv', { save_path: 'shows' }, 'PUT');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ name: 'tv', save_path: path.join(api.root, 'shows') });
    expect(await (await fetch(`${api.url}/session/categories`)).json()).toEqual([{ name: 'tv', save_path: path.join(api.root, 'shows') }]);
  });

  it('a save path outside the download root is a 400', async () => {
    const r = await postJson(api, '/session/categories/bad', { save_path: '/etc' }, 'PUT');
    expect(r.status).toBe(400);
    expect(await errorOf(r)).toMatchObject({ code: 'invalid_path', field: 'save_path' });
  });

  it('a torrent added with args.category goes to the category\'s save path; tags show in its status', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { category: 'tv', tags: ['hd'], paused: true })).status).toBe(201);
    const st = (await (await fetch(`${api.url}/torrent/${t.infoHash}?fields=category,tags,save_path`)).json()) as Record<string, unknown>;
    expect(st).toEqual({ info_hash: t.infoHash, category: 'tv', tags: ['hd'], save_path: path.join(api.root, 'shows') });
    expect(await (await fetch(`${api.url}/session/tags`)).json()).toEqual(['hd']);
    const patched = await postJson(api, `/torrent/${t.infoHash}`, { tags: ['a', 'b'], category: '' }, 'PATCH');
    expect(await patched.json()).toMatchObject({ tags: ['a', 'b'], category: '' });
  });

  it('DELETE removes a category (404 for none)', async () => {
    expect((await fetch(`${api.url}/session/categories/tv`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${api.url}/session/categories/tv`, { method: 'DELETE' })).status).toBe(404);
  });

  it('PUT /session/tags/<name> creates a tag no torrent carries; DELETE takes it off every torrent (404 for none)', async () => {
    const put = await fetch(`${api.url}/session/tags/${encodeURIComponent('4k video')}`, { method: 'PUT' });
    expect(put.status).toBe(200);
    expect(await put.json()).toContain('4k video');
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { tags: ['gone'], paused: true })).status).toBe(201);
    const del = await fetch(`${api.url}/session/tags/gone`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await del.json()).not.toContain('gone');
    expect(((await (await fetch(`${api.url}/torrent/${t.infoHash}?fields=tags`)).json()) as { tags: string[] }).tags).toEqual([]);
    expect((await fetch(`${api.url}/session/tags/gone`, { method: 'DELETE' })).status).toBe(404);
    const bad = await fetch(`${api.url}/session/tags/a%2Cb`, { method: 'PUT' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('name');
  });
});
