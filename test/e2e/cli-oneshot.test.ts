import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import parseTorrent from 'parse-torrent';
import { makeTorrent, sameBytes, dataFiles, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, cliRunner, closedPort, expectOneLineError, tmp, type Started } from '../helpers/cli.js';

// The `spritzle` command run as a real subprocess from its built dist (jest maps @spritzle/* to sources
// only inside jest; a child process needs the compiled packages). Every socket is on 127.0.0.1.

/** download and seed run a DHT node by default; tests keep it off (no public bootstrap routers). */
function offline(args: string[]): string[] {
  return (args[0] === 'download' || args[0] === 'seed') && !args.includes('--help') ? [...args, '--no-dht'] : args;
}

const { runCli, startCli } = cliRunner({ rewrite: offline, timeout: 60_000 });

beforeAll(() => buildCli(), 180_000);

afterAll(() => cleanup());

describe('spritzle --help', () => {
  it.each([[[]], [['create']], [['download']], [['seed']], [['start']]])('%j --help exits 0 with usage', async (cmd) => {
    const r = await runCli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: spritzle/);
  });
});

describe('spritzle create', () => {
  it('makes a torrent whose info-hash parse-torrent agrees with, with no trackers added', async () => {
    const dir = await tmp('cli-create');
    const src = await makeTorrent({ dir, name: 'folder', files: [{ path: 'a.bin', size: 100_000 }, { path: 'sub/b.bin', size: 70_000 }] });
    const out = join(dir, 'made.torrent');
    const r = await runCli(['create', join(dir, 'folder'), '-o', out, '--piece-length', '32K', '--comment', 'hi']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const parsed = await parseTorrent(await readFile(out));
    expect(r.stdout).toBe(`${parsed.infoHash}\n`);
    expect(parsed.name).toBe('folder');
    expect(parsed.pieceLength).toBe(32768);
    expect(parsed.comment).toBe('hi');
    expect(parsed.private ?? false).toBe(false);
    // create-torrent inserts public trackers and web seeds unless told not to.
    expect(parsed.announce).toEqual([]);
    expect(parsed.urlList ?? []).toEqual([]);
    expect(parsed.files?.map((f) => [f.path.replace(/\\/g, '/'), f.length]).sort()).toEqual(
      src.files.map((f) => [`folder/${f.path}`, f.size]).sort());
  });

  it('writes exactly the --announce URLs as tiers, --private and --name', async () => {
    const dir = await tmp('cli-create2');
    await writeFile(join(dir, 'one.bin'), Buffer.alloc(40_000, 7));
    const out = join(dir, 'one.torrent');
    const r = await runCli(['create', join(dir, 'one.bin'), '-o', out, '--private', '--name', 'renamed',
      '--announce', 'http://127.0.0.1:1/announce', '--announce', 'udp://127.0.0.1:2']);
    expect(r.code).toBe(0);
    const parsed = await parseTorrent(await readFile(out));
    expect(r.stdout.trim()).toBe(parsed.infoHash);
    expect(parsed.private).toBe(true);
    expect(parsed.name).toBe('renamed');
    expect(parsed.announce).toEqual(['http://127.0.0.1:1/announce', 'udp://127.0.0.1:2']);
  });

  it('a missing path is one line and a non-zero exit', async () => {
    const dir = await tmp('cli-create3');
    const r = await runCli(['create', join(dir, 'nothing-here'), '-o', join(dir, 'x.torrent')]);
    expectOneLineError(r, /nothing-here.*no such file/);
    expect(existsSync(join(dir, 'x.torrent'))).toBe(false);
  });

  it('a bad --piece-length is a usage error', async () => {
    const dir = await tmp('cli-create4');
    await writeFile(join(dir, 'f.bin'), Buffer.alloc(10));
    const r = await runCli(['create', join(dir, 'f.bin'), '-o', join(dir, 'f.torrent'), '--piece-length', '1000']);
    expectOneLineError(r, /piece-length/);
    expect(r.code).toBe(2);
  });
});

describe('spritzle seed + spritzle download between two processes', () => {
  let t: TestTorrent;
  let seed: Started;
  let port: number;

  beforeAll(async () => {
    const dir = await tmp('cli-seed');
    t = await makeTorrent({
      dir, name: 'payload', pieceLength: 65536,
      files: [{ path: 'a.bin', size: 1_500_000 }, { path: 'sub/b.bin', size: 1 }, { path: 'c.bin', size: 2_345_678 }],
    });
    seed = await startCli(['seed', t.torrentPath, '--data', t.dataRoot, '--host', '127.0.0.1', '--listen-port', '0'],
      /^seeding ([0-9a-f]{40}) on 127\.0\.0\.1:(\d+)\n/m);
    port = Number(seed.match[2]);
  }, 60_000);

  afterAll(() => {
    seed?.child.kill('SIGKILL');
  });

  it('seed prints `seeding <info_hash> on <host>:<port>` with the real port', () => {
    expect(seed.match[1]).toBe(t.infoHash);
    expect(port).toBeGreaterThan(0);
  });

  it('download --json exits 0 with one JSON line, and the bytes are identical', async () => {
    const save = await tmp('cli-dl');
    const r = await runCli(['download', t.torrentPath, '-o', save, '--peer', `127.0.0.1:${port}`,
      '--host', '127.0.0.1', '--json', '--timeout', '60'], {}, 90_000);
    expect(r.stderr).toBe(''); // no progress bar on a non-TTY
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(2); // one line and its newline
    expect(lines[1]).toBe('');
    const result = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(['bytes', 'info_hash', 'mib_per_s', 'seconds']);
    const total = t.files.reduce((a, f) => a + f.size, 0);
    expect(result.info_hash).toBe(t.infoHash);
    expect(result.bytes).toBe(total);
    expect(typeof result.seconds).toBe('number');
    expect(result.seconds as number).toBeGreaterThan(0);
    const rate = total / 2 ** 20 / (result.seconds as number);
    expect(Math.abs((result.mib_per_s as number) - rate) / rate).toBeLessThan(0.01);
    const src = dataFiles(t, t.dataRoot);
    const dst = dataFiles(t, save);
    for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
  }, 120_000);

  it('download without --json prints a human summary line', async () => {
    const save = await tmp('cli-dl2');
    const r = await runCli(['download', t.torrentPath, '-o', save, '--peer', `127.0.0.1:${port}`, '--host', '127.0.0.1', '--timeout', '60'], {}, 90_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^downloaded payload \\(${t.infoHash}\\): .* MiB/s\\n$`));
  }, 120_000);

  it('seed exits 0 on SIGINT after closing its session', async () => {
    seed.child.kill('SIGINT');
    const r = await seed.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('errors: one line on stderr and a non-zero exit', () => {
  let t: TestTorrent;
  let dir: string;

  beforeAll(async () => {
    dir = await tmp('cli-err');
    t = await makeTorrent({ dir, name: 'e.bin', files: 1_000_000, pieceLength: 32768 });
  });

  it('a missing .torrent file', async () => {
    const r = await runCli(['download', join(dir, 'missing.torrent'), '-o', join(dir, 'out')]);
    expectOneLineError(r, /missing\.torrent.*no such file/);
  });

  it('a garbage .torrent file (download and seed)', async () => {
    const bad = join(dir, 'garbage.torrent');
    await writeFile(bad, 'this is not bencode at all\n');
    expectOneLineError(await runCli(['download', bad, '-o', join(dir, 'out'), '--host', '127.0.0.1']), /garbage\.torrent: not a valid \.torrent/);
    expectOneLineError(await runCli(['seed', bad, '--data', dir, '--host', '127.0.0.1']), /garbage\.torrent: not a valid \.torrent/);
    // bencode, but not a torrent
    await writeFile(bad, 'd3:fooi1ee');
    expectOneLineError(await runCli(['download', bad, '-o', join(dir, 'out'), '--host', '127.0.0.1']), /not a valid \.torrent/);
  });

  it('a listen port already in use (download and seed)', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const busy = (srv.address() as net.AddressInfo).port;
    try {
      const d = await runCli(['download', t.torrentPath, '-o', join(dir, 'out'), '--host', '127.0.0.1', '--listen-port', String(busy)]);
      expectOneLineError(d, new RegExp(`${busy}.*already in use`));
      const s = await runCli(['seed', t.torrentPath, '--data', t.dataRoot, '--host', '127.0.0.1', '--listen-port', String(busy)]);
      expectOneLineError(s, new RegExp(`${busy}.*already in use`));
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('seed with incomplete data exits non-zero saying how many pieces are there', async () => {
    const part = join(dir, 'partial');
    await mkdir(part);
    // The first 10 of 31 pieces, intact.
    await writeFile(join(part, 'e.bin'), (await readFile(join(t.dataRoot, 'e.bin'))).subarray(0, 10 * 32768));
    const r = await runCli(['seed', t.torrentPath, '--data', part, '--host', '127.0.0.1']);
    expectOneLineError(r, /data in .*partial is incomplete: 10 of 31 pieces/);
  });

  it('seed with a data directory that does not exist', async () => {
    const r = await runCli(['seed', t.torrentPath, '--data', join(dir, 'no-such-dir'), '--host', '127.0.0.1']);
    expectOneLineError(r, /no-such-dir/);
  });

  it('download --timeout gives up with a clear line', async () => {
    const r = await runCli(['download', t.torrentPath, '-o', join(dir, 'slow'), '--host', '127.0.0.1',
      '--peer', `127.0.0.1:${await closedPort()}`, '--timeout', '1.5']);
    expectOneLineError(r, /timed out after 1\.5 s: 0 B of .* done, no peer connected/);
  });

  it('a malformed --peer is a usage error (exit 2)', async () => {
    const r = await runCli(['download', t.torrentPath, '-o', join(dir, 'out'), '--peer', 'nonsense']);
    expectOneLineError(r, /--peer.*nonsense/);
    expect(r.code).toBe(2);
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const r = await runCli(['frobnicate']);
    expectOneLineError(r, /unknown command 'frobnicate'/);
    expect(r.code).toBe(2);
  });
});
