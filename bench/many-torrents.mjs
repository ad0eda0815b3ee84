#!/usr/bin/env node
// Many resumed torrents in one daemon: N one-piece torrents (16 KiB, no data on disk, so each is resumed
// as downloading with nobody to download from) are added over the API, the daemon stops (SIGTERM) and is
// started again; then, against issue 18's targets: API up (spawn to the API line, and the daemon's CPU
// seconds by then), RSS, GET /torrent, GET /torrent?fields=name,progress,state (all of them), GET /session
// p50/p99, the daemon's idle CPU over --idle-s seconds (% of one core), and adding then removing 1,000 more
// torrents over the API.
// With --runs N the state is filled once and the daemon restarted N times: each run's figures, and their
// medians. Every loop is bounded and every request has a timeout.
//
//   pnpm run build && node bench/many-torrents.mjs [--torrents 50000] [--runs 3] [--clients 8] [--idle-s 30] [--settle-s 0]
//     [--node-flags='--cpu-prof']
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import bencode from 'bencode';
import { cli, cpuOf, load, median, round } from './lib.mjs';

const { values: opt } = parseArgs({ options: {
  torrents: { type: 'string', default: '50000' }, clients: { type: 'string', default: '8' },
  'idle-s': { type: 'string', default: '30' }, 'node-flags': { type: 'string', default: '' }, runs: { type: 'string', default: '1' },
  'settle-s': { type: 'string', default: '0' },
} });
const N = Number(opt.torrents);
const C = Number(opt.clients);
const idleS = Number(opt['idle-s']);
const RUNS = Math.max(1, Number(opt.runs));
// Seconds between the GETs and the idle window: after a restart every torrent's check ends and the daemon
// saves each one's record once, a burst that --settle-s keeps out of the steady idle figure.
const settleS = Number(opt['settle-s']);
const work = await mkdtemp(join(tmpdir(), 'spritzle-many-bench-'));
const state = join(work, 'state');
const dl = join(work, 'dl');
const TIMEOUT = AbortSignal.timeout.bind(AbortSignal);

function start() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...opt['node-flags'].split(' ').filter(Boolean), cli, 'start', '--port', '0', '--host', '127.0.0.1',
    '--listen-port', '0', '--listen-host', '127.0.0.1', '--no-dht', '--log-level', 'info', '--state-dir', state, '--download-dir', dl],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; if (err.length > 1e6) err = err.slice(-1e5); });
  const closed = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /spritzle API on (\S+)/.exec(out);
      // CPU at the API line (all threads): a start-up figure the machine's load moves less than the wall time.
      if (m) resolve({ child, base: m[1].replace(/\/$/, ''), t0, upCpuS: cpuOf(child.pid), closed, stop: async () => { child.kill('SIGTERM'); await closed; clearTimeout(timer); } });
    });
    closed.then((c) => reject(new Error(`daemon exited ${JSON.stringify(c)}: ${err.slice(-2000)}`)));
  });
}

const torrentBody = (name) => JSON.stringify({
  file: Buffer.from(bencode.encode({ info: { name, 'piece length': 16384, length: 16384, pieces: randomBytes(20) } })).toString('base64'),
});

/** POSTs `count` new torrents with C clients; resolves with their info-hashes. */
async function addMany(d, prefix, count) {
  const hashes = [];
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < count) {
      const i = next++;
      const r = await fetch(`${d.base}/torrent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: torrentBody(`${prefix}-${i}.bin`), signal: TIMEOUT(60_000) });
      if (r.status !== 201) throw new Error(`POST /torrent ${r.status} ${await r.text()}`);
      const loc = r.headers.get('location');
      hashes.push(loc ? loc.split('/').pop() : (await r.json()).info_hash);
      if (loc) await r.arrayBuffer();
    }
  }));
  return hashes;
}

/** Milliseconds of one GET (body read to the end). */
async function timeGet(d, path) {
  const t = performance.now();
  const r = await fetch(`${d.base}${path}`, { signal: TIMEOUT(60_000) });
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
  await r.arrayBuffer();
  return performance.now() - t;
}
const quantile = (a, q) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const rssMiB = async (pid) => Number((await readFile(`/proc/${pid}/status`, 'utf8')).match(/VmRSS:\s+(\d+)/)[1]) / 1024;

const loadBefore = load();
let d = await start();
const f0 = performance.now();
await addMany(d, 'resumed', N);
const fillS = (performance.now() - f0) / 1000;
await d.stop();

/** One restart of the daemon on the filled state, and every figure of it. */
async function run(k) {
  const d = await start();
  const apiUpMs = performance.now() - d.t0;
  const firstGetMs = await timeGet(d, '/torrent');
  const listed = (await (await fetch(`${d.base}/torrent`, { signal: TIMEOUT(60_000) })).json()).length;
  const rss = await rssMiB(d.child.pid);
  const list = []; const fields = []; const session = [];
  for (let i = 0; i < 5; i++) list.push(await timeGet(d, '/torrent'));
  for (let i = 0; i < 5; i++) fields.push(await timeGet(d, '/torrent?fields=name,progress,state'));
  for (let i = 0; i < 200; i++) session.push(await timeGet(d, '/session'));
  await new Promise((r) => setTimeout(r, settleS * 1000));
  const c0 = cpuOf(d.child.pid);
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const idlePct = ((cpuOf(d.child.pid) - c0) / idleS) * 100;
  const a0 = performance.now();
  const added = await addMany(d, `extra${k}`, 1000);
  const addS = (performance.now() - a0) / 1000;
  const r0 = performance.now();
  let nextDel = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (nextDel < added.length) {
      const r = await fetch(`${d.base}/torrent/${added[nextDel++]}`, { method: 'DELETE', signal: TIMEOUT(60_000) });
      if (r.status >= 300) throw new Error(`DELETE: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  }));
  const removeS = (performance.now() - r0) / 1000;
  const rssEnd = await rssMiB(d.child.pid);
  await d.stop();
  return {
    listed, api_up_ms: Math.round(apiUpMs), api_up_cpu_s: round(d.upCpuS, 2), first_get_torrent_ms: Math.round(firstGetMs), rss_mib: Math.round(rss),
    get_torrent_ms: round(median(list), 1), get_fields_ms: round(median(fields), 1),
    get_session_p50_ms: round(quantile(session, 0.5)), get_session_p99_ms: round(quantile(session, 0.99)),
    idle_cpu_pct: round(idlePct), add_1000_s: round(addS), remove_1000_s: round(removeS), rss_end_mib: Math.round(rssEnd),
  };
}

const runs = [];
for (let k = 0; k < RUNS; k++) runs.push(await run(k));
await rm(work, { recursive: true, force: true });
// One run: its figures as before; several: each figure's median, and the runs.
const medians = Object.fromEntries(Object.keys(runs[0]).map((key) => [key, median(runs.map((r) => r[key]))]));
console.log(JSON.stringify({
  bench: 'many-torrents', torrents: N, settle_s: settleS, fill_s: round(fillS, 1), load_before: loadBefore, load_after: load(),
  ...medians, ...(RUNS > 1 ? { runs } : {}),
}));
