// libtorrent's queue: positions, the auto-manager's choice of which torrents run, and both in a session.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Session } from '@spritzle/engine';
import { autoManage, QueuePositions, type QueueEntry } from '../../../packages/engine/src/session/queue.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor } from '../../helpers/engine.js';

const dl = (id: string, pos: number, running = false, autoManaged = true): QueueEntry =>
  ({ id, autoManaged, running, finished: false, error: false, queuePosition: pos, seedRank: 0 });
const seed = (id: string, rank: number, running = false, autoManaged = true): QueueEntry =>
  ({ id, autoManaged, running, finished: true, error: false, queuePosition: -1, seedRank: rank });

describe('autoManage', () => {
  it('runs the first active_downloads downloads by queue position and queues the rest', () => {
    const d = autoManage([dl('c', 2), dl('a', 0), dl('b', 1, true)], { active_downloads: 2, active_seeds: 5, active_limit: 500 });
    expect(d).toEqual({ start: ['a'], stop: [], queued: ['c'] });
  });

  it('stops a running download that lost its slot to one moved above it', () => {
    const d = autoManage([dl('a', 0), dl('b', 1, true)], { active_downloads: 1, active_seeds: 5, active_limit: 500 });
    expect(d).toEqual({ start: ['a'], stop: ['b'], queued: ['b'] });
  });

  it('gives seed slots by seed rank, and active_limit caps downloads and seeds together', () => {
    const d = autoManage([dl('a', 0), seed('s1', 1), seed('s2', 9)], { active_downloads: 3, active_seeds: 3, active_limit: 2 });
    expect(d).toEqual({ start: ['a', 's2'], stop: [], queued: ['s1'] });
  });

  it('a force-started (not auto-managed) running torrent takes a slot and is never stopped', () => {
    const d = autoManage([dl('forced', 5, true, false), dl('a', 0)], { active_downloads: 1, active_seeds: 5, active_limit: 500 });
    expect(d).toEqual({ start: [], stop: [], queued: ['a'] });
  });

  it('-1 means unlimited; torrents in error are left alone', () => {
    const err = { ...dl('e', 0), error: true };
    const d = autoManage([err, dl('a', 1), dl('b', 2)], { active_downloads: -1, active_seeds: -1, active_limit: -1 });
    expect(d).toEqual({ start: ['a', 'b'], stop: [], queued: [] });
  });

  it('never lets more run than the limits allow (property)', () => {
    const entry = fc.record({
      autoManaged: fc.boolean(), running: fc.boolean(), finished: fc.boolean(), error: fc.boolean(),
      queuePosition: fc.nat(20), seedRank: fc.nat(20),
    });
    fc.assert(fc.property(fc.array(entry, { maxLength: 20 }), fc.nat(4), fc.nat(4), fc.nat(6), (raw, ad, as, al) => {
      const entries = raw.map((e, i) => ({ ...e, id: String(i) }));
      const d = autoManage(entries, { active_downloads: ad, active_seeds: as, active_limit: al });
      const running = new Set(entries.filter((e) => e.running).map((e) => e.id));
      for (const id of d.start) running.add(id);
      for (const id of d.stop) running.delete(id);
      const managedRunning = entries.filter((e) => e.autoManaged && !e.error && running.has(e.id));
      const forced = entries.filter((e) => !e.autoManaged && !e.error && e.running);
      const total = managedRunning.length + forced.length;
      if (managedRunning.length > 0) expect(total).toBeLessThanOrEqual(Math.max(al, forced.length));
      expect(managedRunning.filter((e) => !e.finished).length).toBeLessThanOrEqual(ad);
      expect(managedRunning.filter((e) => e.finished).length).toBeLessThanOrEqual(as);
    }), { seed: 20261130, numRuns: 500 });
  });
});

describe('QueuePositions', () => {
  it('appends at the bottom and closes the gap when one leaves', () => {
    const q = new QueuePositions();
    for (const id of ['a', 'b', 'c']) q.add(id);
    q.remove('a');
    expect([q.positionOf('b'), q.positionOf('c'), q.positionOf('a')]).toEqual([0, 1, -1]);
  });

  it('moves to the top, the bottom, up and down', () => {
    const q = new QueuePositions();
    for (const id of ['a', 'b', 'c', 'd']) q.add(id);
    q.top('c');
    expect(q.list()).toEqual(['c', 'a', 'b', 'd']);
    q.bottom('a');
    expect(q.list()).toEqual(['c', 'b', 'd', 'a']);
    q.up('d');
    expect(q.list()).toEqual(['c', 'd', 'b', 'a']);
    q.down('c');
    expect(q.list()).toEqual(['d', 'c', 'b', 'a']);
    q.up('d');
    q.down('a');
    expect(q.list()).toEqual(['d', 'c', 'b', 'a']);
  });
});

describe('queueing in a session', () => {
  it('removing a torrent moves up only the ones below it, each to its new place', async () => {
    const dir = await tmpDir('spritzle-queue-rm');
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('spritzle-queue-rm-dl') });
    try {
      const hs = [];
      for (let i = 0; i < 4; i++) hs.push(await s.addTorrent({ ti: (await makeTorrent({ dir, name: `rm${i}`, files: 16384, pieceLength: 16384, seed: 600 + i })).torrentBytes }));
      expect(hs.map((h) => h.queuePosition())).toEqual([0, 1, 2, 3]);
      await s.removeTorrent(hs[1]!.infoHash);
      expect([hs[0], hs[2], hs[3]].map((h) => h!.queuePosition())).toEqual([0, 1, 2]);
      hs[3]!.queuePositionTop();
      await s.removeTorrent(hs[0]!.infoHash);
      expect([hs[3], hs[2]].map((h) => h!.queuePosition())).toEqual([0, 1]);
    } finally {
      await s.close();
    }
  });

  it('with active_downloads 1 the second auto-managed torrent waits, paused and auto-managed, until moved to the top', async () => {
    const dir = await tmpDir('spritzle-queue');
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('spritzle-queue-dl'), active_downloads: 1 });
    try {
      const a = await s.addTorrent({ ti: (await makeTorrent({ dir, name: 'qa', files: 40_000, pieceLength: 16384, seed: 501 })).torrentBytes });
      const b = await s.addTorrent({ ti: (await makeTorrent({ dir, name: 'qb', files: 40_000, pieceLength: 16384, seed: 502 })).torrentBytes });
      expect([a.queuePosition(), b.queuePosition()]).toEqual([0, 1]);
      await waitFor(() => b.status().paused && !a.status().paused, 10_000, 'b queued');
      expect(b.status()).toMatchObject({ paused: true, auto_managed: true, queue_position: 1 });
      b.queuePositionTop();
      expect([a.queuePosition(), b.queuePosition()]).toEqual([1, 0]);
      expect([a.status().paused, b.status().paused]).toEqual([true, false]);
      // A force-start (not auto-managed, resumed) runs beside the queue's download.
      a.update({ auto_managed: false });
      a.resume();
      await waitFor(() => !a.status().paused, 10_000, 'a forced');
      expect(b.status().paused).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('lifting the limits starts the queued torrents', async () => {
    const dir = await tmpDir('spritzle-queue2');
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('spritzle-queue2-dl'), active_downloads: 0 });
    try {
      const a = await s.addTorrent({ ti: (await makeTorrent({ dir, name: 'qc', files: 40_000, pieceLength: 16384, seed: 503 })).torrentBytes });
      await waitFor(() => a.status().paused, 10_000, 'queued');
      s.applySettings({ active_downloads: -1 });
      await waitFor(() => !a.status().paused, 10_000, 'started');
    } finally {
      await s.close();
    }
  });
});
