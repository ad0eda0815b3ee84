#!/usr/bin/env node
// Benchmark: a small swarm on 127.0.0.1, spritzle against libtorrent in the same roles, interleaved:
//  - download: one client downloads from 4 libtorrent seeds at once (`spritzle download --peer` x4 vs
//    lt_peer.py get --peer x4); MiB/s and CPU per GiB of the whole downloading process;
//  - seed: one client seeds to 4 libtorrent downloaders at once; aggregate MiB/s (4 x size over the slowest
//    downloader's time) and the seed's transfer CPU per GiB sent, start-up (with its hash check) apart.
// Medians and spritzle/libtorrent ratios at the end. A script, never a timed test.
//
//   pnpm run build && node bench/swarm.mjs [--size-mib 256] [--piece-kib 256] [--runs 3] [--peers 4]
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { cli, ensureData, load, ltPeer, ltSeed, round, seedRun, sha1, summarise, timed } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' }, 'piece-kib': { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' }, peers: { type: 'string', default: '4' },
  },
});
const sizeMiB = Number(opt['size-mib']);
const peers = Number(opt.peers);
const runs = Number(opt.runs);
const data = await ensureData(sizeMiB, Number(opt['piece-kib']));
const want = await sha1(join(data.work, 'data'));
const loadBefore = load();

async function downloadRun(client, ports) {
  const out = join(data.work, `swarm-${client}`);
  await rm(out, { recursive: true, force: true });
  const peerArgs = ports.map((p) => `--peer 127.0.0.1:${p}`).join(' ');
  const cmd = client === 'spritzle'
    ? `${process.execPath} ${cli} download ${data.torrentPath} -o ${out} ${peerArgs} --no-dht --no-utp --json`
    : `/usr/bin/python3 ${ltPeer} get ${data.torrentPath} --save-path ${out} ${peerArgs}`;
  const r = await timed(cmd);
  const json = JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}');
  const ok = r.code === 0 && (await sha1(join(out, 'data'))) === want;
  await rm(out, { recursive: true, force: true });
  return { client, ok, mib_s: round(sizeMiB / json.seconds, 1), cpu_s: round(r.cpu), cpu_s_per_gib: round(r.cpu / (sizeMiB / 1024)) };
}

const down = { spritzle: [], libtorrent: [] };
const up = { spritzle: [], libtorrent: [] };
const seeds = [];
try {
  for (let i = 0; i < peers; i++) seeds.push(await ltSeed(data.torrentPath, data.work));
  const ports = seeds.map((s) => s.match[1]);
  for (let run = 1; run <= runs; run++) {
    for (const client of ['spritzle', 'libtorrent']) {
      const r = { run, role: 'download', ...(await downloadRun(client, ports)) };
      console.error(JSON.stringify(r));
      down[client].push(r);
    }
  }
} finally {
  for (const s of seeds) await s.stop();
}
for (let run = 1; run <= runs; run++) {
  for (const client of ['spritzle', 'libtorrent']) {
    const r = { run, role: 'seed', ...(await seedRun(client, data, sizeMiB, peers)) };
    console.error(JSON.stringify(r));
    up[client].push(r);
  }
}
console.log(JSON.stringify({
  bench: 'swarm', size_mib: sizeMiB, piece_kib: Number(opt['piece-kib']), peers, runs, load_before: loadBefore, load_after: load(),
  download: summarise(down, ['mib_s', 'cpu_s_per_gib']),
  seed: summarise(up, ['mib_s', 'cpu_s_per_gib', 'startup_s', 'startup_cpu_s']),
}));
