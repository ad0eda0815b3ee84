#!/usr/bin/env node
// Benchmark: one uTP connection from a libtorrent seed (TCP off both ways), downloaded by spritzle
// (`spritzle download`) and by libtorrent (lt_peer.py get --transport utp), side by side, on loopback and
// through the seeded UDP relay (test/helpers/udp-relay.mjs, its own process) at 50 ms RTT with 0 % and
// 0.5 % loss. Reports MiB/s and CPU seconds per GiB (user+sys of the downloader's process) and the ratios.
// A script, never a timed test.
//
// In that direction libtorrent's sender decides the rate (its congestion control reacts to the loss), so
// `--direction up` (or `both`) also measures the other one: a libtorrent downloader fetching through the
// relay from `spritzle seed` and from a libtorrent seed, side by side: our uTP sender against libtorrent's.
// There MiB/s is the downloader's and CPU is the seed's (user+sys over the transfer).
//
//   pnpm run build && node bench/utp-vs-libtorrent.mjs [--size-mib 256] [--runs 1] [--rtt-ms 50] [--loss 0.005]
//        [--direction down|up|both] [--only <scenario prefix>]
//
// Needs Debian's python3-libtorrent (/usr/bin/python3). Data is cached in /tmp/spritzle-bench.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cli, cpuOf, downloadSummary, ensureData, ltGet, ltPeer, ltSeed, root, sha1, spritzleSeed, startPortProcess, timedDownload } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' }, runs: { type: 'string', default: '1' },
    'rtt-ms': { type: 'string', default: '50' }, loss: { type: 'string', default: '0.005' },
    only: { type: 'string', default: '' }, direction: { type: 'string', default: 'down' },
  },
});
const sizeMiB = Number(opt['size-mib']);
const runs = Number(opt.runs);
const oneWay = Number(opt['rtt-ms']) / 2;
const relayScript = join(root, 'test/helpers/udp-relay.mjs');

// 256 KiB pieces, and data of its own seed
const { work, torrentPath } = await ensureData(sizeMiB, 256, { work: `/tmp/spritzle-bench/utp-${sizeMiB}m`, seed: 0x2545f491 });
const want = await sha1(join(work, 'data'));
const direction = opt.direction;
if (!['down', 'up', 'both'].includes(direction)) throw new Error('--direction: down, up or both');
const scenarios = [
  { name: 'loopback', relay: null },
  { name: `relay ${2 * oneWay} ms RTT, 0 % loss`, relay: { delay: oneWay, loss: 0 } },
  { name: `relay ${2 * oneWay} ms RTT, ${Number(opt.loss) * 100} % loss`, relay: { delay: oneWay, loss: Number(opt.loss) } },
].filter((s) => !opt.only || s.name.startsWith(opt.only));
const report = [];
const startRelay = (target, relay, run) => startPortProcess(process.execPath, [relayScript, '--target', `127.0.0.1:${target}`,
  '--delay', String(relay.delay), '--loss', String(relay.loss), '--seed', String(run)], 'RELAY');

if (direction !== 'down') {
  // Our uTP sender against libtorrent's: the same libtorrent downloader, through a fresh relay each time.
  for (const sc of scenarios) {
    const results = { spritzle: [], libtorrent: [] };
    for (let run = 1; run <= runs; run++) {
      for (const client of ['spritzle', 'libtorrent']) {
        const seed = client === 'spritzle'
          ? await spritzleSeed(torrentPath, work)
          : await ltSeed(torrentPath, work, ['--transport', 'utp', '--seed-mode']);
        const port = Number(seed.match[1]);
        const relay = sc.relay ? await startRelay(port, sc.relay, run) : null;
        const out = join(work, `up-${client}`);
        await rm(out, { recursive: true, force: true });
        const cpu0 = cpuOf(seed.pid);
        const got = await ltGet(torrentPath, out, [relay ? relay.port : port], 900, ['--transport', 'utp']);
        const cpu = cpuOf(seed.pid) - cpu0;
        await relay?.stop();
        await seed.stop();
        const ok = got.ok === true && (await sha1(join(out, 'data'))) === want;
        const line = { scenario: `seeding, ${sc.name}`, run, client, ok, seconds: got.seconds, mib_s: +(sizeMiB / got.seconds).toFixed(1),
          cpu_s: +cpu.toFixed(2), cpu_s_per_gib: +(cpu / (sizeMiB / 1024)).toFixed(2) };
        console.error(JSON.stringify(line));
        results[client].push(line);
        await rm(out, { recursive: true, force: true });
      }
    }
    const summary = { scenario: `seeding, ${sc.name}` };
    for (const [client, rs] of Object.entries(results)) summary[client] = downloadSummary(rs);
    summary.speed_ratio = +(summary.spritzle.median_mib_s / summary.libtorrent.median_mib_s).toFixed(2);
    summary.cpu_ratio = +(summary.spritzle.median_cpu_s_per_gib / summary.libtorrent.median_cpu_s_per_gib).toFixed(2);
    report.push(summary);
  }
}

const seed = direction === 'up' ? null
  : await startPortProcess('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work, '--transport', 'utp', '--seed-mode'], 'READY');
try {
  for (const sc of direction === 'up' ? [] : scenarios) {
    const results = { spritzle: [], libtorrent: [] };
    for (let run = 1; run <= runs; run++) {
      for (const client of ['spritzle', 'libtorrent']) {
        // A fresh relay per download: the same seeded impairments for both clients.
        const relay = sc.relay ? await startRelay(seed.port, sc.relay, run) : null;
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
  await seed?.stop();
}
console.log(JSON.stringify({ size_mib: sizeMiB, runs, report }, null, 1));
