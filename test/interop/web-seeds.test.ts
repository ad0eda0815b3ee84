// Web seeds (BEP 19) with a whole session: a Range-capable HTTP server written for the tests serves the data.
import { describe, it, expect, afterEach } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles, type TestTorrent } from '../helpers/fixtures.js';
import { finished, sessionsForThisFile, waitFor } from '../helpers/engine.js';
import { startWebSeedServer, type WebSeedServer } from '../helpers/web-seed-server.js';
import { startLtSeed, requireLibtorrent } from '../helpers/libtorrent.js';

const newSession = sessionsForThisFile();
const servers: WebSeedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The torrent's files served under /seed/ (multi-file: /seed/<name>/<path>; single: /seed/<name>). */
async function serve(t: TestTorrent, root: string): Promise<WebSeedServer> {
  const files = new Map<string, Uint8Array>();
  const paths = dataFiles(t, root);
  const rel = t.singleFile ? [t.name] : t.files.map((f) => `${t.name}/${f.path}`);
  for (let i = 0; i < paths.length; i++) files.set(`/seed/${rel[i]}`, await readFile(paths[i]!));
  const s = await startWebSeedServer(files);
  servers.push(s);
  return s;
}

async function expectSame(t: TestTorrent, from: string, to: string): Promise<void> {
  const a = dataFiles(t, from);
  const b = dataFiles(t, to);
  for (let i = 0; i < a.length; i++) expect(await sameBytes(a[i]!, b[i]!)).toBe(true);
}

describe('web seeds (BEP 19)', () => {
  it('a single-file torrent downloads from a web seed alone, counted in the stats and listed with its totals', async () => {
    const t = await makeTorrent({ dir: await tmpDir('ws-src'), name: 'one.bin', files: 1_500_000, pieceLength: 65536, seed: 31 });
    const server = await serve(t, t.dataRoot);
    const session = await newSession();
    const save = await tmpDir('ws-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, url_seeds: [`${server.url}/seed/one.bin`] });
    await finished(session, h, 30_000);
    await expectSame(t, t.dataRoot, save);
    const [ws] = h.webSeeds();
    expect(ws).toMatchObject({ url: `${server.url}/seed/one.bin`, error: '', failures: 0 });
    expect(ws!.total_download).toBeGreaterThanOrEqual(1_500_000);
    expect(session.stats()['net.recv_payload_bytes']).toBeGreaterThanOrEqual(1_500_000);
    expect(server.log.every((r) => r.status === 206)).toBe(true);
  });

  it('a multi-file torrent downloads from a folder URL, from two web seeds at once', async () => {
    const t = await makeTorrent({
      dir: await tmpDir('ws-src'), name: 'album', pieceLength: 32768, seed: 32,
      files: [{ path: 'a.flac', size: 700_001 }, { path: 'disc 2/b #1.flac', size: 333_333 }, { path: 'c.txt', size: 10 }],
    });
    const one = await serve(t, t.dataRoot);
    const two = await serve(t, t.dataRoot);
    const session = await newSession();
    const save = await tmpDir('ws-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, url_seeds: [`${one.url}/seed/`, `${two.url}/seed`] });
    await finished(session, h, 30_000);
    await expectSame(t, t.dataRoot, save);
    expect(one.log.length).toBeGreaterThan(0);
    expect(two.log.length).toBeGreaterThan(0);
  });

  it('a web seed that serves one corrupted range: the piece fails its hash, is fetched again, and the download completes', async () => {
    const t = await makeTorrent({ dir: await tmpDir('ws-src'), name: 'bad.bin', files: 600_000, pieceLength: 65536, seed: 33 });
    const server = await serve(t, t.dataRoot);
    server.corrupt('/seed/bad.bin', 200_000, 200_100);
    const session = await newSession();
    const failed: string[] = [];
    session.on('url_seed', (e) => void failed.push(e.error));
    const save = await tmpDir('ws-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, url_seeds: [`${server.url}/seed/bad.bin`] });
    await finished(session, h, 30_000);
    await expectSame(t, t.dataRoot, save);
    expect(h.status().total_failed_bytes).toBe(65536);
    expect(failed).toContain('piece 3 failed the hash check');
  });

  it('a web seed answering 404 backs off with its reason visible, while a good one (slow bodies) completes the download', async () => {
    const t = await makeTorrent({ dir: await tmpDir('ws-src'), name: 'mix.bin', files: 400_000, pieceLength: 32768, seed: 34 });
    const good = await serve(t, t.dataRoot);
    good.slow(5);
    const bad = await serve(t, t.dataRoot);
    bad.fail('/seed/mix.bin', 404);
    const session = await newSession();
    const save = await tmpDir('ws-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, url_seeds: [`${bad.url}/seed/mix.bin`, `${good.url}/seed/mix.bin`] });
    await finished(session, h, 30_000);
    await expectSame(t, t.dataRoot, save);
    const badInfo = h.webSeeds().find((w) => w.url.startsWith(bad.url))!;
    expect(badInfo.error).toBe('HTTP 404 Not Found');
    expect(badInfo.failures).toBeGreaterThanOrEqual(1);
    expect(['backoff', 'failed', 'idle']).toContain(badInfo.state);
  });

  it('a web seed answering 500 is retried after its back-off and recovers', async () => {
    const t = await makeTorrent({ dir: await tmpDir('ws-src'), name: 'flaky.bin', files: 200_000, pieceLength: 32768, seed: 35 });
    const server = await serve(t, t.dataRoot);
    server.fail('/seed/flaky.bin', 500, 1);
    const session = await newSession();
    const save = await tmpDir('ws-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, url_seeds: [`${server.url}/seed/flaky.bin`] });
    await waitFor(() => h.webSeeds()[0]!.state === 'backoff', 10_000, 'backoff');
    expect(h.webSeeds()[0]!.error).toBe('HTTP 500 Internal Server Error');
    await finished(session, h, 30_000);
    expect(h.webSeeds()[0]).toMatchObject({ failures: 0, error: '' });
  });

  it('a web seed plus a libtorrent peer together complete the download', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('ws-src'), name: 'both.bin', files: 3_000_000, pieceLength: 65536, seed: 36 });
    const server = await serve(t, t.dataRoot);
    server.slow(2);
    // The seed speaks uTP too: our dial tries uTP first and would reach a TCP-only seed only after
    // utp_connect_timeout (3 s), when the web seed alone has long finished.
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { transport: 'both' });
    try {
      const session: Session = await newSession();
      const save = await tmpDir('ws-dl');
      const h = await session.addTorrent({
        ti: t.torrentBytes, save_path: save, url_seeds: [`${server.url}/seed/both.bin`], peers: [`127.0.0.1:${seed.port}`],
      });
      await finished(session, h, 60_000);
      await expectSame(t, t.dataRoot, save);
      expect(h.webSeeds()[0]!.total_download).toBeGreaterThan(0);
      expect(h.status().total_failed_bytes).toBe(0);
    } finally {
      const stats = await seed.stop();
      expect(stats.uploaded).toBeGreaterThan(0);
    }
  }, 90_000);
});

describe('HTTP seeds (BEP 17)', () => {
  it('a torrent downloads from an HTTP seed alone, given as http_seeds, asked by info-hash and piece', async () => {
    const pieceLength = 65536;
    const t = await makeTorrent({ dir: await tmpDir('hs-src'), name: 'h.bin', files: 700_000, pieceLength, seed: 35 });
    const data = await readFile(dataFiles(t, t.dataRoot)[0]!);
    const hash = Buffer.from(t.infoHash, 'hex').toString('latin1');
    const asked: string[] = [];
    // The seed script of BEP 17, written for the test: a piece, or ranges within it (inclusive), by info-hash.
    const server = http.createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      asked.push(`${q.get('piece')}${q.has('ranges') ? `:${q.get('ranges')}` : ''}`);
      const piece = Number(q.get('piece'));
      // searchParams decodes %XX as UTF-8: the hash's bytes are decoded from the raw query instead.
      const raw = /info_hash=([^&]*)/.exec(req.url ?? '')?.[1] ?? '';
      if (raw.replace(/%([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))) !== hash) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const start = piece * pieceLength;
      const size = Math.min(pieceLength, data.length - start);
      const [a, b] = q.has('ranges') ? q.get('ranges')!.split('-').map(Number) : [0, size - 1];
      res.end(data.subarray(start + a!, start + b! + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = await newSession();
    const save = await tmpDir('hs-dl');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/seed.php`;
    try {
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, http_seeds: [url] });
      await finished(session, h, 30_000);
      await expectSame(t, t.dataRoot, save);
      expect(h.webSeeds()[0]).toMatchObject({ url, error: '', failures: 0 });
      expect(asked.length).toBeGreaterThan(0);
      expect(asked).toContain('10'); // the last piece (44,640 bytes) is asked for whole: no ranges
    } finally {
      server.close();
    }
  });
});
