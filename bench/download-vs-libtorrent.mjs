#!/usr/bin/env node
// Benchmark: download one torrent from a libtorrent seed on 127.0.0.1 with spritzle (`spritzle download`)
// and with libtorrent (test/peers/lt_peer.py get), interleaved run by run; report MiB/s and CPU seconds
// (user+sys of the whole process) of each, their medians and the ratios. A script, never a timed test.
//
//   pnpm run build && node bench/download-vs-libtorrent.mjs [--size-mib 512] [--piece-kib 256] [--runs 3] [--v2]
//
// --v2: a BitTorrent v2 torrent (BEP 52, made by the engine as libtorrent's create_torrent would): the
// downloaders check SHA-256 merkle trees of 16 KiB blocks instead of SHA-1 pieces.
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import createTorrent from 'create-torrent';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opt } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '512' }, 'piece-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' }, v2: { type: 'boolean', default: false } },
});
const sizeMiB = Number(opt['size-mib']);
const pieceKiB = Number(opt['piece-kib']);
const runs = Number(opt.runs);
const v2 = opt.v2;
const work = `/tmp/spritzle-bench/${sizeMiB}m-${pieceKiB}k${v2 ? '-v2' : ''}`;
const cli = join(root, 'packages/cli/dist/main.js');
const ltPeer = join(root, 'test/peers/lt_peer.py');

if (!existsSync(cli)) throw new Error('build first: pnpm run build');

/** Deterministic pseudo-random data (xorshift32) and its .torrent, made once. */
async function ensureData() {
  const torrentPath = join(work, 'data.torrent');
  if (existsSync(torrentPath)) return torrentPath;
  await mkdir(work, { recursive: true });
  const fh = await open(join(work, 'data'), 'w');
  const chunk = Buffer.alloc(4 << 20);
  const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
  let x = 0x9e3779b9;
  for (let written = 0; written < sizeMiB * 1024 * 1024; written += chunk.length) {
    for (let i = 0; i < words.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; words[i] = x; }
    await fh.write(chunk);
  }
  await fh.close();
  if (v2) {
    const { createTorrentFromPath } = await import('../packages/engine/dist/index.js');
    const created = await createTorrentFromPath(join(work, 'data'), { version: 'v2', pieceLength: pieceKiB * 1024 });
    await writeFile(torrentPath, created.torrent);
    return torrentPath;
  }
  const torrent = await new Promise((resolve, reject) => createTorrent(join(work, 'data'), {
    name: 'data', pieceLength: pieceKiB * 1024, announceList: [], urlList: [], creationDate: new Date(0),
  }, (err, t) => (err ? reject(err) : resolve(t))));
  await writeFile(torrentPath, torrent);
  return torrentPath;
}

/** Runs a command under bash and returns its stdout lines and the children's user+sys CPU (bash `times`). */
function timed(cmd) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('bash', ['-c', `${cmd}\nrc=$?; times; exit $rc`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const lines = out.trim().split('\n');
      const children = lines.pop().trim().split(/\s+/).map((s) => { const m = /(\d+)m([\d.]+)s/.exec(s); return Number(m[1]) * 60 + Number(m[2]); });
      lines.pop(); // the shell's own times
      resolve({ code, wall, cpu: children[0] + children[1], lines });
    });
  });
}

async function sha1(path) {
  const h = createHash('sha1');
  for await (const c of createReadStream(path)) h.update(c);
  return h.digest('hex');
}

function startSeed(torrentPath) {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work], { stdio: ['pipe', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => {
      const m = /READY (\d+)/.exec(String(d));
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((r) => { p.on('close', r); p.kill('SIGTERM'); }) });
    });
    p.on('close', (code) => reject(new Error(`libtorrent seed exited ${code}`)));
  });
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

const torrentPath = await ensureData();
const want = await sha1(join(work, 'data'));
const seed = await startSeed(torrentPath);
const results = { spritzle: [], libtorrent: [] };
try {
  for (let run = 1; run <= runs; run++) {
    for (const client of ['spritzle', 'libtorrent']) {
      const out = join(work, `out-${client}`);
      await rm(out, { recursive: true, force: true });
      const cmd = client === 'spritzle'
        // TCP against TCP: the libtorrent seed and downloader (lt_peer.py) are TCP-only, so spritzle's uTP-first
        // dial would only add its utp_connect_timeout (3 s) to every run. bench/utp-vs-libtorrent.mjs measures uTP.
        ? `node ${cli} download ${torrentPath} -o ${out} --peer 127.0.0.1:${seed.port} --no-dht --no-utp --json`
        : `/usr/bin/python3 ${ltPeer} get ${torrentPath} --save-path ${out} --peer 127.0.0.1:${seed.port}`;
      const r = await timed(cmd);
      const json = JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}');
      const seconds = json.seconds;
      const ok = r.code === 0 && (await sha1(join(out, 'data'))) === want;
      const line = { run, client, ok, seconds, mib_s: +(sizeMiB / seconds).toFixed(1), cpu_s: +r.cpu.toFixed(2), cpu_s_per_gib: +(r.cpu / (sizeMiB / 1024)).toFixed(2), wall_s: +r.wall.toFixed(2) };
      console.error(JSON.stringify(line));
      results[client].push(line);
      await rm(out, { recursive: true, force: true });
    }
  }
} finally {
  await seed.stop();
}
const summary = {};
for (const [client, rs] of Object.entries(results)) {
  summary[client] = { ok_runs: rs.filter((r) => r.ok).length, median_mib_s: median(rs.map((r) => r.mib_s)), median_cpu_s_per_gib: median(rs.map((r) => r.cpu_s_per_gib)), mib_s_runs: rs.map((r) => r.mib_s) };
}
summary.speed_ratio = +(summary.spritzle.median_mib_s / summary.libtorrent.median_mib_s).toFixed(2);
summary.cpu_ratio = +(summary.spritzle.median_cpu_s_per_gib / summary.libtorrent.median_cpu_s_per_gib).toFixed(2);
console.log(JSON.stringify({ size_mib: sizeMiB, piece_kib: pieceKiB, v2, runs, ...summary }));
