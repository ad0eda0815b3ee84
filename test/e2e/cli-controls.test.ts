import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { join } from 'node:path';
import { Session } from '@spritzle/engine';
import { makeTorrent, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, cliRunner, closedPort, expectOneLineError, tmp, type Run } from '../helpers/cli.js';
import { getJson, startDaemon, type Daemon } from '../helpers/daemon.js';

// The REST controls from the command line: add --peer, peers (--connect), files (--priority), trackers, set.

const { runCli } = cliRunner({ unset: ['SPRITZLE_URL', 'SPRITZLE_TOKEN'], timeout: 30_000 });

let d: Daemon;
let seeder: Session;
let dl = '';
let n = 0;

function client(args: string[]): Promise<Run> {
  return runCli(args, { SPRITZLE_URL: d.url });
}

function ok(r: Run): string {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function statusOf(hash: string): Promise<{ state: string; connections_limit: number; is_seeding: boolean }> {
  return getJson(`${d.url}/torrent/${hash}`);
}

async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`never: ${what}`);
}

/** A torrent whose data the in-process seeder serves (not the daemon's). */
async function seeded(files: number | { path: string; size: number }[] = 200_000, announce?: string[]): Promise<TestTorrent> {
  const t = await makeTorrent({ dir: await tmp('ctl-src'), name: `ctl${n++}`, files, pieceLength: 16384, seed: 70 + n, ...(announce ? { announce } : {}) });
  await seeder.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  return t;
}

beforeAll(async () => {
  buildCli();
  const dir = await tmp('cli-controls-');
  dl = join(dir, 'dl');
  d = await startDaemon(join(dir, 'state'), dl);
  seeder = await Session.create({ listen_interfaces: '127.0.0.1:0' });
}, 300_000);
afterAll(async () => {
  await seeder?.close();
  await d?.stop();
  await cleanup();
});

describe('add --peer', () => {
  it('the daemon downloads from the peer given', async () => {
    const t = await seeded();
    ok(await client(['add', t.torrentPath, '--peer', `127.0.0.1:${seeder.listenPort}`]));
    await until('seeding', async () => (await statusOf(t.infoHash)).is_seeding);
  });
});

describe('peers', () => {
  it('--connect dials a peer for a torrent added without any, which then downloads from it', async () => {
    const t = await seeded();
    ok(await client(['add', t.torrentPath]));
    const out = ok(await client(['peers', t.infoHash.slice(0, 10), '--connect', `127.0.0.1:${seeder.listenPort}`]));
    expect(out.split('\n')[0]).toBe(`connecting to 127.0.0.1:${seeder.listenPort}`);
    await until('seeding', async () => (await statusOf(t.infoHash)).is_seeding);
  });

  it('lists connected peers with address, client and flags', async () => {
    const t = await seeded(4_000_000);
    // Slow enough that the peers are still connected when listed.
    seeder.findTorrent(t.infoHash)!.update({ upload_limit: 100_000 });
    ok(await client(['add', t.torrentPath, '--peer', `127.0.0.1:${seeder.listenPort}`]));
    let out = '';
    await until('a peer row', async () => {
      out = ok(await client(['peers', t.infoHash]));
      return out.startsWith('ADDRESS');
    });
    expect(out).toMatch(new RegExp(`^ADDRESS\\s+CLIENT\\s+FLAGS\\s+DONE\\s+DOWN\\s+UP\\n127\\.0\\.0\\.1:${seeder.listenPort}\\s`));
  });
});

describe('files', () => {
  it('lists the files with priority and --priority skips one', async () => {
    const t = await seeded([{ path: 'a.bin', size: 50_000 }, { path: 'b.bin', size: 60_000 }]);
    ok(await client(['add', t.torrentPath, '--paused']));
    const before = ok(await client(['files', t.infoHash]));
    expect(before).toMatch(/^#\s+PRIO\s+DONE\s+SIZE\s+PATH\n0\s+4\s+0\.0%\s+49K\s+ctl\d+\/a\.bin\n1\s+4\s+0\.0%\s+59K\s+ctl\d+\/b\.bin\n$/);
    const after = ok(await client(['files', t.infoHash, '--priority', '1=0']));
    expect(after).toMatch(/\n1\s+0\s+0\.0%\s+59K\s+ctl\d+\/b\.bin\n$/);
    expectOneLineError(await client(['files', t.infoHash, '--priority', '5=1']), /the torrent has 2 files \(0\.\.1\)/);
  });
});

describe('trackers', () => {
  it('lists the torrent\'s trackers by tier', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/announce`;
    const t = await seeded(100_000, [url]);
    ok(await client(['add', t.torrentPath, '--paused']));
    expect(ok(await client(['trackers', t.infoHash]))).toMatch(new RegExp(`^TIER\\s+STATUS\\s+PEERS\\s+URL\\n\\s+0\\s+\\w+\\s+0\\s+${url.replace(/[.]/g, '\\.')}`));
  });
});

describe('set', () => {
  it('changes a session setting and prints it; the daemon keeps the value', async () => {
    expect(ok(await client(['set', 'download_rate_limit=1048576']))).toBe('download_rate_limit  1048576\n');
    expect((await getJson<Record<string, unknown>>(`${d.url}/session/settings`)).download_rate_limit).toBe(1048576);
    ok(await client(['set', 'download_rate_limit=0']));
  });

  it('without arguments prints every setting', async () => {
    expect(ok(await client(['set']))).toMatch(/^allow_multiple_connections_per_ip\s+true\n[\s\S]*\nupload_rate_limit\s+\d+\n/);
  });

  it('a setting the daemon does not know: the API\'s message, one line', async () => {
    expectOneLineError(await client(['set', 'no_such_setting=1']), /no_such_setting/);
  });

  it('--torrent changes one torrent\'s limits', async () => {
    const t = await seeded();
    ok(await client(['add', t.torrentPath, '--paused']));
    expect(ok(await client(['set', '--torrent', t.infoHash, 'max_connections=20']))).toMatch(/^ctl\d+:\nmax_connections  20\n$/);
    expect((await statusOf(t.infoHash)).connections_limit).toBe(20);
  });
});
