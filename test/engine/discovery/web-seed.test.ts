// BEP 19's URL rules and the Range GET, without a torrent.
import { describe, it, expect, afterAll } from '@jest/globals';
import bencode from 'bencode';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSeedHttpError, fetchRange, httpSeedRequests, rangeRequests, webSeedAgents, webSeedFileUrl } from '../../../packages/engine/src/discovery/web-seed.js';
import { parseTorrentFile } from '../../../packages/engine/src/metainfo/metainfo.js';
import { startWebSeedServer, type WebSeedServer } from '../../helpers/web-seed-server.js';
import { testData } from '../../helpers/memory-torrent.js';

const single = [{ path: 'movie.mkv', length: 1000, pad: false }];
const multi = [
  { path: 'album/01 intro.flac', length: 100, pad: false },
  { path: 'album/.pad/0', length: 28, pad: true },
  { path: 'album/sub/02#x.flac', length: 200, pad: false },
];

describe('BEP 19 URL rules', () => {
  it('a single-file torrent\'s URL is the file itself', () => {
    expect(webSeedFileUrl('http://h/files/movie.mkv', single[0]!, false)).toBe('http://h/files/movie.mkv');
  });

  it('a single-file URL ending in / gets the file name', () => {
    expect(webSeedFileUrl('http://h/files/', single[0]!, false)).toBe('http://h/files/movie.mkv');
  });

  it('a multi-file URL is a folder holding the torrent\'s name folder, each path segment encoded', () => {
    expect(webSeedFileUrl('http://h/pub', multi[2]!, true)).toBe('http://h/pub/album/sub/02%23x.flac');
    expect(webSeedFileUrl('http://h/pub/', multi[0]!, true)).toBe('http://h/pub/album/01%20intro.flac');
  });

  it('a run across files becomes one request per file, pad files not fetched', () => {
    expect(rangeRequests('http://h/', multi, 90, 60)).toEqual([
      { url: 'http://h/album/01%20intro.flac', start: 90, length: 10, into: 0 },
      { url: 'http://h/album/sub/02%23x.flac', start: 0, length: 22, into: 38 },
    ]);
  });

  it('a run inside one file of a single-file torrent is one request', () => {
    expect(rangeRequests('http://h/m.mkv', single, 100, 50)).toEqual([{ url: 'http://h/m.mkv', start: 100, length: 50, into: 0 }]);
  });

  it('the .torrent\'s url-list is read (one URL or a list; http(s) only)', () => {
    const info = { name: Buffer.from('a.bin'), length: 10, 'piece length': 16384, pieces: Buffer.alloc(20) };
    const one = parseTorrentFile(bencode.encode({ info, 'url-list': 'http://h/a.bin' }));
    expect(one.urlList).toEqual(['http://h/a.bin']);
    const list = parseTorrentFile(bencode.encode({ info, 'url-list': ['https://h/a.bin', 'ftp://h/a.bin', 'http://g/'] }));
    expect(list.urlList).toEqual(['https://h/a.bin', 'http://g/']);
    expect(parseTorrentFile(bencode.encode({ info })).urlList).toBeUndefined();
  });
});

describe('BEP 17 requests', () => {
  const hash = Uint8Array.from([0x9c, 0xd9, 0x69, 0x8a, 0xf5, 0x55, 0x75, 0x1a, 0x91, 0x86, 0xae, 0x06, 0x6c, 0x57, 0xea, 0x21, 0x57, 0x23, 0x35, 0xe0]);
  const q = 'info_hash=%9C%D9i%8A%F5Uu%1A%91%86%AE%06lW%EA%21W%235%E0';

  it('a whole piece is asked for by its index alone, the info-hash escaped byte by byte', () => {
    expect(httpSeedRequests('http://h/seed.php', hash, 262144, 1 << 20, 3 * 262144, 262144)).toEqual([
      { url: `http://h/seed.php?${q}&piece=3`, start: 0, length: 262144, into: 0 },
    ]);
  });

  it('part of a piece carries its inclusive range within the piece; a run across pieces is one request per piece', () => {
    expect(httpSeedRequests('http://h/s?k=1', hash, 262144, 1 << 20, 8 * 16384 + 262144, 262144)).toEqual([
      { url: `http://h/s?k=1&${q}&piece=1&ranges=131072-262143`, start: 131072, length: 131072, into: 0 },
      { url: `http://h/s?k=1&${q}&piece=2&ranges=0-131071`, start: 0, length: 131072, into: 131072 },
    ]);
  });

  it('the last piece, shorter, is whole when asked for to its end', () => {
    expect(httpSeedRequests('http://h/s', hash, 262144, 262144 + 1000, 262144, 1000)[0]!.url).toBe(`http://h/s?${q}&piece=1`);
  });

  it('the .torrent\'s httpseeds list is read (http(s) only)', () => {
    const info = { name: Buffer.from('a.bin'), length: 10, 'piece length': 16384, pieces: Buffer.alloc(20) };
    const t = parseTorrentFile(bencode.encode({ info, httpseeds: ['http://h/seed.php', 'ftp://h/x'] }));
    expect(t.httpSeeds).toEqual(['http://h/seed.php']);
  });
});

describe('fetchRange', () => {
  const data = testData(100_000, 3);
  let server: WebSeedServer;
  afterAll(async () => server?.close());
  const opts = { maxRedirects: 2, timeoutMs: 5000 };

  it('fetches exactly the range asked for', async () => {
    server = await startWebSeedServer(new Map([['/f.bin', data], ['/g.bin', data]]));
    const into = new Uint8Array(1000);
    await fetchRange(`${server.url}/f.bin`, 5000, 900, into, 100, opts);
    expect(Buffer.compare(Buffer.from(into.subarray(100)), Buffer.from(data.subarray(5000, 5900)))).toBe(0);
    expect(server.log.at(-1)).toEqual({ path: '/f.bin', range: 'bytes=5000-5899', status: 206 });
  });

  it('fails on an error status with the status in the message', async () => {
    await expect(fetchRange(`${server.url}/none.bin`, 0, 10, new Uint8Array(10), 0, opts)).rejects.toThrow('HTTP 404');
  });

  it('follows redirects up to the limit, then fails', async () => {
    server.redirect('/r1', '/f.bin');
    const into = new Uint8Array(10);
    await fetchRange(`${server.url}/r1`, 0, 10, into, 0, opts);
    expect(Buffer.compare(Buffer.from(into), Buffer.from(data.subarray(0, 10)))).toBe(0);
    server.redirect('/loop', '/loop');
    await expect(fetchRange(`${server.url}/loop`, 0, 10, new Uint8Array(10), 0, opts)).rejects.toThrow('more than 2 redirects');
  });

  it('reuses one kept-alive connection for requests one after another', async () => {
    const agents = webSeedAgents(4);
    const before = server.connections;
    const into = new Uint8Array(3000);
    for (let i = 0; i < 3; i++) await fetchRange(`${server.url}/f.bin`, i * 1000, 1000, into, i * 1000, { ...opts, agents });
    expect(Buffer.compare(Buffer.from(into), Buffer.from(data.subarray(0, 3000)))).toBe(0);
    expect(server.connections - before).toBe(1);
    agents.http.destroy();
  });

  it('reports the bytes received as the body arrives', async () => {
    const seen: number[] = [];
    await fetchRange(`${server.url}/f.bin`, 0, 50_000, new Uint8Array(50_000), 0, { ...opts, progress: (n) => void seen.push(n) });
    expect(seen.at(-1)).toBe(50_000);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
  });

  it('takes a BEP 17 answer (a 200 with exactly the bytes, no Range asked)', async () => {
    const into = new Uint8Array(500);
    const srv = http.createServer((req, res) => {
      res.setHeader('x-range', String(req.headers.range));
      res.end(Buffer.from(data.subarray(0, 500)));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/seed?piece=0`;
    await fetchRange(url, 0, 500, into, 0, { ...opts, httpSeed: true });
    expect(Buffer.compare(Buffer.from(into), Buffer.from(data.subarray(0, 500)))).toBe(0);
    srv.close();
  });

  it('reads a busy BEP 17 seed\'s 503 as the seconds to wait', async () => {
    const srv = http.createServer((_req, res) => {
      res.statusCode = 503;
      res.end('7');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/seed?piece=0`;
    const err = await fetchRange(url, 0, 10, new Uint8Array(10), 0, { ...opts, httpSeed: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebSeedHttpError);
    expect(err).toMatchObject({ status: 503, retryAfter: 7, message: 'busy (HTTP 503): retry after 7 s' });
    srv.close();
  });

  it('fails when the body is not complete in time', async () => {
    server.slow(200);
    await expect(fetchRange(`${server.url}/g.bin`, 0, 60_000, new Uint8Array(60_000), 0, { maxRedirects: 0, timeoutMs: 300 })).rejects.toThrow('no complete answer');
    server.slow(0);
  });
});
