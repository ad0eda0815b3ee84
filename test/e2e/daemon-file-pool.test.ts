// The daemon under a low descriptor limit (ulimit -n 256) with 2,000 torrents: they all load, all restore
// after a restart, all seed, and a libtorrent peer downloads from many of them in turn; the daemon's open
// descriptors stay within file_pool_size plus a fixed overhead throughout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { buildCli, CLI, tmp } from '../helpers/cli.js';
import { countFds, ltGetInTurn, makeTinyTorrents } from '../helpers/many-torrents.js';
import { requireLibtorrent } from '../helpers/libtorrent.js';

const LIMIT = 256;
/** Besides the pool's 40: node and libuv, the disk threads, the listen and API sockets, the state files. */
const OVERHEAD = 60;
const N = 2000;

const children = new Set<ChildProcess>();
beforeAll(() => buildCli(), 180_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface LowLimitDaemon { child: ChildProcess; url: string; peerPort: number; stderr(): string; stop(): Promise<number | null> }

/** `spritzle start` with its descriptor limit lowered to LIMIT by the shell that execs it. */
async function startLowLimitDaemon(state: string, dl: string): Promise<LowLimitDaemon> {
  const args = ['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1', '--no-dht',
    '--state-dir', state, '--download-dir', dl, '--log-level', 'warn'];
  const child = spawn('bash', ['-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`, process.execPath, CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPRITZLE_TOKEN: '' },
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-50_000); });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => {
    children.delete(child);
    r(code);
  }));
  const end = Date.now() + 120_000;
  let m: RegExpExecArray | null = null;
  while ((m = /spritzle API on (http:\/\/\S+)\npeers on 127\.0\.0\.1:(\d+)[\s\S]*\nstate in /.exec(out)) === null) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`daemon did not start: ${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child, url: m[1]!.replace(/\/$/, ''), peerPort: Number(m[2]), stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function sessionStats(url: string): Promise<Record<string, number>> {
  const r = await fetch(`${url}/session`);
  return (await r.json()) as Record<string, number>;
}

async function waitSeeding(url: string, n: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await sessionStats(url);
    if (s['ses.num_seeding_torrents'] === n) return;
    if (Date.now() > end) throw new Error(`not ${n} seeding after ${ms} ms: ${JSON.stringify({ seeding: s['ses.num_seeding_torrents'], error: s['ses.num_error_torrents'], loaded: s['ses.num_loaded_torrents'] })}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the daemon under ulimit -n 256', () => {
  it('loads 2,000 torrents, restores them all after a restart and seeds from any of them', async () => {
    requireLibtorrent();
    const dl = await tmp('spritzle-fdlimit-dl-');
    const state = await tmp('spritzle-fdlimit-state-');
    const torrents = await makeTinyTorrents(dl, N, { withFile: (i) => i % 40 === 7 });
    let most = 0;
    const sample = async (pid: number): Promise<void> => {
      most = Math.max(most, await countFds(pid).catch(() => 0));
    };

    const first = await startLowLimitDaemon(state, dl);
    for (let i = 0; i < N; i++) {
      const form = new FormData();
      form.append('file', new Blob([torrents[i]!.torrentBytes]), 'x.torrent');
      form.append('args', JSON.stringify({ save_path: dl }));
      const r = await fetch(`${first.url}/torrent`, { method: 'POST', body: form });
      if (r.status !== 201) throw new Error(`POST /torrent #${i}: ${r.status} ${await r.text()} ${first.stderr()}`);
      if (i % 200 === 0) await sample(first.child.pid!);
    }
    await waitSeeding(first.url, N, 60_000);
    await sample(first.child.pid!);
    expect(await first.stop()).toBe(0);

    const second = await startLowLimitDaemon(state, dl);
    await sample(second.child.pid!);
    const list = (await (await fetch(`${second.url}/torrent`)).json()) as string[];
    expect(list).toHaveLength(N);
    await waitSeeding(second.url, N, 60_000);
    const out = await tmp('spritzle-fdlimit-get-');
    const picked = torrents.filter((_, i) => i % 40 === 7);
    const sampler = setInterval(() => void sample(second.child.pid!), 100);
    const got = await ltGetInTurn(picked.map((t) => t.torrentPath), out, second.peerPort).finally(() => clearInterval(sampler));
    expect(got.failed).toEqual([]);
    expect(got.ok).toBe(picked.length);
    await sample(second.child.pid!);
    expect(second.stderr()).not.toMatch(/EMFILE|too many open files/);
    expect(most).toBeLessThanOrEqual(40 + OVERHEAD);
    expect(await second.stop()).toBe(0);
  }, 300_000);
});
