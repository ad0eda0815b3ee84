#!/usr/bin/env node
// Many torrents downloading at once: --torrents (200) torrents of --size-mib (1) each, downloaded by one
// spritzle session from --seeds (4) libtorrent seeds on 127.0.0.1 that each seed all of them; against one
// torrent holding the same bytes downloaded the same way, interleaved run by run. Reports aggregate MiB/s
// and CPU per GiB (the downloading process, all threads, from spawn to the last torrent finished) of
// each and their ratio: the cost of a torrent should not grow with their number.
//
//   pnpm run build && node bench/many-active.mjs [--torrents 200] [--size-mib 1] [--seeds 4] [--runs 3]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import createTorrent from 'create-torrent';
import { cpuOf, ensureData, load, median, root, round, startProcess } from './lib.mjs';

const { values: opt } = parseArgs({ options: {
  torrents: { type: 'string', default: '200' }, 'size-mib': { type: 'string', default: '1' },
  seeds: { type: 'string', default: '4' }, runs: { type: 'string', default: '3' },
} });
const K = Number(opt.torrents);
const each = Number(opt['size-mib']);
const totalMiB = K * each;
const runs = Number(opt.runs);

// The single torrent's data, and K torrents over slices of it (made once).
const single = await ensureData(totalMiB, 256);
const manyDir = `/tmp/spritzle-bench/many-${K}x${each}m`;
if (!existsSync(join(manyDir, 'torrents', `${K - 1}.torrent`))) {
  await mkdir(join(manyDir, 'data'), { recursive: true });
  await mkdir(join(manyDir, 'torrents'), { recursive: true });
  const all = readFileSync(join(single.work, 'data'));
  for (let i = 0; i < K; i++) {
    const name = `t${i}.bin`;
    const bytes = all.subarray(i * each * 2 ** 20, (i + 1) * each * 2 ** 20);
    await writeFile(join(manyDir, 'data', name), bytes);
    const t = await new Promise((res, rej) => createTorrent(Buffer.from(bytes), {
      name, pieceLength: 256 * 1024, announceList: [], urlList: [], creationDate: new Date(0),
    }, (err, tor) => (err ? rej(err) : res(tor))));
    await writeFile(join(manyDir, 'torrents', `${i}.torrent`), t);
  }
}
const sets = {
  single: { dir: single.work, torrents: [single.torrentPath] },
  many: { dir: join(manyDir, 'data'), torrents: (await readdir(join(manyDir, 'torrents'))).map((f) => join(manyDir, 'torrents', f)) },
};

// A libtorrent seed of many torrents (seed_mode: no check), 127.0.0.1 only; prints READY <port>.
const LT_SEED = `
import sys, time, libtorrent as lt
save, files = sys.argv[1], sys.argv[2:]
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
  "enable_natpmp": False, "enable_outgoing_utp": False, "enable_incoming_utp": False, "dht_bootstrap_nodes": "",
  "allow_multiple_connections_per_ip": True, "unchoke_slots_limit": -1, "connections_limit": 5000,
  "active_seeds": -1, "active_limit": -1, "alert_mask": 0})
for f in files:
    p = lt.add_torrent_params(); p.ti = lt.torrent_info(f); p.save_path = save
    p.flags = lt.torrent_flags.seed_mode | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
    ses.add_torrent(p)
while not ses.listen_port(): time.sleep(0.05)
print("READY", ses.listen_port(), flush=True)
sys.stdin.read()
`;

// The downloader: one engine session, every torrent added with every seed as a peer.
const DOWNLOADER = `
import { Session } from ${JSON.stringify(join(root, 'packages/engine/dist/index.js'))};
import { readFileSync } from 'node:fs';
const [out, ports, ...files] = process.argv.slice(2);
const peers = ports.split(',').map((p) => '127.0.0.1:' + p);
const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, connections_limit: 5000 });
let left = files.length;
const t0 = performance.now();
const done = new Promise((r) => s.on('torrent_finished', () => { if (--left === 0) r(); }));
s.on('torrent_error', (e) => { console.error(JSON.stringify(e)); process.exit(3); });
for (const f of files) await s.addTorrent({ ti: readFileSync(f), save_path: out, peers });
await done;
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }));
await s.close();
`;

// A file, not -e: the disk threads (workers) would inherit --input-type.
const downloaderFile = join(manyDir, 'downloader.mjs');
await writeFile(downloaderFile, DOWNLOADER);

async function runOnce(kind, ports) {
  const out = join(manyDir, `out-${kind}`);
  await rm(out, { recursive: true, force: true });
  const p = await startProcess(process.execPath, [downloaderFile, out, ports.join(','), ...sets[kind].torrents], /\{"seconds":([\d.]+)\}/);
  const cpu = cpuOf(p.pid); // before it closes the session
  await p.stop();
  await rm(out, { recursive: true, force: true });
  const seconds = Number(p.match[1]);
  return { kind, torrents: sets[kind].torrents.length, mib_s: round(totalMiB / seconds, 1), cpu_s: round(cpu), cpu_s_per_gib: round(cpu / (totalMiB / 1024)) };
}

const loadBefore = load();
const results = { single: [], many: [] };
for (const kind of ['single', 'many']) {
  const seeds = [];
  try {
    for (let i = 0; i < Number(opt.seeds); i++) seeds.push(await startProcess('/usr/bin/python3', ['-c', LT_SEED, sets[kind].dir, ...sets[kind].torrents], /READY (\d+)/));
    for (let run = 1; run <= runs; run++) {
      const r = { run, ...(await runOnce(kind, seeds.map((s) => s.match[1]))) };
      console.error(JSON.stringify(r));
      results[kind].push(r);
    }
  } finally {
    for (const s of seeds) await s.stop();
  }
}
const m = (kind, k) => median(results[kind].map((r) => r[k]));
console.log(JSON.stringify({
  bench: 'many-active', torrents: K, size_mib_each: each, seeds: Number(opt.seeds), runs, load_before: loadBefore, load_after: load(),
  single: { median_mib_s: m('single', 'mib_s'), median_cpu_s_per_gib: m('single', 'cpu_s_per_gib') },
  many: { median_mib_s: m('many', 'mib_s'), median_cpu_s_per_gib: m('many', 'cpu_s_per_gib') },
  ratios_many_over_single: { mib_s: round(m('many', 'mib_s') / m('single', 'mib_s')), cpu_s_per_gib: round(m('many', 'cpu_s_per_gib') / m('single', 'cpu_s_per_gib')) },
}));
