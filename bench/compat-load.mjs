#!/usr/bin/env node
// The compat adapters under load: a real `spritzle start` daemon with 1,000 torrents loaded (no data, no
// peers). Measures, one request at a time:
//   - qBittorrent `sync/maindata?rid=<last>` after one torrent changed (paused or resumed in between): the
//     answer's size in bytes and its latency (p50/p99);
//   - Transmission `torrent-get` of 5 fields for every torrent: latency (p50/p99) and size.
// Issue 15's targets: maindata with one change ≤ 2 KB and p99 ≤ 10 ms; torrent-get p99 ≤ 50 ms.
//
//   pnpm run build && node bench/compat-load.mjs [--torrents 1000] [--rounds 300]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bencode from 'bencode';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opt } = parseArgs({ options: { torrents: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '300' } } });
const N = Number(opt.torrents);
const ROUNDS = Number(opt.rounds);
const cli = join(root, 'packages/cli/dist/main.js');
if (!existsSync(cli)) throw new Error('build first: pnpm run build');

const work = await mkdtemp(join(tmpdir(), 'spritzle-compat-bench-'));
const daemon = spawn(process.execPath, [cli, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
  '--no-dht', '--log-level', 'warn', '--state-dir', join(work, 'state'), '--download-dir', join(work, 'dl')],
{ stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SPRITZLE_TOKEN: '' } });
const base = await new Promise((resolve, reject) => {
  let out = '';
  daemon.stdout.on('data', (d) => { out += d; const m = /spritzle API on (\S+)/.exec(out); if (m) resolve(m[1].replace(/\/$/, '')); });
  daemon.on('close', (c) => reject(new Error(`daemon exited ${c}`)));
});

const hashes = [];
for (let i = 0; i < N; i++) {
  const t = bencode.encode({ info: { name: `bench-${i}.bin`, 'piece length': 16384, length: 16384 * 4, pieces: randomBytes(80) } });
  const form = new FormData();
  form.append('file', new Blob([t]), 't.torrent');
  const r = await fetch(`${base}/torrent`, { method: 'POST', body: form });
  if (r.status !== 201) throw new Error(`POST /torrent ${r.status} ${await r.text()}`);
  hashes.push((await r.json()).info_hash);
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function summary(name, ms, bytes) {
  ms.sort((a, b) => a - b);
  bytes.sort((a, b) => a - b);
  console.log(`${name}: p50 ${pct(ms, 50).toFixed(2)} ms, p99 ${pct(ms, 99).toFixed(2)} ms, max ${ms.at(-1).toFixed(2)} ms; ` +
    `answer ${pct(bytes, 50)} B (p50), ${bytes.at(-1)} B (max)`);
}

// --- sync/maindata with one change between polls ---
let rid = (await (await fetch(`${base}/api/v2/sync/maindata?rid=0`)).json()).rid;
const mdMs = [], mdBytes = [];
for (let i = 0; i < ROUNDS; i++) {
  const h = hashes[i % hashes.length];
  await fetch(`${base}/api/v2/torrents/${i % 2 === 0 ? 'pause' : 'resume'}`, { method: 'POST', body: new URLSearchParams({ hashes: h }) });
  const t0 = performance.now();
  const r = await fetch(`${base}/api/v2/sync/maindata?rid=${rid}`);
  const body = await r.arrayBuffer();
  mdMs.push(performance.now() - t0);
  mdBytes.push(body.byteLength);
  rid = JSON.parse(Buffer.from(body).toString()).rid;
}

// --- torrent-get, 5 fields, all torrents ---
const rpc = `${base}/transmission/rpc`;
const sid = (await fetch(rpc, { method: 'POST', body: '{}' })).headers.get('x-transmission-session-id');
const getBody = JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id', 'name', 'status', 'percentDone', 'rateDownload'] } });
const tgMs = [], tgBytes = [];
for (let i = 0; i < ROUNDS; i++) {
  const t0 = performance.now();
  const r = await fetch(rpc, { method: 'POST', headers: { 'x-transmission-session-id': sid, 'content-type': 'application/json' }, body: getBody });
  const body = await r.arrayBuffer();
  tgMs.push(performance.now() - t0);
  tgBytes.push(body.byteLength);
}

console.log(`${N} torrents, ${ROUNDS} rounds each, one request at a time, node ${process.version}`);
summary('qBittorrent sync/maindata, one torrent changed', mdMs, mdBytes);
summary('Transmission torrent-get, 5 fields, all torrents', tgMs, tgBytes);

daemon.kill('SIGTERM');
await new Promise((resolve) => daemon.once('close', resolve));
await rm(work, { recursive: true, force: true });
