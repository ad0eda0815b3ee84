#!/usr/bin/env node
// Daemon start-up with many resumed torrents: fills a state directory with N seeding torrents (64 KiB of
// data each), stops the daemon, then times `spritzle start` from spawn to a ready API (the daemon's own
// "ready" log line and the first successful GET /torrent) and reports the daemon's memory then.
//
//   pnpm run build && node bench/daemon-resume.mjs [--torrents 1000]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bencode from 'bencode';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opt } = parseArgs({ options: { torrents: { type: 'string', default: '1000' } } });
const N = Number(opt.torrents);
const cli = join(root, 'packages/cli/dist/main.js');
if (!existsSync(cli)) throw new Error('build first: pnpm run build');
const work = await mkdtemp(join(tmpdir(), 'spritzle-resume-bench-'));
const dl = join(work, 'dl');
const state = join(work, 'state');
await mkdir(dl, { recursive: true });

function start() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
    '--no-dht', '--log-level', 'info', '--state-dir', state, '--download-dir', dl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /spritzle API on (\S+)/.exec(out);
      if (m) resolve({ child, base: m[1].replace(/\/$/, ''), t0, log: () => err });
    });
    child.on('close', (c) => reject(new Error(`daemon exited ${c}: ${err}`)));
  });
}
const stop = (d) => new Promise((r) => { d.child.on('close', r); d.child.kill('SIGTERM'); });

// Fill: N torrents over 64 KiB files, added over the API (they check and seed).
let d = await start();
for (let i = 0; i < N; i++) {
  const data = randomBytes(65536);
  await writeFile(join(dl, `f${i}.bin`), data);
  const pieces = Buffer.concat([0, 1, 2, 3].map((p) => createHash('sha1').update(data.subarray(p * 16384, (p + 1) * 16384)).digest()));
  const form = new FormData();
  form.append('file', new Blob([bencode.encode({ info: { name: `f${i}.bin`, 'piece length': 16384, length: 65536, pieces } })]), 't.torrent');
  const r = await fetch(`${d.base}/torrent`, { method: 'POST', body: form });
  if (r.status !== 201) throw new Error(await r.text());
}
for (;;) {
  const s = await (await fetch(`${d.base}/session`)).json();
  if (s['ses.num_seeding_torrents'] === N) break;
  await new Promise((r) => setTimeout(r, 100));
}
await stop(d);

// Measure: restart with N torrents to resume.
d = await start();
const printed = performance.now() - d.t0;
const list = await (await fetch(`${d.base}/torrent`)).json();
const firstGet = performance.now() - d.t0;
const ready = d.log().split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l && l.msg === 'ready');
const session = await (await fetch(`${d.base}/session`)).json();
const rss = Number((await readFile(`/proc/${d.child.pid}/status`, 'utf8')).match(/VmRSS:\s+(\d+)/)[1]) / 1024;
console.log(JSON.stringify({
  torrents: list.length, api_printed_ms: Math.round(printed), first_get_ms: Math.round(firstGet), daemon_ready_ms: ready?.ready_ms,
  restored: ready?.restored, broken: ready?.broken, blocks_hashed: session['disk.num_blocks_hashed'],
  seeding: session['ses.num_seeding_torrents'], rss_mib: Math.round(rss),
}));
await stop(d);
await rm(work, { recursive: true, force: true });
