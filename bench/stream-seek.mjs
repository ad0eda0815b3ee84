#!/usr/bin/env node
// Seek latency of the REST stream (issue 16): N spritzle seeds (seed_mode, in a child process) behind a TCP
// relay written for the bench (RTT and a per-seed rate applied to what the seed sends), a downloading
// session with its REST API in this process. Phase 1: GETs with a Range at random offsets of a file that is
// still downloading; time from the request to its first body byte (p50, p95, max). Phase 2: one stream read
// at a fixed rate; the longest time a read that was due waited for data (a stall).
//
//   pnpm run build && node bench/stream-seek.mjs [--size-mib 1024] [--seeds 4] [--rtt-ms 40] [--seed-mib-s 2]
//     [--seeks 50] [--stream-s 300] [--stream-mib-s 3] [--piece-kib 256] [--seed 1] [--stream-from-mib N]
// The stream starts at a random offset in the file's first half, or at --stream-from-mib (a 300 s stream at
// 3 MiB/s needs 900 MiB after its start: --stream-from-mib 0 in a 1 GiB file).
// Everything listens on 127.0.0.1. The whole run is bounded: each seek gives up after 30 s, the stream phase
// stops at --stream-s.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import bencode from 'bencode';
import { writeHashedPieces } from './lib.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const engineUrl = pathToFileURL(join(root, 'packages/engine/dist/index.js')).href;
const serverUrl = pathToFileURL(join(root, 'packages/server/dist/index.js')).href;
if (!existsSync(fileURLToPath(serverUrl))) throw new Error('build first: pnpm run build');
const { values: o } = parseArgs({ options: {
  'size-mib': { type: 'string', default: '1024' }, seeds: { type: 'string', default: '4' }, 'rtt-ms': { type: 'string', default: '40' },
  'seed-mib-s': { type: 'string', default: '2' }, seeks: { type: 'string', default: '50' }, 'stream-s': { type: 'string', default: '300' },
  'stream-mib-s': { type: 'string', default: '3' }, 'piece-kib': { type: 'string', default: '256' }, seed: { type: 'string', default: '1' },
  'stream-from-mib': { type: 'string' },
} });
const SIZE = Number(o['size-mib']) * 1024 * 1024;
const SEEDS = Number(o.seeds);
const RTT = Number(o['rtt-ms']);
const SEED_RATE = Number(o['seed-mib-s']) * 1024 * 1024;
const PIECE = Number(o['piece-kib']) * 1024;
const { Session } = await import(engineUrl);
const { startServer } = await import(serverUrl);

let rng = Number(o.seed) >>> 0 || 1;
const rand = () => ((rng ^= rng << 13), (rng ^= rng >>> 17), (rng ^= rng << 5), (rng >>> 0) / 2 ** 32);

// ---- data and torrent (pieces hashed as they are written; the bytes are a cheap PRNG stream)
const work = await mkdtemp(join(tmpdir(), 'spritzle-seek-bench-'));
const seedDir = join(work, 'seed');
const dlDir = join(work, 'dl');
const name = 'film.bin';
{
  const { mkdir } = await import('node:fs/promises');
  await mkdir(seedDir, { recursive: true });
  await mkdir(dlDir, { recursive: true });
}
const hashes = await writeHashedPieces(join(seedDir, name), SIZE, PIECE);
const torrent = bencode.encode({ info: { name, 'piece length': PIECE, length: SIZE, pieces: Buffer.concat(hashes) } });
const torrentPath = join(work, 'film.torrent');
await writeFile(torrentPath, torrent);

// ---- seeds: one child process, N sessions in seed_mode (no hashing)
const seedScript = `
const { Session } = await import(${JSON.stringify(engineUrl)});
const { readFile } = await import('node:fs/promises');
const ti = await readFile(${JSON.stringify(torrentPath)});
const ports = [];
for (let i = 0; i < ${SEEDS}; i++) {
  const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false });
  await s.addTorrent({ ti, save_path: ${JSON.stringify(seedDir)}, flags: ['seed_mode'] });
  ports.push(s.listenPort);
}
console.log('PORTS ' + ports.join(','));
`;
const seedProc = spawn(process.execPath, ['--input-type=module', '-e', seedScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const seedPorts = await new Promise((resolve, reject) => {
  let out = '';
  seedProc.stdout.on('data', (d) => {
    out += d;
    const m = /PORTS (\S+)/.exec(out);
    if (m) resolve(m[1].split(',').map(Number));
  });
  seedProc.on('close', (c) => reject(new Error(`seeds exited ${c}`)));
});

// ---- the relay: half the RTT each way, and the seed's rate on what it sends (a token bucket per seed)
function relay(target) {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const delay = RTT / 2;
    let budget = SEED_RATE / 10;
    let last = performance.now();
    const queue = [];
    let draining = false;
    const drain = () => {
      if (draining) return;
      draining = true;
      const step = () => {
        const now = performance.now();
        budget = Math.min(SEED_RATE / 10, budget + ((now - last) / 1000) * SEED_RATE);
        last = now;
        while (queue.length > 0 && budget > 0) {
          const [due, chunk] = queue[0];
          if (due > now) break;
          const take = Math.min(chunk.length, Math.max(1, Math.floor(budget)));
          budget -= take;
          queued -= take;
          if (queued <= LIMIT && upstream.isPaused()) upstream.resume();
          if (take === chunk.length) queue.shift();
          else queue[0][1] = chunk.subarray(take);
          if (!client.destroyed) client.write(chunk.subarray(0, take));
        }
        if (queue.length > 0) setTimeout(step, Math.max(1, Math.min(10, queue[0][0] - now)));
        else draining = false;
      };
      step();
    };
    // A bottleneck's buffer is bounded (about one bandwidth-delay product): past it the seed is held back
    // by TCP, as on a real link, instead of the relay queueing without end.
    let queued = 0;
    const LIMIT = Math.max(128 * 1024, (2 * SEED_RATE * RTT) / 1000);
    upstream.on('data', (d) => {
      queue.push([performance.now() + delay, d]);
      queued += d.length;
      if (queued > LIMIT) upstream.pause();
      drain();
    });
    client.on('data', (d) => setTimeout(() => upstream.destroyed || upstream.write(d), delay));
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end); upstream.on('close', end); client.on('error', end); upstream.on('error', end);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}
const relays = await Promise.all(seedPorts.map(relay));

// ---- the downloader with its REST API
// TCP only: the relay carries TCP (with uTP on, each dial waited utp_connect_timeout, 3 s, before TCP).
const session = await Session.create({
  listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false, enable_outgoing_utp: false, enable_incoming_utp: false,
});
const api = await startServer(session, { port: 0, log: () => undefined });
const handle = await session.addTorrent({ ti: torrent, save_path: dlDir, peers: relays.map((r) => `127.0.0.1:${r.address().port}`) });
const streamUrl = `${api.url.replace(/\/$/, '')}/torrent/${handle.infoHash}/files/0/stream`;
// Seeks are timed in a running download: the seeds connected and sending first (bounded: 30 s).
for (const t0 = performance.now(); handle.status().num_seeds < SEEDS || handle.status().total_payload_download === 0;) {
  if (performance.now() - t0 > 30_000) throw new Error(`only ${handle.status().num_seeds} of ${SEEDS} seeds connected in 30 s`);
  await new Promise((r) => setTimeout(r, 50));
}

/** Time from the request to the first body byte of a Range GET at `offset`. */
function firstByte(offset) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(streamUrl, { headers: { range: `bytes=${offset}-${offset + 65535}` }, agent: false }, (res) => {
      if (res.statusCode !== 206) reject(new Error(`status ${res.statusCode}`));
      res.once('data', () => {
        resolve(performance.now() - t0);
        req.destroy();
      });
    });
    req.setTimeout(30_000, () => { req.destroy(); reject(new Error('no first byte in 30 s')); });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

const seekT0 = performance.now();
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
const started = performance.now();
const latencies = [];
let unfetched = 0;
for (let i = 0; i < Number(o.seeks); i++) {
  const offset = Math.floor(rand() * (SIZE - 65536));
  const piece = Math.floor(offset / PIECE);
  if (!handle.status().pieces[piece]) unfetched++;
  latencies.push(await firstByte(offset));
}
const inOrder = latencies.map(Math.round);
latencies.sort((a, b) => a - b);
const seekSummary = {
  seeks: latencies.length, at_unfetched_offsets: unfetched, p50_ms: Math.round(pct(latencies, 50)), p95_ms: Math.round(pct(latencies, 95)),
  max_ms: Math.round(latencies.at(-1)), progress_after: Number(handle.status().progress.toFixed(3)), seconds: Math.round((performance.now() - seekT0) / 1000),
  download_mib_s: Number((handle.status().total_payload_download / 1048576 / ((performance.now() - seekT0) / 1000)).toFixed(2)), latencies_ms: inOrder,
};
console.log(JSON.stringify({ phase: 'seek', size_mib: SIZE / 1048576, piece_kib: PIECE / 1024, seeds: SEEDS, rtt_ms: RTT, seed_mib_s: SEED_RATE / 1048576, ...seekSummary }));

// ---- phase 2: a paced reader from a random unfetched-looking offset; the longest wait for data that was due
const streamS = Number(o['stream-s']);
const rate = Number(o['stream-mib-s']) * 1048576;
const streamStart = o['stream-from-mib'] !== undefined ? Number(o['stream-from-mib']) * 1048576 : Math.floor(rand() * SIZE * 0.5);
const stall = await new Promise((resolve, reject) => {
  const req = http.get(streamUrl, { headers: { range: `bytes=${streamStart}-` }, agent: false }, (res) => {
    const t0 = performance.now();
    let consumed = 0;
    let maxStall = 0;
    let waitingSince = -1;
    let stalls = 0;
    res.on('data', (chunk) => {
      const now = performance.now();
      if (waitingSince >= 0) {
        const s = now - waitingSince;
        if (s > maxStall) maxStall = s;
        if (s > 1000) stalls++;
        waitingSince = -1;
      }
      consumed += chunk.length;
      // Ahead of the reader's schedule: pause until the data is due.
      const due = t0 + (consumed / rate) * 1000;
      if (due > now) {
        res.pause();
        setTimeout(() => { waitingSince = performance.now(); res.resume(); }, due - now);
      } else waitingSince = now;
      if (now - t0 > streamS * 1000 || consumed + streamStart >= SIZE) {
        req.destroy();
        resolve({ seconds: Math.round((now - t0) / 1000), mib_read: Math.round(consumed / 1048576), max_stall_ms: Math.round(maxStall), stalls_over_1s: stalls });
      }
    });
    res.on('end', () => resolve({ seconds: Math.round((performance.now() - t0) / 1000), mib_read: Math.round(consumed / 1048576), max_stall_ms: Math.round(maxStall), stalls_over_1s: stalls }));
  });
  req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
});
console.log(JSON.stringify({ phase: 'stream', stream_mib_s: rate / 1048576, from: streamStart, ...stall, total_s: Math.round((performance.now() - started) / 1000) }));

await api.close();
await session.close();
for (const r of relays) r.close();
seedProc.kill('SIGTERM');
await rm(work, { recursive: true, force: true });
process.exit(0);
