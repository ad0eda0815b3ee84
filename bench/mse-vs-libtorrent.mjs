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
import { existsSync } from 'node:fs';
import { mkdir, rm, readFile } from 'node:fs/promises';
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

if (!existsSync(engine)) throw new Error('build first: npx tsc -b');
const { downloadSummary, ensureData, sha1, startPortProcess, timedDownload } = await import('./lib.mjs');

const startSeed = (torrentPath, encryption) => startPortProcess('/usr/bin/python3',
  [ltPeer, 'seed', torrentPath, '--save-path', work, '--encryption', encryption, '--seed-mode'], 'READY');

const { work, torrentPath } = await ensureData(sizeMiB, pieceKiB);
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
      const { fields, json } = await timedDownload(cmd(out), join(out, 'data'), want, sizeMiB);
      const line = { run, client, ...fields, encryption: json.encryption ?? json.peer_encryption };
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
  summary[client] = { ...downloadSummary(rs), mib_s_runs: rs.map((r) => r.mib_s) };
}
summary.rc4_vs_libtorrent_rc4 = +(summary.spritzle_rc4.median_mib_s / summary.libtorrent_rc4.median_mib_s).toFixed(2);
summary.rc4_vs_own_plaintext = +(summary.spritzle_rc4.median_mib_s / summary.spritzle_plaintext.median_mib_s).toFixed(2);
console.log(JSON.stringify({ size_mib: sizeMiB, piece_kib: pieceKiB, runs, ...summary }));
