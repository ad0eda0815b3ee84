// GET/POST /torrent/<hash>/web_seeds and url_seeds in the add args.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startApi, postFile, postJson, errorOf, testTorrent, type Api } from '../helpers/server.js';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

describe('web seeds over REST', () => {
  it('url_seeds in the add args are listed with their state', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes, { url_seeds: ['http://127.0.0.1:9/seed/'], paused: true });
    expect(res.status).toBe(201);
    const list = await (await fetch(`${api.url}/torrent/${t.infoHash}/web_seeds`)).json();
    expect(list).toEqual([{ url: 'http://127.0.0.1:9/seed/', type: 'url', state: 'idle', error: '', failures: 0, total_download: 0, download_rate: 0, retry_at: 0 }]);
  });

  it('says which entries are BEP 19 url seeds and which BEP 17 http seeds (libtorrent\'s web_seed_entry type)', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes, { url_seeds: ['http://127.0.0.1:9/files/'], http_seeds: ['http://127.0.0.1:9/seed.php'], paused: true });
    expect(res.status).toBe(201);
    const list = (await (await fetch(`${api.url}/torrent/${t.infoHash}/web_seeds`)).json()) as { url: string; type: string }[];
    expect(list.map(({ url, type }) => ({ url, type }))).toEqual([
      { url: 'http://127.0.0.1:9/files/', type: 'url' },
      { url: 'http://127.0.0.1:9/seed.php', type: 'http' },
    ]);
  });

  it('types the web seeds of a torrent added by info-hash, before its metadata comes (library)', async () => {
    const hash = 'ab'.repeat(20);
    const h = await api.session.addTorrent({ info_hash: hash, url_seeds: ['http://127.0.0.1:9/f/'], http_seeds: ['http://127.0.0.1:9/s'], paused: true });
    expect(h.webSeeds().map(({ url, type }) => ({ url, type }))).toEqual([
      { url: 'http://127.0.0.1:9/f/', type: 'url' },
      { url: 'http://127.0.0.1:9/s', type: 'http' },
    ]);
  });

  it('POST adds one (201 with the list); a URL that is not http(s) is a 400 naming url', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { paused: true })).status).toBe(201);
    const ok = await postJson(api, `/torrent/${t.infoHash}/web_seeds`, { url: 'https://127.0.0.1:9/x.bin' });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { url: string }[]).map((w) => w.url)).toEqual(['https://127.0.0.1:9/x.bin']);
    const bad = await postJson(api, `/torrent/${t.infoHash}/web_seeds`, { url: 'ftp://127.0.0.1/x' });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toMatchObject({ code: 'invalid_param', field: 'url' });
  });

  it('a url_seeds entry that is not a URL refuses the add, naming it', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes, { url_seeds: ['nope'] });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ field: 'args.url_seeds[0]' });
  });
});
