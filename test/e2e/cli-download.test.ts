import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { makeTorrent, sameBytes, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, CLI, cliRunner, closedPort, tmp, waitForOutput, type Run, type Started } from '../helpers/cli.js';
import { activityText } from '../../packages/cli/src/progress.js';
import type { TorrentStatus } from '@spritzle/engine';

// `spritzle download` and `seed` as a person uses them: -o defaults to the current folder, a second run
// finds the data complete, --keep-seeding stays to seed, seed says what it uploaded when stopped, a
// magnet waiting on a silent DHT gets a warning. Every socket is on 127.0.0.1.

const { runCli, startCli, spawnCli } = cliRunner({ timeout: 60_000 });

let t: TestTorrent;
let seed: Started;
let seedPort = 0;

/** The CLI with `cwd` as its current folder. */
function runIn(cwd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  buildCli();
  t = await makeTorrent({ dir: await tmp('cli-dl-src'), name: 'movie.bin', files: 700_000, pieceLength: 32768, seed: 9 });
  seed = await startCli(['seed', t.torrentPath, '--data', t.dataRoot, '--host', '127.0.0.1', '--no-dht'], /on 127\.0\.0\.1:(\d+)\n/);
  seedPort = Number(seed.match[1]);
}, 300_000);
afterAll(cleanup);

describe('download', () => {
  it('saves into the current folder without -o, and a second run says the data is already complete (verified)', async () => {
    const cwd = await tmp('cli-dl-cwd');
    const args = ['download', t.torrentPath, '--peer', `127.0.0.1:${seedPort}`, '--host', '127.0.0.1', '--no-dht'];
    const first = await runIn(cwd, args);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^downloaded movie\.bin .* MiB\/s\n$/);
    expect(await sameBytes(join(t.dataRoot, 'movie.bin'), join(cwd, 'movie.bin'))).toBe(true);
    const second = await runIn(cwd, args);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`movie.bin (${t.infoHash}): already complete (verified), 683.6 KiB in ${cwd}\n`);
  });

  it('--keep-seeding stays to seed once complete, and on SIGINT says what it uploaded and exits 0', async () => {
    const save = await tmp('cli-dl-keep');
    const keeper = spawnCli(['download', t.torrentPath, '-o', save, '--peer', `127.0.0.1:${seedPort}`, '--host', '127.0.0.1',
      '--listen-port', '0', '--no-dht', '--keep-seeding']);
    await waitForOutput(keeper, /^downloaded movie\.bin/m);
    const port = Number(/seeding on port (\d+)/.exec(await (async () => {
      for (let i = 0; i < 500 && !/seeding on port/.test(keeper.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
      return keeper.stderr();
    })())![1]);
    // A second downloader fetches from the keeper alone.
    const other = await tmp('cli-dl-from-keeper');
    const r = await runCli(['download', t.torrentPath, '-o', other, '--peer', `127.0.0.1:${port}`, '--host', '127.0.0.1', '--no-dht']);
    expect(r.code).toBe(0);
    keeper.child.kill('SIGINT');
    const done = await keeper.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/\nuploaded 683\.6 KiB of movie\.bin, ratio 1\.00\n$/);
  });
});

describe('seed', () => {
  it('on SIGINT prints what it uploaded and exits 0', async () => {
    seed.child.kill('SIGINT');
    const r = await seed.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nuploaded [\d.]+ [KM]iB of movie\.bin, ratio [\d.]+\n$/);
  });
});

describe('the progress line', () => {
  const st = (over: Partial<TorrentStatus>): TorrentStatus => ({ state: 'downloading', eta: -1, list_peers: 0, ...over }) as TorrentStatus;

  it('says what a magnet is doing while it waits for metadata', () => {
    expect(activityText(st({ state: 'downloading_metadata', list_peers: 1 }), 1)).toBe('fetching metadata: 1 DHT node, 1 peer found');
    expect(activityText(st({ state: 'downloading_metadata', list_peers: 3 }), 0)).toBe('fetching metadata: 0 DHT nodes, 3 peers found');
  });

  it('gives the time left while downloading', () => {
    expect(activityText(st({ eta: 125 }), 0)).toBe('downloading, 3m left');
  });
});

describe('a magnet with a DHT nobody answers', () => {
  it('warns after 15 s that no DHT node answered', async () => {
    const silent = await closedPort();
    const run = spawnCli(['download', `magnet:?xt=urn:btih:${'ab'.repeat(20)}`, '-o', await tmp('cli-dl-magnet'), '--host', '127.0.0.1',
      '--dht-bootstrap', `127.0.0.1:${silent}`, '--timeout', '25']);
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^spritzle: warning: no DHT node answered in 15 s while looking for a{0}b?[0-9a-f]{40}'s metadata; is UDP blocked\?/m);
  }, 60_000);
});
