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
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cli, downloadSummary, ensureData, ltPeer, sha1, startPortProcess, timedDownload } from './lib.mjs';

const { values: opt } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '512' }, 'piece-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '3' }, v2: { type: 'boolean', default: false } },
});
const sizeMiB = Number(opt['size-mib']);
const pieceKiB = Number(opt['piece-kib']);
const runs = Number(opt.runs);
const v2 = opt.v2;

const { work, torrentPath } = await ensureData(sizeMiB, pieceKiB, { work: `/tmp/spritzle-bench/${sizeMiB}m-${pieceKiB}k${v2 ? '-v2' : ''}`, v2 });
const want = await sha1(join(work, 'data'));
const seed = await startPortProcess('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work], 'READY');
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
      const { fields } = await timedDownload(cmd, join(out, 'data'), want, sizeMiB);
      const line = { run, client, ...fields };
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
  summary[client] = { ...downloadSummary(rs), mib_s_runs: rs.map((r) => r.mib_s) };
}
summary.speed_ratio = +(summary.spritzle.median_mib_s / summary.libtorrent.median_mib_s).toFixed(2);
summary.cpu_ratio = +(summary.spritzle.median_cpu_s_per_gib / summary.libtorrent.median_cpu_s_per_gib).toFixed(2);
console.log(JSON.stringify({ size_mib: sizeMiB, piece_kib: pieceKiB, v2, runs, ...summary }));
