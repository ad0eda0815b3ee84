import { describe, it, expect } from '@jest/globals';
import { SpritzleError, type SessionEvents, type TorrentStatus } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile } from '../../helpers/engine.js';

// Events and waits a program can rely on: torrent_finished also for data found complete, handle.waitFor,
// libtorrent's state_update, and the status fields a person asks for first (eta, ratio, rates that move).

const session = sessionsForThisFile();

async function completeTorrent(name: string, size = 300_000) {
  return makeTorrent({ dir: await tmpDir(name), name, files: size, pieceLength: 32768 });
}

describe('torrent_finished', () => {
  it('is emitted when checking finds the data already complete', async () => {
    const t = await completeTorrent('already.bin');
    const s = await session();
    const finished: string[] = [];
    s.on('torrent_finished', ({ info_hash }) => finished.push(info_hash));
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    expect(h.status().is_seeding).toBe(true);
    expect(finished).toEqual([t.infoHash]);
  });

  it('is not emitted when checking finds the data incomplete', async () => {
    const t = await completeTorrent('missing.bin');
    const s = await session();
    const finished: string[] = [];
    s.on('torrent_finished', ({ info_hash }) => finished.push(info_hash));
    await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('empty') });
    expect(finished).toEqual([]);
  });
});

describe('handle.waitFor', () => {
  it("resolves 'finished' at once for a torrent complete before the call", async () => {
    const t = await completeTorrent('done-before.bin');
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const st = await h.waitFor('finished');
    expect(st.is_finished).toBe(true);
    expect(st.info_hash).toBe(t.infoHash);
  });

  it("resolves 'finished' and 'seeding' once a download from a peer completes", async () => {
    const t = await completeTorrent('fetched.bin', 600_000);
    const seed = await session();
    await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('dl'), peers: [`127.0.0.1:${seed.listenPort}`] });
    const [fin, seeding] = await Promise.all([h.waitFor('finished'), h.waitFor('seeding')]);
    expect(fin.total_wanted_done).toBe(600_000);
    expect(seeding.state).toBe('seeding');
  });

  it('rejects with torrent_not_found when the torrent is removed while waited for', async () => {
    const t = await completeTorrent('removed.bin');
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('nothing') });
    const waiting = h.waitFor('finished');
    await s.removeTorrent(t.infoHash);
    await expect(waiting).rejects.toMatchObject({ code: 'torrent_not_found' });
    await expect(waiting).rejects.toBeInstanceOf(SpritzleError);
  });

  it("rejects with the signal's reason when aborted", async () => {
    const t = await completeTorrent('aborted.bin');
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('nothing') });
    const ac = new AbortController();
    const waiting = h.waitFor('seeding', { signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
  });
});

describe('state_update', () => {
  it('carries the statuses of the torrents that changed, and nothing when none did', async () => {
    const a = await completeTorrent('a.bin');
    const b = await completeTorrent('b.bin');
    const s = await session();
    const updates: SessionEvents['state_update'][] = [];
    s.on('state_update', (u) => updates.push(u));
    await s.addTorrent({ ti: a.torrentBytes, save_path: a.dataRoot });
    s.postTorrentUpdates();
    expect(updates.map((u) => u.status.map((st) => st.info_hash))).toEqual([[a.infoHash]]);
    s.postTorrentUpdates();
    expect(updates).toHaveLength(1);
    const hb = await s.addTorrent({ ti: b.torrentBytes, save_path: b.dataRoot, paused: true });
    s.postTorrentUpdates();
    expect(updates[1]!.status.map((st) => st.info_hash)).toEqual([b.infoHash]);
    hb.resume();
    s.postTorrentUpdates();
    expect(updates[2]!.status.map((st: TorrentStatus) => [st.info_hash, st.paused])).toEqual([[b.infoHash, false]]);
  });
});

describe('state_update and onAny', () => {
  it('is not sent to onAny listeners (the REST event stream), whose stream has its own stats event', async () => {
    const a = await completeTorrent('any.bin');
    const s = await session();
    const names: string[] = [];
    s.onAny((name) => names.push(name));
    await s.addTorrent({ ti: a.torrentBytes, save_path: a.dataRoot });
    s.on('state_update', () => undefined);
    s.postTorrentUpdates();
    expect(names).not.toContain('state_update');
    expect(names).toContain('torrent_added');
  });
});

describe('status: eta, ratio and rates', () => {
  it('a complete torrent has eta 0 and ratio 0 before it uploads', async () => {
    const t = await completeTorrent('idle-seed.bin');
    const s = await session();
    const st = (await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot })).status();
    expect([st.eta, st.ratio]).toEqual([0, 0]);
  });

  it('an incomplete torrent with nothing flowing has eta -1', async () => {
    const t = await completeTorrent('stalled.bin');
    const s = await session();
    const st = (await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('stalled') })).status();
    expect(st.eta).toBe(-1);
  });

  it('shows a non-zero download rate as soon as the first piece has arrived, and the seed a ratio after uploading', async () => {
    const t = await completeTorrent('moving.bin', 2_000_000);
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const s = await session();
    let first: TorrentStatus | null = null;
    s.on('piece_finished', () => {
      first ??= s.torrents()[0]!.status();
    });
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('moving'), peers: [`127.0.0.1:${seed.listenPort}`] });
    await h.waitFor('finished');
    expect(first!.total_payload_download).toBeGreaterThan(0);
    expect(first!.download_payload_rate).toBeGreaterThan(0);
    expect(first!.download_rate).toBeGreaterThan(0);
    expect(sh.status().ratio).toBeGreaterThan(0.9);
    expect(h.status().ratio).toBe(0);
  });
});

describe('a peer that connects while the torrent is being checked', () => {
  it('is turned away (libtorrent: torrent_not_ready), so it comes back and downloads once the check is over', async () => {
    // Big enough that checking takes a while after state_changed says checking_files.
    const t = await makeTorrent({ dir: await tmpDir('checking-seed'), name: 'big.bin', files: 48 * 1024 * 1024, pieceLength: 1 << 20 });
    const seed = await session();
    const dl = await session();
    let adding: Promise<unknown> | null = null;
    seed.on('state_changed', ({ state }) => {
      if (state === 'checking_files' && !adding) {
        adding = dl.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot + '-copy', peers: [`127.0.0.1:${seed.listenPort}`] });
      }
    });
    await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await adding;
    const st = await dl.findTorrent(t.infoHash)!.waitFor('finished');
    expect(st.total_wanted_done).toBe(48 * 1024 * 1024);
  }, 30_000);
});
