#!/usr/bin/env node
// Web seed throughput (BEP 19, issue 16): spritzle downloads one torrent on 127.0.0.1 from a web seed alone
// (a Range-capable node:http file server in a child process) and from a libtorrent seed alone
// (test/peers/lt_peer.py), interleaved run by run; MiB/s of each, medians and the ratio (target >= 0.8).
//
//   pnpm run build && node bench/webseed.mjs [--size-mib 256] [--piece-kib 256] [--runs 2] [--only web|peer]
//
// The downloading session is TCP-only (no uTP), as the libtorrent seed is: with uTP on, the dial to a
// TCP-only peer waits utp_connect_timeout (3 s) first, which made the peer side look three times slower.
// Needs Debian's python3-libtorrent for the peer side. Each download gives up after 120 s.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import bencode from 'bencode';
import { median, writeHashedPieces } from './lib.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const engineUrl = pathToFileURL(join(root, 'packages/engine/dist/index.js')).href;
if (!existsSync(fileURLToPath(engineUrl))) throw new Error('build first: pnpm run build');
const { values: o } = parseArgs({ options: {
  'size-mib': { type: 'string', default: '256' }, 'piece-kib': { type: 'string', default: '256' }, runs: { type: 'string', default: '2' },
  only: { type: 'string' },
} });
const SIZE = Number(o['size-mib']) * 1048576;
const PIECE = Number(o['piece-kib']) * 1024;
const { Session } = await import(engineUrl);

const work = await mkdtemp(join(tmpdir(), 'spritzle-webseed-bench-'));
const src = join(work, 'src');
await mkdir(src, { recursive: true });
const name = 'data.bin';
const hashes = await writeHashedPieces(join(src, name), SIZE, PIECE);
const torrent = bencode.encode({ info: { name, 'piece length': PIECE, length: SIZE, pieces: Buffer.concat(hashes) } });
const torrentPath = join(work, 'data.torrent');
await writeFile(torrentPath, torrent);

// A plain Range file server, as a mirror would be: in a process of its own, as the libtorrent seed is.
const serverScript = `
const http = await import('node:http');
const { createReadStream, statSync } = await import('node:fs');
const file = ${JSON.stringify(join(src, name))};
const size = statSync(file).size;
const server = http.createServer((req, res) => {
  const m = /^bytes=(\\d+)-(\\d*)$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] !== '' ? Math.min(Number(m[2]), size - 1) : size - 1;
  res.writeHead(m ? 206 : 200, { 'content-length': end - start + 1, 'accept-ranges': 'bytes', ...(m ? { 'content-range': 'bytes ' + start + '-' + end + '/' + size } : {}) });
  createReadStream(file, { start, end, highWaterMark: 1 << 20 }).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
`;
const webProc = spawn(process.execPath, ['--input-type=module', '-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const webPort = await new Promise((resolve, reject) => {
  let out = '';
  webProc.stdout.on('data', (d) => {
    out += d;
    const m = /PORT (\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  webProc.on('close', (c) => reject(new Error(`file server exited ${c}`)));
});
const webUrl = `http://127.0.0.1:${webPort}/${name}`;

// The libtorrent seed (checks the data once, then seeds).
const lt = spawn('/usr/bin/python3', [join(root, 'test/peers/lt_peer.py'), 'seed', torrentPath, '--save-path', src, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ltPort = await new Promise((resolve, reject) => {
  let out = '';
  lt.stdout.on('data', (d) => {
    out += d;
    const m = /READY (\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  lt.on('close', (c) => reject(new Error(`lt_peer.py exited ${c}`)));
});

async function download(kind) {
  const session = await Session.create({
    listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false, enable_outgoing_utp: false, enable_incoming_utp: false,
  });
  const save = await mkdtemp(join(work, `dl-${kind}-`));
  const t0 = performance.now();
  const h = await session.addTorrent(kind === 'web' ? { ti: torrent, save_path: save, url_seeds: [webUrl] } : { ti: torrent, save_path: save, peers: [`127.0.0.1:${ltPort}`] });
  await Promise.race([h.waitFor('finished'), new Promise((_, rej) => setTimeout(() => rej(new Error(`${kind}: not finished in 120 s`)), 120_000))]);
  const s = (performance.now() - t0) / 1000;
  const failed = h.status().total_failed_bytes;
  await session.close();
  await rm(save, { recursive: true, force: true });
  return { mib_s: SIZE / 1048576 / s, failed };
}

const results = { web: [], peer: [] };
for (let i = 0; i < Number(o.runs); i++) {
  for (const kind of o.only ? [o.only] : ['web', 'peer']) {
    const r = await download(kind);
    results[kind].push(r.mib_s);
    console.log(JSON.stringify({ run: i, kind, mib_s: Number(r.mib_s.toFixed(1)), failed_bytes: r.failed }));
  }
}
const web = results.web.length ? median(results.web) : NaN;
const peer = results.peer.length ? median(results.peer) : NaN;
console.log(JSON.stringify({ size_mib: SIZE / 1048576, piece_kib: PIECE / 1024, web_seed_mib_s: Number(web.toFixed(1)), libtorrent_peer_mib_s: Number(peer.toFixed(1)), ratio: Number((web / peer).toFixed(2)) }));

lt.kill('SIGTERM');
await new Promise((r) => lt.on('close', r));
webProc.kill('SIGTERM');
await rm(work, { recursive: true, force: true });
process.exit(0);
