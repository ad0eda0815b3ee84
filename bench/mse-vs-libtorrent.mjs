#!/usr/bin/env node
// Benchmark: encrypted downloads (MSE/PE with RC4 payload) from a libtorrent seed on 127.0.0.1 whose
// policy is pe_forced with RC4 only, by spritzle and by libtorrent, interleaved run by run; plus
// spritzle's plaintext download from a plaintext libtorrent seed of the same data. Reports MiB/s and
// CPU seconds (user+sys of the whole process) per GiB, medians, and the ratios the issue sets targets
// for (spritzle rc4 / libtorrent rc4 >= 0.8, spritzle rc4 / spritzle plaintext >= 0.7). A script, never a test.
//
//   npx tsc -b && node bench/mse-vs-libtorrent.mjs [--size-mib 512] [--piece-kib 256] [--runs 3]
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench (shared
// with bench/download-vs-libtorrent.mjs). spritzle runs as a child of this script in library mode
// (`--child`), so its settings (out_enc_policy, allowed_enc_level) are set exactly.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const engine = join(root, 'packages/engine/dist/index.js');
const ltPeer = join(root, 'test/peers/lt_peer.py');

if (process.argv[2] === '--child') {
  // spritzle in library mode: download TORRENT into OUT from 127.0.0.1:PORT with the given policy.
  const [, , , torrentPath, out, port, policy] = process.argv;
  const { Session } = await import(engine);
  const t0 = performance.now();
  const session = await Session.create({
    listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false, save_path: out,
    out_enc_policy: policy === 'plaintext' ? 'disabled' : 'forced',
    in_enc_policy: policy === 'plaintext' ? 'disabled' : 'forced',
    allowed_enc_level: policy === 'plaintext' ? 'both' : 'rc4',
  });
  const done = new Promise((resolve, reject) => {
    session.on('torrent_finished', () => resolve());
    session.on('torrent_error', ({ error }) => reject(new Error(error)));
  });
  const handle = await session.addTorrent({ ti: new Uint8Array(await readFile(torrentPath)), save_path: out, peers: [`127.0.0.1:${port}`] });
  // What the connection is, once (the peer list empties when both sides are seeds).
  const encryption = new Set();
  const look = setInterval(() => { for (const p of handle.peers()) encryption.add(p.rc4_encrypted ? 'rc4' : p.plaintext_encrypted ? 'plaintext' : 'none'); }, 100);
  if (!handle.status().is_finished) await done;
  clearInterval(look);
  const seconds = (performance.now() - t0) / 1000;
  await session.close();
  console.log(JSON.stringify({ seconds, encryption: [...encryption] }));
  process.exit(0);
}

const { values: opt } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '512' }, 'piece-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' } },
});
const sizeMiB = Number(opt['size-mib']);
const pieceKiB = Number(opt['piece-kib']);
const runs = Number(opt.runs);
const work = `/tmp/spritzle-bench/${sizeMiB}m-${pieceKiB}k`;

if (!existsSync(engine)) throw new Error('build first: npx tsc -b');

/** Deterministic pseudo-random data (xorshift32) and its .torrent, made once (as download-vs-libtorrent.mjs does). */
async function ensureData() {
  const torrentPath = join(work, 'data.torrent');
  if (existsSync(torrentPath)) return torrentPath;
  const { default: createTorrent } = await import('create-torrent');
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

function startSeed(torrentPath, encryption) {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work, '--encryption', encryption, '--seed-mode'],
      { stdio: ['pipe', 'pipe', 'inherit'] });
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
const forcedSeed = await startSeed(torrentPath, 'forced');
const plainSeed = await startSeed(torrentPath, 'plaintext');
const clients = {
  spritzle_rc4: (out) => `node ${fileURLToPath(import.meta.url)} --child ${torrentPath} ${out} ${forcedSeed.port} rc4`,
  libtorrent_rc4: (out) => `/usr/bin/python3 ${ltPeer} get ${torrentPath} --save-path ${out} --peer 127.0.0.1:${forcedSeed.port} --encryption forced`,
  spritzle_plaintext: (out) => `node ${fileURLToPath(import.meta.url)} --child ${torrentPath} ${out} ${plainSeed.port} plaintext`,
};
const results = Object.fromEntries(Object.keys(clients).map((c) => [c, []]));
try {
  for (let run = 1; run <= runs; run++) {
    for (const [client, cmd] of Object.entries(clients)) {
      const out = join(work, `out-${client}`);
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });
      const r = await timed(cmd(out));
      const json = JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}');
      const seconds = json.seconds;
      const ok = r.code === 0 && (await sha1(join(out, 'data'))) === want;
      const line = { run, client, ok, seconds, mib_s: +(sizeMiB / seconds).toFixed(1), cpu_s: +r.cpu.toFixed(2), cpu_s_per_gib: +(r.cpu / (sizeMiB / 1024)).toFixed(2), wall_s: +r.wall.toFixed(2), encryption: json.encryption ?? json.peer_encryption };
      console.error(JSON.stringify(line));
      results[client].push(line);
      await rm(out, { recursive: true, force: true });
    }
  }
} finally {
  await forcedSeed.stop();
  await plainSeed.stop();
}
const summary = {};
for (const [client, rs] of Object.entries(results)) {
  summary[client] = { ok_runs: rs.filter((r) => r.ok).length, median_mib_s: median(rs.map((r) => r.mib_s)), median_cpu_s_per_gib: median(rs.map((r) => r.cpu_s_per_gib)), mib_s_runs: rs.map((r) => r.mib_s) };
}
summary.rc4_vs_libtorrent_rc4 = +(summary.spritzle_rc4.median_mib_s / summary.libtorrent_rc4.median_mib_s).toFixed(2);
summary.rc4_vs_own_plaintext = +(summary.spritzle_rc4.median_mib_s / summary.spritzle_plaintext.median_mib_s).toFixed(2);
console.log(JSON.stringify({ size_mib: sizeMiB, piece_kib: pieceKiB, runs, ...summary }));
