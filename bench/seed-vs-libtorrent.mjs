#!/usr/bin/env node
// Benchmark: seeding one torrent to a libtorrent downloader on 127.0.0.1, `spritzle seed` against
// libtorrent (test/peers/lt_peer.py seed) as the seed, interleaved run by run. The seed's start-up
// (spawn to ready, including the hash check of the data) and the transfer are reported apart, each in
// wall time and the seed process's CPU (user+sys, all threads, from /proc); medians and ratios at the end.
// A script, never a timed test.
//
//   pnpm run build && node bench/seed-vs-libtorrent.mjs [--size-mib 512] [--piece-kib 256] [--runs 3]
//     [--downloaders 1] [--node-arg=--cpu-prof ...]   (node flags for the spritzle seed, e.g. a profile)
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench.
import { parseArgs } from 'node:util';
import { ensureData, load, seedRun, summarise } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '512' }, 'piece-kib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' }, downloaders: { type: 'string', default: '1' },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const sizeMiB = Number(opt['size-mib']);
const downloaders = Number(opt.downloaders);
const runs = Number(opt.runs);
const data = await ensureData(sizeMiB, Number(opt['piece-kib']));
const loadBefore = load();
const results = { spritzle: [], libtorrent: [] };
for (let run = 1; run <= runs; run++) {
  for (const client of ['spritzle', 'libtorrent']) {
    const r = { run, ...(await seedRun(client, data, sizeMiB, downloaders, opt['node-arg'])) };
    console.error(JSON.stringify(r));
    results[client].push(r);
  }
}
console.log(JSON.stringify({
  bench: 'seed', size_mib: sizeMiB, piece_kib: Number(opt['piece-kib']), downloaders, runs, load_before: loadBefore, load_after: load(),
  ...summarise(results, ['mib_s', 'cpu_s_per_gib', 'startup_s', 'startup_cpu_s']),
}));
