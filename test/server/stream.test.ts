// GET/HEAD /torrent/<hash>/files/<index>/stream against a complete file: RFC 9110 range semantics case by
// case, the path alias, the playlists, and the token in the query string.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { parseRange } from '../../packages/server/src/http-range.js';
import { startApi, raw, type Api } from '../helpers/server.js';
import { makeTorrent, dataFiles, type TestTorrent } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/engine.js';

let api: Api;
let t: TestTorrent;
let movie: Buffer;
let page: Buffer;
let base: string;

beforeAll(async () => {
  api = await startApi();
  t = await makeTorrent({
    dir: api.work, name: 'album', pieceLength: 16384, seed: 9,
    files: [{ path: 'clip.mp4', size: 100_000 }, { path: 'notes/page.html', size: 3000 }, { path: 'empty.txt', size: 0 }],
  });
  const h = await api.session.addTorrent({ ti: t.torrentBytes, save_path: api.work });
  await waitFor(() => h.status().is_seeding, 20_000, 'seeding');
  const files = dataFiles(t, api.work);
  movie = await readFile(files[0]!);
  page = await readFile(files[1]!);
  base = `/torrent/${t.infoHash}/files`;
});
afterAll(async () => {
  await api.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => raw(api.port, { path, headers, method });
const etag = (): string => `"${t.infoHash}-0"`;

describe('GET /torrent/<hash>/files/<index>/stream', () => {
  it('without Range: 200, the whole file, its length, Accept-Ranges and an ETag', async () => {
    const r = await get(`${base}/0/stream`);
    expect(r.status).toBe(200);
    expect(Buffer.compare(r.body, movie)).toBe(0);
    expect(r.headers['content-length']).toBe('100000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toBe(etag());
    expect(r.headers['content-type']).toBe('video/mp4');
  });

  it('bytes=first-last: 206 with exactly those bytes and Content-Range', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=16000-40000' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 16000-40000/100000');
    expect(r.headers['content-length']).toBe('24001');
    expect(Buffer.compare(r.body, movie.subarray(16000, 40001))).toBe(0);
  });

  it('bytes=first-: 206 to the end', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=99990-' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 99990-99999/100000');
    expect(Buffer.compare(r.body, movie.subarray(99990))).toBe(0);
  });

  it('bytes=-N: 206 with the last N bytes', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=-5' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 99995-99999/100000');
    expect(Buffer.compare(r.body, movie.subarray(99995))).toBe(0);
  });

  it('a last byte past the end is clipped to the file', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=99000-500000' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 99000-99999/100000');
  });

  it('a suffix longer than the file is the whole file, as a 206', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=-200000' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 0-99999/100000');
    expect(r.body.length).toBe(100000);
  });

  it('a range starting at or past the end: 416 with Content-Range bytes */size', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=100000-' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */100000');
    expect((r.json() as { error: { code: string } }).error.code).toBe('range_not_satisfiable');
  });

  it('bytes=-0 selects nothing: 416', async () => {
    expect((await get(`${base}/0/stream`, { range: 'bytes=-0' })).status).toBe(416);
  });

  it('a malformed Range or another unit is ignored: 200', async () => {
    for (const range of ['bytes=5-2', 'bytes=abc', 'items=0-5', 'bytes=', 'bytes=--5']) {
      const r = await get(`${base}/0/stream`, { range });
      expect({ range, status: r.status }).toEqual({ range, status: 200 });
    }
  });

  it('the unit is case-insensitive', async () => {
    expect((await get(`${base}/0/stream`, { range: 'Bytes=0-0' })).status).toBe(206);
  });

  it('overlapping ranges are merged into one 206; disjoint ones get the whole file', async () => {
    const merged = await get(`${base}/0/stream`, { range: 'bytes=0-99, 50-199' });
    expect(merged.status).toBe(206);
    expect(merged.headers['content-range']).toBe('bytes 0-199/100000');
    expect((await get(`${base}/0/stream`, { range: 'bytes=0-9, 500-599' })).status).toBe(200);
  });

  it('If-Range with the ETag honours the Range; with another tag or a date, the whole file', async () => {
    expect((await get(`${base}/0/stream`, { range: 'bytes=0-9', 'if-range': etag() })).status).toBe(206);
    expect((await get(`${base}/0/stream`, { range: 'bytes=0-9', 'if-range': '"other"' })).status).toBe(200);
    expect((await get(`${base}/0/stream`, { range: 'bytes=0-9', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' })).status).toBe(200);
  });

  it('If-None-Match with the ETag: 304', async () => {
    const r = await get(`${base}/0/stream`, { 'if-none-match': etag() });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
  });

  it('HEAD: the headers of a GET without a body, Range ignored as RFC 9110 says', async () => {
    const r = await get(`${base}/0/stream`, { range: 'bytes=0-9' }, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('100000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.body.length).toBe(0);
  });

  it('an empty file: 200 with no bytes; any range on it is 416', async () => {
    const r = await get(`${base}/2/stream`);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect((await get(`${base}/2/stream`, { range: 'bytes=0-' })).status).toBe(416);
  });

  it('serves HTML as octet-stream, sandboxed: torrent content never runs in the API origin', async () => {
    const r = await get(`${base}/1/stream`);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toContain('sandbox');
    expect(Buffer.compare(r.body, page)).toBe(0);
  });

  it('404 for a file index the torrent does not have; 400 for one that is not a number', async () => {
    expect((await get(`${base}/7/stream`)).status).toBe(404);
    expect((await get(`${base}/x/stream`)).status).toBe(400);
  });
});

describe('GET /torrent/<hash>/stream/<path>', () => {
  it('finds the file by its URL-encoded path', async () => {
    const r = await get(`/torrent/${t.infoHash}/stream/${encodeURIComponent('album/notes/page.html')}`, { range: 'bytes=10-19' });
    expect(r.status).toBe(206);
    expect(Buffer.compare(r.body, page.subarray(10, 20))).toBe(0);
  });

  it('404 for a path that is not one of the files', async () => {
    expect((await get(`/torrent/${t.infoHash}/stream/${encodeURIComponent('album/nope')}`)).status).toBe(404);
  });
});

describe('playlists', () => {
  it("a torrent's playlist lists its media files with stream URLs on the request's host", async () => {
    const r = await get(`/torrent/${t.infoHash}/playlist.m3u8`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(`#EXTM3U\n#EXTINF:-1,album - album/clip.mp4\nhttp://127.0.0.1:${api.port}${base}/0/stream\n`);
  });

  it("the session's playlist holds every torrent's entries", async () => {
    const r = await get('/playlist.m3u8');
    expect(r.text).toContain(`${base}/0/stream`);
  });
});

describe('parseRange', () => {
  it('answers a whole body for no header', () => {
    expect(parseRange(undefined, 10)).toEqual({ status: 200 });
  });
  it('merges touching ranges', () => {
    expect(parseRange('bytes=0-4,5-9', 10)).toEqual({ status: 206, start: 0, end: 9 });
  });
  it('ignores ranges outside the body among satisfiable ones', () => {
    expect(parseRange('bytes=20-30,2-3', 10)).toEqual({ status: 206, start: 2, end: 3 });
  });
});

describe('the token', () => {
  let secured: Api;
  let hash: string;
  beforeAll(async () => {
    secured = await startApi({ token: 's3cret' });
    const tt = await makeTorrent({ dir: secured.work, name: 'one.mp3', files: 20_000, pieceLength: 16384, seed: 4 });
    const h = await secured.session.addTorrent({ ti: tt.torrentBytes, save_path: secured.work });
    await waitFor(() => h.status().is_seeding, 20_000, 'seeding');
    hash = tt.infoHash;
  });
  afterAll(async () => {
    await secured.close();
  });
  const sget = (path: string, headers: Record<string, string> = {}) => raw(secured.port, { path, headers });

  it('is required on the stream route', async () => {
    expect((await sget(`/torrent/${hash}/files/0/stream`)).status).toBe(401);
  });

  it('may come as ?token= on the stream and playlist routes (players send no headers)', async () => {
    expect((await sget(`/torrent/${hash}/files/0/stream?token=s3cret`)).status).toBe(200);
    expect((await sget(`/torrent/${hash}/files/0/stream?token=wrong`)).status).toBe(401);
    const pl = await sget('/playlist.m3u8?token=s3cret');
    expect(pl.status).toBe(200);
    expect(pl.text).toContain(`/torrent/${hash}/files/0/stream?token=s3cret`);
  });

  it('is not accepted as ?token= on other routes', async () => {
    expect((await sget('/torrents?token=s3cret')).status).toBe(401);
    expect((await sget(`/torrent/${hash}?token=s3cret`)).status).toBe(401);
  });

  it('the Host check still applies to the stream route', async () => {
    const r = await raw(secured.port, { path: `/torrent/${hash}/files/0/stream?token=s3cret`, headers: { host: 'evil.example' } });
    expect(r.status).toBe(403);
  });
});
