#!/usr/bin/env node
// Adds per second over the API with durability on (a 201 means the torrent is on disk), and the restart
// time with that many torrents: `spritzle start`, N one-piece torrents (no data) POSTed by C concurrent
// clients (JSON bodies; --multipart for form uploads), a graceful stop (SIGTERM) or a crash (--kill:
// SIGKILL right after the last 201), then a restart timed from spawn to the API line, the first
// GET /torrent and the daemon's own "ready" line. daemon_cpu_us_per_add is the daemon's own CPU time per
// add (all its threads): on a shared machine, 1e6 / that is the rate one free core would give.
//
//   pnpm run build && node bench/add-rate.mjs [--torrents 20000] [--clients 8] [--kill] [--multipart] [--node-flags='--cpu-prof' (daemon)]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bencode from 'bencode';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opt } = parseArgs({ options: {
  torrents: { type: 'string', default: '20000' }, clients: { type: 'string', default: '8' }, kill: { type: 'boolean', default: false },
  'node-flags': { type: 'string', default: '' }, multipart: { type: 'boolean', default: false },
} });
const N = Number(opt.torrents);
const C = Number(opt.clients);
const cli = join(root, 'packages/cli/dist/main.js');
if (!existsSync(cli)) throw new Error('build first: pnpm run build');
const work = await mkdtemp(join(tmpdir(), 'spritzle-add-bench-'));
const state = join(work, 'state');
const dl = join(work, 'dl');

function start() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...opt['node-flags'].split(' ').filter(Boolean), cli, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
    '--no-dht', '--log-level', 'info', '--state-dir', state, '--download-dir', dl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const closed = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /spritzle API on (\S+)/.exec(out);
      if (m) resolve({ child, base: m[1].replace(/\/$/, ''), t0, closed, log: () => err });
    });
    closed.then((c) => reject(new Error(`daemon exited ${JSON.stringify(c)}: ${err}`)));
  });
}
/** The daemon's CPU time so far (user + system, all threads, ms): the machine may be shared, this is its own cost. */
async function cpuMs(pid) {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
const logLine = (d, msg) => d.log().split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l && l.msg === msg);

// The torrents, built before the clock starts: one 16 KiB piece each, paused (nothing to check or fetch).
const bodies = [];
for (let i = 0; i < N; i++) {
  bodies.push(bencode.encode({ info: { name: `add-${i}.bin`, 'piece length': 16384, length: 16384, pieces: randomBytes(20) } }));
}
const args = { flags: ['paused'] };

/** POST /torrent as a JSON body (the .torrent in base64), or with --multipart as a form upload. */
function request(body) {
  if (!opt.multipart) {
    return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file: Buffer.from(body).toString('base64'), args }) };
  }
  const form = new FormData();
  form.append('file', new Blob([body]), 't.torrent');
  form.append('args', JSON.stringify(args));
  return { method: 'POST', body: form };
}

let d = await start();
let next = 0;
const cpu0 = await cpuMs(d.child.pid);
const t0 = performance.now();
await Promise.all(Array.from({ length: C }, async () => {
  while (next < N) {
    const r = await fetch(`${d.base}/torrent`, request(bodies[next++]));
    if (r.status !== 201) throw new Error(`POST /torrent ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
}));
const addMs = performance.now() - t0;
const addCpuMs = (await cpuMs(d.child.pid)) - cpu0;
const s0 = performance.now();
d.child.kill(opt.kill ? 'SIGKILL' : 'SIGTERM');
const exit = await d.closed;
const stopMs = performance.now() - s0;
const shutdown = logLine(d, 'shutting down');

d = await start();
const apiMs = performance.now() - d.t0;
const list = await (await fetch(`${d.base}/torrent`)).json();
const firstGetMs = performance.now() - d.t0;
const ready = logLine(d, 'ready');
console.log(JSON.stringify({
  torrents: N, clients: C, body: opt.multipart ? 'multipart' : 'json', adds_per_s: Math.round(N / (addMs / 1000)), daemon_cpu_us_per_add: Math.round((addCpuMs * 1000) / N), stop: opt.kill ? 'SIGKILL' : 'SIGTERM', stop_ms: Math.round(stopMs),
  exit_code: exit.code, stop_limit_ms: shutdown?.limit_ms, restart_api_ms: Math.round(apiMs), restart_first_get_ms: Math.round(firstGetMs),
  daemon_ready_ms: ready?.ready_ms, listed: list.length, restored: ready?.restored, rss_mib: ready?.rss_mib,
}));
d.child.kill('SIGTERM');
await d.closed;
await rm(work, { recursive: true, force: true });
