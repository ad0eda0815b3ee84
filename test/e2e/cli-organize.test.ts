// Categories, tags, share limits, the queue, force-start, move and rename from the command line, against a
// real daemon: each command goes through the REST API and the daemon's own answer is checked.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Session } from '@spritzle/engine';
import { makeTorrent, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, cliRunner, tmp, type Run } from '../helpers/cli.js';
import { getJson, startDaemon, type Daemon } from '../helpers/daemon.js';
import { until } from '../helpers/server.js';

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

interface Status {
  name: string; category: string; tags: string[]; queue_position: number; auto_managed: boolean; paused: boolean;
  is_seeding: boolean; save_path: string;
  share_limits: { ratio_limit: number; seeding_time_limit: number; inactive_seeding_time_limit: number; action: string };
}
const statusOf = (hash: string): Promise<Status> => getJson(`${d.url}/torrent/${hash}`);

async function torrent(files: number | { path: string; size: number }[] = 50_000): Promise<TestTorrent> {
  return makeTorrent({ dir: await tmp('org-src'), name: `org${n++}`, files, pieceLength: 16384, seed: 150 + n });
}

/** Added paused, with no peer: it stays in the download queue. */
async function queued(): Promise<TestTorrent> {
  const t = await torrent();
  ok(await client(['add', t.torrentPath, '--paused']));
  return t;
}

beforeAll(async () => {
  buildCli();
  const dir = await tmp('cli-organize-');
  dl = join(dir, 'dl');
  d = await startDaemon(join(dir, 'state'), dl);
  seeder = await Session.create({ listen_interfaces: '127.0.0.1:0' });
}, 300_000);
afterAll(async () => {
  await seeder?.close();
  await d?.stop();
  await cleanup();
});

describe('category', () => {
  it('add with a save path, ls, set on a torrent, rm', async () => {
    ok(await client(['category', 'add', 'tv', '--save-path', join(dl, 'tv')]));
    ok(await client(['category', 'add', 'movies']));
    const listed = JSON.parse(ok(await client(['category', 'ls', '--json']))) as { name: string; save_path: string }[];
    expect(listed).toEqual([{ name: 'movies', save_path: '' }, { name: 'tv', save_path: join(dl, 'tv') }]);
    expect(ok(await client(['category', 'ls']))).toMatch(/^CATEGORY\s+SAVE PATH\nmovies\s+\(default\)\ntv\s+\S+tv\n$/);

    const t = await queued();
    expect(ok(await client(['category', 'set', t.infoHash.slice(0, 12), 'tv']))).toContain('category tv');
    expect((await statusOf(t.infoHash)).category).toBe('tv');

    ok(await client(['category', 'rm', 'tv']));
    expect((await statusOf(t.infoHash)).category).toBe('');
    expect((JSON.parse(ok(await client(['category', 'ls', '--json']))) as { name: string }[]).map((c) => c.name)).toEqual(['movies']);
  });

  it('an unknown action is a usage error naming the actions', async () => {
    const r = await client(['category', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ls, add, rm, set/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('tag', () => {
  it('add and rm change a torrent\'s tags; ls lists the session\'s', async () => {
    const t = await queued();
    expect(ok(await client(['tag', 'add', t.infoHash, 'hd', 'new']))).toContain('tags hd, new');
    expect((await statusOf(t.infoHash)).tags).toEqual(['hd', 'new']);
    ok(await client(['tag', 'rm', t.infoHash, 'new']));
    expect((await statusOf(t.infoHash)).tags).toEqual(['hd']);
    expect(JSON.parse(ok(await client(['tag', 'ls', '--json'])))).toContain('hd');
    expect(ok(await client(['tag', 'ls']))).toMatch(/^hd$/m);
  });

  it('create makes a tag no torrent carries; delete takes it off every torrent', async () => {
    ok(await client(['tag', 'create', 'later']));
    expect(JSON.parse(ok(await client(['tag', 'ls', '--json'])))).toContain('later');
    const t = await queued();
    ok(await client(['tag', 'add', t.infoHash, 'later']));
    expect(ok(await client(['tag', 'delete', 'later']))).toBe('deleted later\n');
    expect((await statusOf(t.infoHash)).tags).toEqual([]);
    expect(JSON.parse(ok(await client(['tag', 'ls', '--json'])))).not.toContain('later');
  });

  it('a tag the daemon refuses (a comma) is its 400, exit 1', async () => {
    const t = await queued();
    const r = await client(['tag', 'add', t.infoHash, 'a,b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tag/);
  });
});

describe('set --torrent with share limits', () => {
  it('ratio_limit, seeding_time_limit, inactive_seeding_time_limit and share_limit_action land in share_limits', async () => {
    const t = await queued();
    const out = ok(await client(['set', '--torrent', t.infoHash, 'ratio_limit=1.5', 'seeding_time_limit=3600',
      'inactive_seeding_time_limit=600', 'share_limit_action=remove']));
    expect(out).toMatch(/ratio_limit\s+1\.5/);
    expect((await statusOf(t.infoHash)).share_limits).toEqual({ ratio_limit: 1.5, seeding_time_limit: 3600, inactive_seeding_time_limit: 600, action: 'remove' });
  });
});

describe('queue and force-start', () => {
  it('bottom, top, down and up move a queued torrent', async () => {
    const ts = [await queued(), await queued(), await queued()];
    const pos = async (t: TestTorrent): Promise<number> => (await statusOf(t.infoHash)).queue_position;
    // Torrents of other tests are queued too: the last one added is at the bottom.
    const last = await pos(ts[2]!);
    ok(await client(['queue', 'bottom', ts[0]!.infoHash]));
    expect(await pos(ts[0]!)).toBe(last);
    expect(await pos(ts[2]!)).toBe(last - 1);
    ok(await client(['queue', 'top', ts[0]!.infoHash]));
    expect(await pos(ts[0]!)).toBe(0);
    expect(ok(await client(['queue', 'down', ts[0]!.infoHash]))).toContain('queue position 1 ');
    expect(await pos(ts[0]!)).toBe(1);
    ok(await client(['queue', 'up', ts[0]!.infoHash]));
    expect(await pos(ts[0]!)).toBe(0);
  });

  it('resume --force takes the torrent out of the queue\'s control and runs it; set auto_managed=true gives it back', async () => {
    const t = await queued();
    expect(ok(await client(['resume', '--force', t.infoHash]))).toMatch(/^force-started /);
    const s = await statusOf(t.infoHash);
    expect(s.auto_managed).toBe(false);
    expect(s.paused).toBe(false);
    ok(await client(['set', '--torrent', t.infoHash, 'auto_managed=true']));
    expect((await statusOf(t.infoHash)).auto_managed).toBe(true);
  });

  it('a finished torrent is not in the queue: refused with a line saying so', async () => {
    const t = await torrent();
    await seeder.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    ok(await client(['add', t.torrentPath, '--peer', `127.0.0.1:${seeder.listenPort}`]));
    // The session takes a finished torrent out of the queue on its next tick.
    await until('out of the queue', async () => ((await statusOf(t.infoHash)).queue_position < 0 ? true : undefined));
    const r = await client(['queue', 'top', t.infoHash]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not in the download queue/);
  });
});

describe('move and rename', () => {
  it('rename gives a file a new name on disk; move takes the files to a new save path', async () => {
    const t = await torrent([{ path: 'a.bin', size: 20_000 }, { path: 'b.bin', size: 30_000 }]);
    await seeder.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    ok(await client(['add', t.torrentPath, '--peer', `127.0.0.1:${seeder.listenPort}`]));
    await until('seeding', async () => ((await statusOf(t.infoHash)).is_seeding ? true : undefined));
    const before = (await statusOf(t.infoHash)).save_path;

    expect(ok(await client(['rename', t.infoHash, '1', `${t.name}/renamed.bin`]))).toBe(`file 1 is now ${t.name}/renamed.bin\n`);
    await access(join(before, t.name, 'renamed.bin'));

    const target = join(dl, 'moved');
    expect(ok(await client(['move', t.infoHash, target]))).toContain(`to ${target}`);
    expect((await statusOf(t.infoHash)).save_path).toBe(target);
    await access(join(target, t.name, 'renamed.bin'));
    await access(join(target, t.name, 'a.bin'));
    await expect(access(join(before, t.name, 'a.bin'))).rejects.toThrow();
  });

  it('rename of a file index the torrent lacks is the daemon\'s 400, exit 1', async () => {
    const t = await queued();
    const r = await client(['rename', t.infoHash, '7', 'x.bin']);
    expect(r.code).toBe(1);
  });
});
