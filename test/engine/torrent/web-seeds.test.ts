// A torrent's web seeds over a fake torrent (a real picker, a local HTTP server): back-off and dropping.
import { describe, it, expect, afterAll } from '@jest/globals';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { PieceDeadlines } from '../../../packages/engine/src/algo/piece-deadlines.js';
import { MAX_WEB_SEED_FAILURES, WebSeeds, receivedPrefix, type WebSeed, type WebSeedTorrent } from '../../../packages/engine/src/torrent/web-seeds.js';
import { startWebSeedServer, type WebSeedServer } from '../../helpers/web-seed-server.js';
import { testData } from '../../helpers/memory-torrent.js';
import { until } from '../../helpers/server.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const B = 16384;
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

function fakeTorrent(length: number) {
  const picker = new PiecePicker(Math.ceil(length / (4 * B)), 4 * B, length, B, 1);
  const blocks: [number, number, number][] = [];
  const received = new Uint8Array(length);
  const changes: string[] = [];
  const t: WebSeedTorrent = {
    picker, files: [{ path: 'f.bin', length, pad: false }], pieceLength: 4 * B, infoHash: new Uint8Array(20).fill(0x41), deadlines: new PieceDeadlines(),
    active: true, backlogged: false,
    block: (_seed: WebSeed, piece, offset, data) => {
      picker.markReceived(piece * picker.blocksPerPiece + offset / B);
      blocks.push([piece, offset, data.length]);
      received.set(data, piece * 4 * B + offset);
    },
    changed: (seed) => void changes.push(`${seed.state}: ${seed.error}`),
  };
  return { t, picker, blocks, changes, received };
}

describe('WebSeeds', () => {
  let server: WebSeedServer;
  afterAll(async () => server?.close());

  it('backs off after a failure, doubling, and drops a seed after repeated failures with the reason kept', async () => {
    server = await startWebSeedServer(new Map([['/f.bin', testData(8 * B, 2)]]));
    server.fail('/f.bin', 500);
    const { t, picker, changes } = fakeTorrent(8 * B);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 2000 });
    seeds.add(`${server.url}/f.bin`);
    const retries: number[] = [];
    for (let i = 0; i < MAX_WEB_SEED_FAILURES; i++) {
      for (let k = 0; k < 100 && seeds.list()[0]!.failures === i; k++) await turn();
      const w = seeds.list()[0]!;
      if (w.state === 'backoff') retries.push(w.retry_at - Date.now());
      seeds.tick(w.retry_at + 1, 1); // past the back-off: tried again
    }
    const w = seeds.list()[0]!;
    expect(w).toMatchObject({ state: 'failed', failures: MAX_WEB_SEED_FAILURES, error: 'HTTP 500 Internal Server Error' });
    expect(retries).toHaveLength(MAX_WEB_SEED_FAILURES - 1);
    for (let i = 1; i < retries.length; i++) expect(retries[i]!).toBeGreaterThan(retries[i - 1]!);
    // A dropped seed is asked for nothing, and its blocks went back to the picker.
    const asked = server.log.length;
    seeds.tick(Date.now() + 3_600_000, 1);
    await turn();
    expect(server.log.length).toBe(asked);
    expect(picker.numPartial).toBe(0);
    expect(changes.at(-1)).toBe('failed: HTTP 500 Internal Server Error');
  });

  it('asks for time-critical pieces first', async () => {
    server.fail('/f.bin', 500, 0);
    const { t, blocks } = fakeTorrent(8 * B);
    t.deadlines.set({}, 1, 0);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 2000 });
    server.log.length = 0;
    seeds.add(`${server.url}/f.bin`);
    for (let k = 0; k < 100 && blocks.length < 4; k++) await turn();
    expect(server.log[0]!.range).toBe(`bytes=${4 * B}-${8 * B - 1}`);
    seeds.stopAll();
  });

  it('hands each block on as soon as its bytes have come, while its request is still out', async () => {
    server.fail('/f.bin', 500, 0);
    server.slow(20); // the body in 16 KiB chunks
    const { t } = fakeTorrent(8 * B);
    const inFlight: number[] = [];
    const seeds = new WebSeeds({ ...t, block: (seed) => void inFlight.push(seed.inFlight) }, { maxRedirects: 0, timeoutMs: 10_000 });
    server.log.length = 0;
    seeds.add(`${server.url}/f.bin`);
    await until('every block', async () => (inFlight.length === 8 ? true : undefined), 10_000);
    server.slow(0);
    expect(server.log.map((l) => l.range)).toEqual([`bytes=0-${8 * B - 1}`]); // one request for the eight blocks
    expect(inFlight).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('gives the blocks not yet come back to the picker when stopped midway through a request', async () => {
    server.slow(20);
    const { t, picker } = fakeTorrent(8 * B);
    let handed = 0;
    const seeds: WebSeeds = new WebSeeds({
      ...t,
      block: (_seed, piece, offset) => {
        picker.markReceived(piece * picker.blocksPerPiece + offset / B);
        if (++handed === 1) seeds.stopAll();
      },
    }, { maxRedirects: 0, timeoutMs: 10_000 });
    seeds.add(`${server.url}/f.bin`);
    await until('the request stopped', async () => (handed > 0 && seeds.list()[0]!.state === 'idle' ? true : undefined), 10_000);
    server.slow(0);
    expect(handed).toBe(1);
    expect(picker.pick({ get: () => true }, 64, [], { sequential: false })).toBe(7);
  });

  it('hands nothing out while its torrent is not active', async () => {
    const { t } = fakeTorrent(8 * B);
    const seeds = new WebSeeds({ ...t, active: false }, { maxRedirects: 0, timeoutMs: 2000 });
    server.log.length = 0;
    seeds.add(`${server.url}/f.bin`);
    await turn();
    expect(server.log).toHaveLength(0);
  });
});

/** A BEP 17 seed script written for the test: `?info_hash=&piece=&ranges=a-b` answered from `data`; `busy` 503s first. */
async function httpSeed(data: Uint8Array, pieceLength: number, busy = 0) {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    asked.push(u.search);
    if (busy > 0) {
      busy--;
      res.statusCode = 503;
      res.end('30');
      return;
    }
    const piece = Number(u.searchParams.get('piece'));
    const start = piece * pieceLength;
    const ranges = u.searchParams.get('ranges');
    const [a, b] = ranges ? ranges.split('-').map(Number) : [0, Math.min(pieceLength, data.length - start) - 1];
    if (u.searchParams.get('info_hash') !== 'A'.repeat(20) || req.headers.range !== undefined) {
      res.statusCode = 400;
      res.end();
      return;
    }
    res.end(Buffer.from(data.subarray(start + a!, start + b! + 1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/seed.php`, asked, close: () => server.close() };
}

describe('WebSeeds from a BEP 17 HTTP seed', () => {
  it('fetches every block with ?info_hash=&piece= requests, whole pieces without ranges', async () => {
    const data = testData(8 * B, 5);
    const seed = await httpSeed(data, 4 * B);
    const { t, blocks, received } = fakeTorrent(8 * B);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 5000 });
    seeds.add(seed.url, 'http');
    await until('every block', async () => (blocks.length === 8 ? true : undefined), 10_000);
    seeds.stopAll();
    seed.close();
    expect(Buffer.compare(Buffer.from(received), Buffer.from(data))).toBe(0);
    expect(seed.asked.sort()).toEqual([`?info_hash=${'A'.repeat(20)}&piece=0`, `?info_hash=${'A'.repeat(20)}&piece=1`]);
  });

  it('waits as long as a busy seed (503) asks, without counting a failure', async () => {
    const data = testData(8 * B, 5);
    const seed = await httpSeed(data, 4 * B, 2); // both pieces' requests
    const { t, picker } = fakeTorrent(8 * B);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 5000 });
    seeds.add(seed.url, 'http');
    const w = await until('the busy answer', async () => (seeds.list()[0]!.state === 'backoff' ? seeds.list()[0]! : undefined), 10_000);
    seeds.stopAll();
    seed.close();
    expect(w).toMatchObject({ failures: 0, error: 'busy (HTTP 503): retry after 30 s' });
    expect(w.retry_at - Date.now()).toBeGreaterThan(25_000);
    expect(picker.pick({ get: () => true }, 64, [], { sequential: false })).toBe(8); // its blocks went back
  });
});

describe('receivedPrefix', () => {
  const reqs = [
    { url: 'a', start: 90, length: 10, into: 0 },
    { url: 'b', start: 0, length: 22, into: 38 }, // bytes 10..38 are a pad file's
  ];

  it('stops at the first request that has not all come', () => {
    expect(receivedPrefix(reqs, new Float64Array([4, 22]), 60)).toBe(4);
  });

  it('counts pad bytes between requests as there', () => {
    expect(receivedPrefix(reqs, new Float64Array([10, 5]), 60)).toBe(43);
    expect(receivedPrefix(reqs, new Float64Array([10, 22]), 60)).toBe(60);
  });
});
