// Shared pieces of the libtorrent comparison benches: deterministic data and its .torrent, a process's
// CPU from /proc (every thread: node's disk threads and libtorrent's are counted), libtorrent peers from
// test/peers/lt_peer.py, timed downloads (bash `times`), medians. Everything on 127.0.0.1.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import createTorrent from 'create-torrent';

export const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const cli = join(root, 'packages/cli/dist/main.js');
export const ltPeer = join(root, 'test/peers/lt_peer.py');
if (!existsSync(cli)) throw new Error('build first: pnpm run build');

/**
 * Deterministic pseudo-random data (xorshift32 from `seed`) in `<work>/data` and its .torrent, made once per
 * size. `work` defaults to /tmp/spritzle-bench/<size>m-<piece>k; `v2` makes a BitTorrent v2 torrent with the engine.
 */
export async function ensureData(sizeMiB, pieceKiB, { work = `/tmp/spritzle-bench/${sizeMiB}m-${pieceKiB}k`, seed = 0x9e3779b9, v2 = false } = {}) {
  const torrentPath = join(work, 'data.torrent');
  if (existsSync(torrentPath)) return { work, torrentPath };
  await mkdir(work, { recursive: true });
  const fh = await open(join(work, 'data'), 'w');
  const chunk = Buffer.alloc(4 << 20);
  const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length / 4);
  let x = seed;
  for (let written = 0; written < sizeMiB * 1024 * 1024; written += chunk.length) {
    for (let i = 0; i < words.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; words[i] = x; }
    await fh.write(chunk);
  }
  await fh.close();
  if (v2) {
    const { createTorrentFromPath } = await import('../packages/engine/dist/index.js');
    const created = await createTorrentFromPath(join(work, 'data'), { version: 'v2', pieceLength: pieceKiB * 1024 });
    await writeFile(torrentPath, created.torrent);
    return { work, torrentPath };
  }
  const torrent = await new Promise((resolve, reject) => createTorrent(join(work, 'data'), {
    name: 'data', pieceLength: pieceKiB * 1024, announceList: [], urlList: [], creationDate: new Date(0),
  }, (err, t) => (err ? reject(err) : resolve(t))));
  await writeFile(torrentPath, torrent);
  return { work, torrentPath };
}

/**
 * `size` bytes of the same xorshift32 stream as ensureData written to `path` a piece at a time; resolves with
 * the pieces' SHA-1 digests (for a .torrent made by hand).
 */
export async function writeHashedPieces(path, size, piece) {
  const hashes = [];
  const fh = await open(path, 'w');
  let x = 0x9e3779b9;
  for (let at = 0; at < size; at += piece) {
    const len = Math.min(piece, size - at);
    const buf = Buffer.allocUnsafe(len);
    for (let i = 0; i + 4 <= len; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      buf.writeUInt32LE(x >>> 0, i);
    }
    hashes.push(createHash('sha1').update(buf).digest());
    await fh.write(buf);
  }
  await fh.close();
  return hashes;
}

export async function sha1(path) {
  const h = createHash('sha1');
  for await (const c of createReadStream(path)) h.update(c);
  return h.digest('hex');
}

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s on Linux
/** user+sys seconds a live process has used so far, all its threads included. */
export function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14 and 15)
}

/**
 * Starts a long-running process and resolves once a stdout line matches `ready` (with the match), so the
 * caller can read its CPU then; `stop()` sends SIGTERM and resolves with everything it printed.
 */
export function startProcess(cmd, args, ready, { timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let done = false;
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${cmd} not ready in ${timeoutMs} ms`)); }, timeoutMs);
    const closed = new Promise((r) => p.on('close', (code) => r(code)));
    p.stdout.on('data', (d) => {
      out += d;
      const m = ready.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        resolve({
          pid: p.pid, match: m, readyMs: performance.now() - t0, output: () => out,
          stop: async () => { p.kill('SIGTERM'); await closed; return out; },
        });
      }
    });
    p.on('close', (code) => { clearTimeout(timer); if (!done) reject(new Error(`${cmd} exited ${code} before ready: ${out}`)); });
  });
}

/** A libtorrent downloader (`lt_peer.py get`) dialling `peers`; resolves with its final JSON line. `extra`: more lt_peer.py options. */
export function ltGet(torrentPath, savePath, peers, timeoutS = 300, extra = []) {
  return new Promise((resolve, reject) => {
    const args = [ltPeer, 'get', torrentPath, '--save-path', savePath, '--timeout', String(timeoutS), '--stdin-lifeline', ...extra];
    for (const p of peers) args.push('--peer', `127.0.0.1:${p}`);
    const p = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const json = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      resolve({ code, ...(json ? JSON.parse(json) : { ok: false }) });
    });
  });
}

/** A libtorrent seed (`lt_peer.py seed`, hash-checking like spritzle does); `match[1]` is its port. */
export function ltSeed(torrentPath, savePath, extra = []) {
  return startProcess('/usr/bin/python3', [ltPeer, 'seed', torrentPath, '--save-path', savePath, '--stdin-lifeline', ...extra], /READY (\d+)/);
}

/** `spritzle seed` on 127.0.0.1 without DHT; `match[1]` is its port. */
export function spritzleSeed(torrentPath, savePath, nodeArgs = []) {
  return startProcess(process.execPath, [...nodeArgs, cli, 'seed', torrentPath, '--data', savePath, '--host', '127.0.0.1', '--no-dht'],
    /seeding \S+ on 127\.0\.0\.1:(\d+)/);
}

/** A process started with startProcess that printed `<WORD> <port>`: `{ port, stop }`. */
export async function startPortProcess(cmd, args, word) {
  const p = await startProcess(cmd, args, new RegExp(`${word} (\\d+)`));
  return { port: Number(p.match[1]), stop: p.stop };
}

export const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
export const round = (x, d = 2) => +x.toFixed(d);
export const load = () => loadavg().map((x) => round(x));

/**
 * One seeding run: `client` ('spritzle' or 'libtorrent') checks `<work>/data` and seeds it to
 * `downloaders` libtorrent downloaders at once. Start-up (spawn to ready: session, hash check) and the
 * transfer (downloaders started to all complete) are measured apart, each in wall time and seed CPU.
 */
export async function seedRun(client, { work, torrentPath }, sizeMiB, downloaders, nodeArgs = []) {
  const seed = client === 'spritzle' ? await spritzleSeed(torrentPath, work, nodeArgs) : await ltSeed(torrentPath, work);
  const startupCpu = cpuOf(seed.pid);
  const t0 = performance.now();
  let gets;
  let transferCpu;
  let wall;
  try {
    gets = await Promise.all(Array.from({ length: downloaders }, (_, i) => ltGet(torrentPath, join(work, `out-${client}-${i}`), [seed.match[1]])));
    wall = (performance.now() - t0) / 1000;
    transferCpu = cpuOf(seed.pid) - startupCpu;
  } finally {
    var said = await seed.stop();
  }
  const { rm } = await import('node:fs/promises');
  for (let i = 0; i < downloaders; i++) await rm(join(work, `out-${client}-${i}`), { recursive: true, force: true });
  const gib = (sizeMiB * downloaders) / 1024;
  const slowest = Math.max(...gets.map((g) => g.seconds ?? Infinity));
  return {
    client, ok: gets.every((g) => g.ok === true && g.hash_failures === 0),
    startup_s: round(seed.readyMs / 1000), startup_cpu_s: round(startupCpu),
    // MiB/s as the downloaders saw it (from their torrent added to complete), summed over them
    mib_s: round((sizeMiB * downloaders) / slowest, 1), transfer_wall_s: round(wall),
    transfer_cpu_s: round(transferCpu), cpu_s_per_gib: round(transferCpu / gib),
    uploaded_mib: round(uploadedMiB(said), 1),
  };
}

/** What a stopped seed says it uploaded: lt_peer's JSON, or spritzle's "uploaded 512 MiB of ...". */
function uploadedMiB(out) {
  const j = out.split('\n').find((l) => l.startsWith('{"uploaded"'));
  if (j) return JSON.parse(j).uploaded / 2 ** 20;
  const m = /uploaded ([\d.]+) (B|KiB|MiB|GiB)/.exec(out);
  return m ? Number(m[1]) * { B: 2 ** -20, KiB: 2 ** -10, MiB: 1, GiB: 1024 }[m[2]] : NaN;
}

/** Medians per client of every numeric field, and spritzle/libtorrent ratios of the ones that matter. */
export function summarise(results, ratioKeys) {
  const summary = {};
  for (const [client, rs] of Object.entries(results)) {
    const s = { ok_runs: rs.filter((r) => r.ok).length };
    for (const k of Object.keys(rs[0] ?? {})) if (typeof rs[0][k] === 'number' && k !== 'run') s[`median_${k}`] = median(rs.map((r) => r[k]));
    summary[client] = s;
  }
  const ratios = {};
  for (const k of ratioKeys) ratios[k] = round(summary.spritzle[`median_${k}`] / summary.libtorrent[`median_${k}`]);
  return { ...summary, ratios };
}

/** Runs a command under bash and returns its stdout lines and the children's user+sys CPU (bash `times`). */
export function timed(cmd) {
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
      lines.pop(); // the shell's own times
      resolve({ code, wall, cpu: children[0] + children[1], lines });
    });
  });
}

/**
 * One timed download (`timed(cmd)`) judged by its last JSON line's `seconds` and the SHA-1 of `dataPath`:
 * the fields of a bench's per-run line, in their order, and that JSON.
 */
export async function timedDownload(cmd, dataPath, want, sizeMiB) {
  const r = await timed(cmd);
  const json = JSON.parse(r.lines.filter((l) => l.startsWith('{')).pop() ?? '{}');
  const seconds = json.seconds;
  const ok = r.code === 0 && existsSync(dataPath) && (await sha1(dataPath)) === want;
  return {
    json,
    fields: { ok, seconds, mib_s: +(sizeMiB / seconds).toFixed(1), cpu_s: +r.cpu.toFixed(2), cpu_s_per_gib: +(r.cpu / (sizeMiB / 1024)).toFixed(2), wall_s: +r.wall.toFixed(2) },
  };
}

/** ok runs and the medians of MiB/s and CPU s per GiB of one client's download lines. */
export const downloadSummary = (rs) => ({ ok_runs: rs.filter((r) => r.ok).length, median_mib_s: median(rs.map((r) => r.mib_s)), median_cpu_s_per_gib: median(rs.map((r) => r.cpu_s_per_gib)) });
