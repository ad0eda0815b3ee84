#!/usr/bin/env node
// Benchmark: encrypted downloads (MSE/PE with RC4 payload) on 127.0.0.1, interleaved run by run:
//   from a libtorrent seed (pe_forced, RC4 only): spritzle and libtorrent as downloaders;
//   from a plaintext libtorrent seed of the same data: spritzle and libtorrent, plaintext;
//   from a spritzle seed (forced RC4, and plaintext): spritzle, to show what our own MSE costs when the
//   seed is not libtorrent.
// Reports MiB/s and CPU seconds (user+sys of the whole downloader) per GiB, and the seed's CPU over the
// same download: per GiB, in cores, and its busiest thread's share of one core (libtorrent's network thread
// does its RC4, so ~1.0 there means the seed is the ceiling). Medians, and the ratios the issue sets targets
// for (spritzle rc4 / libtorrent rc4 >= 0.8, spritzle rc4 / spritzle plaintext >= 0.7). A script, never a test.
//
//   npx tsc -b && flock /tmp/bench.lock node bench/mse-vs-libtorrent.mjs [--size-mib 512] [--piece-kib 256] [--runs 3]
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench (shared
// with bench/download-vs-libtorrent.mjs). spritzle runs as a child of this script in library mode
// (`--child` downloads, `--seed-child` seeds), so its settings (out_enc_policy, allowed_enc_level) are set
// exactly; TCP only, like the libtorrent peers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const engine = join(root, 'packages/engine/dist/index.js');
const ltPeer = join(root, 'test/peers/lt_peer.py');

// TCP only, as the libtorrent peers: uTP-first dialling would wait utp_connect_timeout (3 s) per download.
const encSettings = (policy) => ({
  enable_outgoing_utp: false, enable_incoming_utp: false,
  out_enc_policy: policy === 'plaintext' ? 'disabled' : 'forced',
  in_enc_policy: policy === 'plaintext' ? 'disabled' : 'forced',
  allowed_enc_level: policy === 'plaintext' ? 'both' : 'rc4',
});

if (process.argv[2] === '--seed-child') {
  // spritzle seeding in library mode (seed_mode: the data is the bench's own), until SIGTERM or stdin's EOF.
  const [, , , torrentPath, savePath, policy] = process.argv;
  const { Session } = await import(engine);
  const session = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false, save_path: savePath, ...encSettings(policy) });
  await session.addTorrent({ ti: new Uint8Array(await readFile(torrentPath)), save_path: savePath, seed_mode: true });
  const stop = async () => { await session.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
  console.log(`READY ${session.listenPort}`);
  await new Promise(() => {}); // the session's listen socket keeps the process alive until stop()
} else if (process.argv[2] === '--child') {
  // spritzle in library mode: download TORRENT into OUT from 127.0.0.1:PORT with the given policy.
  const [, , , torrentPath, out, port, policy] = process.argv;
  const { Session } = await import(engine);
  const t0 = performance.now();
  const session = await Session.create({
    listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false, save_path: out,
    ...encSettings(policy),
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

if (!existsSync(engine)) throw new Error('build first: npx tsc -b');
const { downloadSummary, ensureData, sha1, startProcess, timedDownload, round, median, load } = await import('./lib.mjs');

const startLtSeed = (torrentPath, encryption) => startProcess('/usr/bin/python3',
  [ltPeer, 'seed', torrentPath, '--save-path', work, '--encryption', encryption, '--seed-mode', '--stdin-lifeline'], /READY (\d+)/);
const startSpritzleSeed = (torrentPath, policy) => startProcess(process.execPath,
  [fileURLToPath(import.meta.url), '--seed-child', torrentPath, work, policy], /READY (\d+)/);

/**
 * CPU seconds (user+sys) of every thread of a live process: libtorrent's network thread does the RC4, so the
 * busiest thread against the wall time says whether the seed saturates a core.
 */
function threadCpu(pid) {
  const byThread = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byThread.set(tid, (Number(f[11]) + Number(f[12])) / 100); // utime, stime in USER_HZ
    } catch { /* the thread ended */ }
  }
  return byThread;
}
function seedCpuSince(pid, before, wall, mib) {
  const now = threadCpu(pid);
  let total = 0;
  let busiest = 0;
  for (const [tid, cpu] of now) {
    const d = cpu - (before.get(tid) ?? 0);
    total += d;
    busiest = Math.max(busiest, d);
  }
  return { seed_cpu_s_per_gib: round(total / (mib / 1024)), seed_cpu_cores: round(total / wall), seed_busiest_thread_core: round(busiest / wall) };
}

const { work, torrentPath } = await ensureData(sizeMiB, pieceKiB);
const want = await sha1(join(work, 'data'));
const seeds = {
  lt_forced: await startLtSeed(torrentPath, 'forced'),
  lt_plaintext: await startLtSeed(torrentPath, 'plaintext'),
  spritzle_forced: await startSpritzleSeed(torrentPath, 'rc4'),
  spritzle_plaintext: await startSpritzleSeed(torrentPath, 'plaintext'),
};
const port = (seed) => seeds[seed].match[1];
const spritzleGet = (seed, policy) => (out) => `node ${fileURLToPath(import.meta.url)} --child ${torrentPath} ${out} ${port(seed)} ${policy}`;
const ltGet = (seed, encryption) => (out) => `/usr/bin/python3 ${ltPeer} get ${torrentPath} --save-path ${out} --peer 127.0.0.1:${port(seed)} --encryption ${encryption}`;
// downloader <- seed; interleaved run by run
const clients = {
  spritzle_rc4: ['lt_forced', spritzleGet('lt_forced', 'rc4')],
  libtorrent_rc4: ['lt_forced', ltGet('lt_forced', 'forced')],
  spritzle_plaintext: ['lt_plaintext', spritzleGet('lt_plaintext', 'plaintext')],
  libtorrent_plaintext: ['lt_plaintext', ltGet('lt_plaintext', 'plaintext')],
  spritzle_rc4_from_spritzle: ['spritzle_forced', spritzleGet('spritzle_forced', 'rc4')],
  spritzle_plaintext_from_spritzle: ['spritzle_plaintext', spritzleGet('spritzle_plaintext', 'plaintext')],
};
const results = Object.fromEntries(Object.keys(clients).map((c) => [c, []]));
try {
  for (let run = 1; run <= runs; run++) {
    for (const [client, [seed, cmd]] of Object.entries(clients)) {
      const out = join(work, `out-${client}`);
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });
      const before = threadCpu(seeds[seed].pid);
      const { fields, json } = await timedDownload(cmd(out), join(out, 'data'), want, sizeMiB);
      const line = { run, client, seed, ...fields, ...seedCpuSince(seeds[seed].pid, before, fields.seconds, sizeMiB), encryption: json.encryption ?? json.peer_encryption, load: load() };
      console.error(JSON.stringify(line));
      results[client].push(line);
      await rm(out, { recursive: true, force: true });
    }
  }
} finally {
  for (const s of Object.values(seeds)) await s.stop();
}
const summary = {};
for (const [client, rs] of Object.entries(results)) {
  summary[client] = {
    ...downloadSummary(rs), mib_s_runs: rs.map((r) => r.mib_s),
    seed_median_cpu_s_per_gib: median(rs.map((r) => r.seed_cpu_s_per_gib)),
    seed_median_busiest_thread_core: median(rs.map((r) => r.seed_busiest_thread_core)),
    // Both processes share this machine's cores: what one GiB costs the two together bounds the speed.
    both_sides_median_cpu_s_per_gib: median(rs.map((r) => round(r.cpu_s_per_gib + r.seed_cpu_s_per_gib))),
  };
}
const ratio = (a, b) => round(summary[a].median_mib_s / summary[b].median_mib_s);
summary.rc4_vs_libtorrent_rc4 = ratio('spritzle_rc4', 'libtorrent_rc4');
summary.rc4_vs_own_plaintext = ratio('spritzle_rc4', 'spritzle_plaintext');
summary.libtorrent_rc4_vs_its_plaintext = ratio('libtorrent_rc4', 'libtorrent_plaintext');
summary.from_spritzle_rc4_vs_plaintext = ratio('spritzle_rc4_from_spritzle', 'spritzle_plaintext_from_spritzle');
console.log(JSON.stringify({ size_mib: sizeMiB, piece_kib: pieceKiB, runs, ...summary }));
