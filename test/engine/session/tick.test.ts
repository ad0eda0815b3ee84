import { describe, it, expect, jest } from '@jest/globals';
import type { Session, SessionEvents, TorrentHandle } from '@spritzle/engine';
import { Torrent } from '../../../packages/engine/src/torrent/torrent.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { finished, sessionsForThisFile, waitFor } from '../../helpers/engine.js';

// The session's tick visits only the torrents that can change (libtorrent's want-tick list): a paused torrent,
// or one running with nobody to talk to, costs nothing per second, and the gauges and state_update stay right.

const session = sessionsForThisFile();

/** Resolves after `n` more session ticks. */
async function ticks(s: Session, n: number): Promise<void> {
  const at = s.stats()['net.on_tick_counter']!;
  await waitFor(() => s.stats()['net.on_tick_counter']! >= at + n, 10_000, `${n} ticks`);
}

/** The torrents (by info-hash) Torrent.tick was called for while `during` ran. */
async function visitedDuring(during: () => Promise<void>): Promise<Set<string>> {
  const spy = jest.spyOn(Torrent.prototype, 'tick');
  try {
    await during();
    return new Set((spy.mock.contexts as Torrent[]).map((t) => t.infoHash));
  } finally {
    spy.mockRestore();
  }
}

async function seedAndEmpty(name: string) {
  const t = await makeTorrent({ dir: await tmpDir(`tick-${name}`), name, files: 65536, pieceLength: 16384 });
  return { t, empty: await tmpDir(`tick-${name}-empty`) };
}

describe('the session tick', () => {
  it('does not visit a paused torrent, an idle seed or a download with nobody to dial', async () => {
    const s = await session();
    const a = await seedAndEmpty('idle-seed.bin');
    const b = await seedAndEmpty('paused.bin');
    const c = await seedAndEmpty('no-peers.bin');
    const seed = await s.addTorrent({ ti: a.t.torrentBytes, save_path: a.t.dataRoot });
    const paused = await s.addTorrent({ ti: b.t.torrentBytes, save_path: b.t.dataRoot, paused: true });
    const downloading = await s.addTorrent({ ti: c.t.torrentBytes, save_path: c.empty });
    expect([seed.status().state, paused.status().paused, downloading.status().state]).toEqual(['seeding', true, 'downloading']);
    await ticks(s, 1); // the tick after an add looks at the new torrents once
    const visited = await visitedDuring(() => ticks(s, 3));
    expect(visited.size).toBe(0);
  });

  it('does not visit a torrent in error, which never started checking', async () => {
    const s = await session();
    const a = await seedAndEmpty('in-error.bin');
    const h = await s.addTorrent({ ti: a.t.torrentBytes, save_path: a.t.dataRoot }, { error: 'its resume data is unusable' });
    expect(h.status().state).toBe('checking_resume_data');
    await ticks(s, 1);
    const visited = await visitedDuring(() => ticks(s, 2));
    expect(visited.has(h.infoHash)).toBe(false);
  });

  it('visits a torrent again once it has something to do (a peer address to dial)', async () => {
    const s = await session();
    const a = await seedAndEmpty('wake.bin');
    const h = await s.addTorrent({ ti: a.t.torrentBytes, save_path: a.empty });
    await ticks(s, 1);
    const visited = await visitedDuring(async () => {
      h.connectPeer('127.0.0.1', 9); // nobody answers: dialled, failed, retried later
      await ticks(s, 2);
    });
    expect([...visited]).toEqual([h.infoHash]);
  });

  it('counts running time of a torrent it does not visit, and none while paused', async () => {
    const s = await session();
    const a = await seedAndEmpty('time.bin');
    const b = await seedAndEmpty('time-paused.bin');
    const running = await s.addTorrent({ ti: a.t.torrentBytes, save_path: a.t.dataRoot });
    const paused = await s.addTorrent({ ti: b.t.torrentBytes, save_path: b.t.dataRoot, paused: true });
    const real = Date.now;
    const at = real();
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => at + 3_600_000);
    try {
      expect(running.status().active_time).toBeGreaterThanOrEqual(3600);
      expect(running.status().seeding_time).toBeGreaterThanOrEqual(3600);
      expect(paused.status().active_time).toBe(0);
    } finally {
      clock.mockRestore();
    }
  });
});

describe('gauges and state_update with torrents that go idle', () => {
  /** A seed session and a downloader session, the downloader dialling the seed. */
  async function transfer(name: string) {
    const seedSession = await session();
    const dlSession = await session();
    const f = await seedAndEmpty(name);
    const seed = await seedSession.addTorrent({ ti: f.t.torrentBytes, save_path: f.t.dataRoot });
    await ticks(seedSession, 2); // idle: not visited any more
    return { seedSession, dlSession, seed, f };
  }

  it('count an idle seed, then its peer while one is connected, then none once the peer left', async () => {
    const { seedSession, dlSession, seed, f } = await transfer('gauges.bin');
    const g = () => {
      const st = seedSession.stats();
      return { seeding: st['ses.num_seeding_torrents'], peers: st['peer.num_peers_connected'], pieces: st['ses.num_have_pieces'] };
    };
    expect(g()).toEqual({ seeding: 1, peers: 0, pieces: 4 });
    // A peer that wants nothing stays connected (neither side is done with the other).
    const dl = await dlSession.addTorrent({ ti: f.t.torrentBytes, save_path: f.empty, file_priorities: [0] });
    dl.connectPeer('127.0.0.1', seedSession.listenPort);
    await waitFor(() => seed.status().num_peers === 1, 10_000, 'the peer connected');
    expect(g()).toEqual({ seeding: 1, peers: 1, pieces: 4 });
    await dlSession.removeTorrent(dl.infoHash);
    await waitFor(() => seed.status().num_peers === 0, 10_000, 'the peer gone');
    expect(g()).toEqual({ seeding: 1, peers: 0, pieces: 4 });
    // Idle again: the tick lets it go once its rates fell to zero, and the gauges still count it.
    await waitFor(() => seed.status().upload_rate === 0, 10_000, 'the upload rate falling to zero');
    await ticks(seedSession, 2);
    const visited = await visitedDuring(() => ticks(seedSession, 2));
    expect(visited.has(seed.infoHash)).toBe(false);
    seed.pause();
    expect(seedSession.stats()['ses.num_stopped_torrents']).toBe(1);
    expect(seedSession.stats()['ses.num_seeding_torrents']).toBe(0);
    await seedSession.removeTorrent(seed.infoHash);
    expect([seedSession.stats()['ses.num_stopped_torrents'], seedSession.stats()['ses.num_have_pieces']]).toEqual([0, 0]);
  });

  it('postTorrentUpdates reports a torrent that changed and went idle before anyone asked', async () => {
    const s = await session();
    const f = await seedAndEmpty('asked-late.bin');
    const h = await s.addTorrent({ ti: f.t.torrentBytes, save_path: f.t.dataRoot });
    await ticks(s, 3); // checked, seeding, and no longer visited
    const updates: SessionEvents['state_update'][] = [];
    s.on('state_update', (u) => updates.push(u));
    s.postTorrentUpdates();
    expect(updates.flatMap((u) => u.status).map((st) => [st.info_hash, st.state])).toEqual([[h.infoHash, 'seeding']]);
    s.postTorrentUpdates();
    expect(updates).toHaveLength(1);
  });

  it('state_update reports a change to a torrent the tick had stopped visiting, and its rates falling to zero', async () => {
    const { seedSession, dlSession, seed, f } = await transfer('updates.bin');
    const updates: SessionEvents['state_update'][] = [];
    seedSession.on('state_update', (u) => updates.push(u));
    const of = (hash: string) => updates.flatMap((u) => u.status).filter((st) => st.info_hash === hash);
    const dl: TorrentHandle = await dlSession.addTorrent({ ti: f.t.torrentBytes, save_path: f.empty });
    dl.connectPeer('127.0.0.1', seedSession.listenPort);
    await finished(dlSession, dl);
    await dlSession.removeTorrent(dl.infoHash);
    await waitFor(() => of(seed.infoHash).some((st) => st.upload_rate > 0), 10_000, 'an update with a rate');
    await waitFor(() => { const last = of(seed.infoHash).at(-1); return last !== undefined && last.upload_rate === 0 && last.num_peers === 0; }, 15_000, 'an update with the rate at zero');
    await ticks(seedSession, 2);
    const before = updates.length;
    seed.pause();
    await ticks(seedSession, 1);
    expect(updates.slice(before).flatMap((u) => u.status).map((st) => [st.info_hash, st.paused])).toEqual([[seed.infoHash, true]]);
  });
});
