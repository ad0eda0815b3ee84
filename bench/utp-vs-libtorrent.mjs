#!/usr/bin/env node
// Benchmark: one uTP connection from a libtorrent seed (TCP off both ways), downloaded by spritzle
// (`spritzle download`) and by libtorrent (lt_peer.py get --transport utp), side by side, on loopback and
// through the seeded UDP relay (test/helpers/udp-relay.mjs, its own process) at 50 ms RTT with 0 % and
// 0.5 % loss. Reports MiB/s and CPU seconds per GiB (user+sys of the downloader's process) and the ratios.
// A script, never a timed test.
//
//   pnpm run build && node bench/utp-vs-libtorrent.mjs [--size-mib 256] [--runs 1] [--rtt-ms 50] [--loss 0.005]
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cli, downloadSummary, ensureData, ltPeer, root, sha1, startPortProcess, timedDownload } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' }, runs: { type: 'string', default: '1' },
    'rtt-ms': { type: 'string', default: '50' }, loss: { type: 'string', default: '0.005' },
    only: { type: 'string', default: '' },
  },
});
const sizeMiB = Number(opt['size-mib']);
const runs = Number(opt.runs);
const oneWay = Number(opt['rtt-ms']) / 2;
const relayScript = join(root, 'test/helpers/udp-relay.mjs');

// 256 KiB pieces, and data of its own seed
const { work, torrentPath } = await ensureData(sizeMiB, 256, { work: `/tmp/spritzle-bench/utp-${sizeMiB}m`, seed: 0x2545f491 });
const want = await sha1(join(work, 'data'));
const seed = await startPortProcess('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work, '--transport', 'utp', '--seed-mode'], 'READY');
const scenarios = [
  { name: 'loopback', relay: null },
  { name: `relay ${2 * oneWay} ms RTT, 0 % loss`, relay: { delay: oneWay, loss: 0 } },
  { name: `relay ${2 * oneWay} ms RTT, ${Number(opt.loss) * 100} % loss`, relay: { delay: oneWay, loss: Number(opt.loss) } },
].filter((s) => !opt.only || s.name.startsWith(opt.only));
const report = [];
try {
  for (const sc of scenarios) {
    const results = { spritzle: [], libtorrent: [] };
    for (let run = 1; run <= runs; run++) {
      for (const client of ['spritzle', 'libtorrent']) {
        // A fresh relay per download: the same seeded impairments for both clients.
        const relay = sc.relay
          ? await startPortProcess(process.execPath, [relayScript, '--target', `127.0.0.1:${seed.port}`, '--delay', String(sc.relay.delay), '--loss', String(sc.relay.loss), '--seed', String(run)], 'RELAY')
          : null;
        const port = relay ? relay.port : seed.port;
        const out = join(work, `out-${client}`);
        await rm(out, { recursive: true, force: true });
        const cmd = client === 'spritzle'
          ? `node ${cli} download ${torrentPath} -o ${out} --peer 127.0.0.1:${port} --no-dht --json`
          : `/usr/bin/python3 ${ltPeer} get ${torrentPath} --save-path ${out} --peer 127.0.0.1:${port} --transport utp --timeout 900`;
        const { fields: { wall_s, ...fields } } = await timedDownload(cmd, join(out, 'data'), want, sizeMiB);
        await relay?.stop();
        const line = { scenario: sc.name, run, client, ...fields };
        console.error(JSON.stringify(line));
        results[client].push(line);
        await rm(out, { recursive: true, force: true });
      }
    }
    const summary = { scenario: sc.name };
    for (const [client, rs] of Object.entries(results)) {
      summary[client] = downloadSummary(rs);
    }
    summary.speed_ratio = +(summary.spritzle.median_mib_s / summary.libtorrent.median_mib_s).toFixed(2);
    summary.cpu_ratio = +(summary.spritzle.median_cpu_s_per_gib / summary.libtorrent.median_cpu_s_per_gib).toFixed(2);
    report.push(summary);
  }
} finally {
  await seed.stop();
}
console.log(JSON.stringify({ size_mib: sizeMiB, runs, report }, null, 1));
