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
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import createTorrent from 'create-torrent';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
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
const work = `/tmp/spritzle-bench/utp-${sizeMiB}m`;
const cli = join(root, 'packages/cli/dist/main.js');
const ltPeer = join(root, 'test/peers/lt_peer.py');
const relayScript = join(root, 'test/helpers/udp-relay.mjs');
if (!existsSync(cli)) throw new Error('build first: pnpm run build');

/** Deterministic pseudo-random data (xorshift32) and its .torrent (256 KiB pieces), made once. */
async function ensureData() {
  const torrentPath = join(work, 'data.torrent');
  if (existsSync(torrentPath)) return torrentPath;
  await mkdir(work, { recursive: true });
  const fh = await open(join(work, 'data'), 'w');
  const chunk = Buffer.alloc(4 << 20);
  const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
  let x = 0x2545f491;
  for (let written = 0; written < sizeMiB * 1024 * 1024; written += chunk.length) {
    for (let i = 0; i < words.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; words[i] = x; }
    await fh.write(chunk);
  }
  await fh.close();
  const torrent = await new Promise((resolve, reject) => createTorrent(join(work, 'data'), {
    name: 'data', pieceLength: 256 * 1024, announceList: [], urlList: [], creationDate: new Date(0),
  }, (err, t) => (err ? reject(err) : resolve(t))));
  await writeFile(torrentPath, torrent);
  return torrentPath;
}

/** Runs a command under bash; its stdout lines and the children's user+sys CPU (bash `times`). */
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
      lines.pop();
      resolve({ code, wall, cpu: children[0] + children[1], lines });
    });
  });
}

async function sha1(path) {
  const h = createHash('sha1');
  for await (const c of createReadStream(path)) h.update(c);
  return h.digest('hex');
}

/** Starts a child that prints `<WORD> <port>` when ready. */
function startChild(cmd, args, word) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => {
      const m = new RegExp(`${word} (\\d+)`).exec(String(d));
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((r) => { p.on('close', r); p.kill('SIGTERM'); }) });
    });
    p.on('close', (code) => reject(new Error(`${cmd} exited ${code}`)));
  });
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

const torrentPath = await ensureData();
const want = await sha1(join(work, 'data'));
const seed = await startChild('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', work, '--transport', 'utp', '--seed-mode'], 'READY');
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
          ? await startChild(process.execPath, [relayScript, '--target', `127.0.0.1:${seed.port}`, '--delay', String(sc.relay.delay), '--loss', String(sc.relay.loss), '--seed', String(run)], 'RELAY')
          : null;
        const port = relay ? relay.port : seed.port;
        const out = join(work, `out-${client}`);
        await rm(out, { recursive: true, force: true });
        const cmd = client === 'spritzle'
          ? `node ${cli} download ${torrentPath} -o ${out} --peer 127.0.0.1:${port} --no-dht --json`
          : `/usr/bin/python3 ${ltPeer} get ${torrentPath} --save-path ${out} --peer 127.0.0.1:${port} --transport utp --timeout 900`;
        const r = await timed(cmd);
        await relay?.stop();
        const json = JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}');
        const seconds = json.seconds;
        const ok = r.code === 0 && existsSync(join(out, 'data')) && (await sha1(join(out, 'data'))) === want;
        const line = { scenario: sc.name, run, client, ok, seconds, mib_s: +(sizeMiB / seconds).toFixed(1), cpu_s: +r.cpu.toFixed(2), cpu_s_per_gib: +(r.cpu / (sizeMiB / 1024)).toFixed(2) };
        console.error(JSON.stringify(line));
        results[client].push(line);
        await rm(out, { recursive: true, force: true });
      }
    }
    const summary = { scenario: sc.name };
    for (const [client, rs] of Object.entries(results)) {
      summary[client] = { ok_runs: rs.filter((r) => r.ok).length, median_mib_s: median(rs.map((r) => r.mib_s)), median_cpu_s_per_gib: median(rs.map((r) => r.cpu_s_per_gib)) };
    }
    summary.speed_ratio = +(summary.spritzle.median_mib_s / summary.libtorrent.median_mib_s).toFixed(2);
    summary.cpu_ratio = +(summary.spritzle.median_cpu_s_per_gib / summary.libtorrent.median_cpu_s_per_gib).toFixed(2);
    report.push(summary);
  }
} finally {
  await seed.stop();
}
console.log(JSON.stringify({ size_mib: sizeMiB, runs, report }, null, 1));
