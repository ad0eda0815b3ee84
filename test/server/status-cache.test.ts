// The status cache the compat pollers list torrents through: rebuilt on the session's word, served as it was
// when idle, and aged statuses rebuilt a few per listing.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { IDLE_MAX_AGE_MS, IDLE_REFRESH_PER_CALL, StatusCache } from '../../packages/server/src/status-cache.js';
import { tmpDir } from '../helpers/fixtures.js';
import { testTorrent } from '../helpers/server.js';

let session: Session;
let now = 1_000_000;
let cache: StatusCache;
beforeAll(async () => {
  const dir = await tmpDir('spritzle-status-cache');
  session = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: dir });
  cache = new StatusCache(session, () => now);
  for (let i = 0; i < IDLE_REFRESH_PER_CALL + 4; i++) {
    const t = await testTorrent(dir, 16384);
    await session.addTorrent({ ti: t.torrentBytes, paused: true, auto_managed: false });
  }
});
afterAll(async () => { await session.close(); });

describe('StatusCache', () => {
  it('serves the same status object for an idle torrent until something happens to it', () => {
    const first = cache.all();
    const again = cache.all();
    expect(again.map((x) => x.status)).toEqual(first.map((x) => x.status));
    expect(again.every((x, i) => x.status === first[i]!.status)).toBe(true);
  });

  it('an event about a torrent (here: resumed) rebuilds that one only', () => {
    const before = cache.all();
    before[0]!.handle.resume();
    const after = cache.all();
    expect(after[0]!.status).not.toBe(before[0]!.status);
    expect(after[0]!.status.paused).toBe(false);
    expect(after.slice(1).every((x, i) => x.status === before[i + 1]!.status)).toBe(true);
  });

  it('invalidate() rebuilds a torrent changed without an event', () => {
    const before = cache.all();
    before[1]!.handle.update({ sequential_download: true });
    expect(cache.all()[1]!.status).toBe(before[1]!.status);
    cache.invalidate(before[1]!.handle.infoHash);
    expect(cache.all()[1]!.status.sequential_download).toBe(true);
  });

  it(`aged idle statuses are rebuilt at most ${IDLE_REFRESH_PER_CALL} per listing`, () => {
    const before = cache.all();
    now += IDLE_MAX_AGE_MS;
    const after = cache.all();
    const rebuilt = after.filter((x, i) => x.status !== before[i]!.status).length;
    expect(rebuilt).toBe(IDLE_REFRESH_PER_CALL);
    const rest = cache.all().filter((x, i) => x.status !== after[i]!.status).length;
    expect(rest).toBe(before.length - IDLE_REFRESH_PER_CALL);
  });

  it('refresh() rebuilds only the torrents named since, and tells its listeners which', () => {
    const all = cache.all();
    const heard: string[] = [];
    cache.onRebuilt((h) => heard.push(h));
    cache.refresh();
    expect(heard).toEqual([]);
    all[2]!.handle.resume();
    cache.invalidate(all[3]!.handle.infoHash);
    cache.refresh();
    expect(heard.sort()).toEqual([all[2]!.handle.infoHash, all[3]!.handle.infoHash].sort());
    expect(cache.peek(all[2]!.handle.infoHash)!.status.paused).toBe(false);
    expect(cache.peek(all[4]!.handle.infoHash)!.status).toBe(all[4]!.status);
  });

  it('a torrent added after the first listing is rebuilt by refresh() alone', async () => {
    cache.all();
    const heard: string[] = [];
    cache.onRebuilt((h) => heard.push(h));
    const t = await testTorrent(await tmpDir('spritzle-status-cache-add'), 16384);
    const h = await session.addTorrent({ ti: t.torrentBytes, paused: true, auto_managed: false });
    cache.refresh();
    expect(heard).toContain(h.infoHash);
    expect(cache.peek(h.infoHash)!.status.info_hash).toBe(h.infoHash);
  });

  it('a removed torrent leaves the listing', async () => {
    const before = cache.all();
    const heard: string[] = [];
    cache.onRebuilt((h) => heard.push(h));
    await session.removeTorrent(before[0]!.handle.infoHash);
    expect(heard).toEqual([before[0]!.handle.infoHash]);
    expect(cache.peek(before[0]!.handle.infoHash)).toBeUndefined();
    expect(cache.all().map((x) => x.handle.infoHash)).not.toContain(before[0]!.handle.infoHash);
  });
});
