// libtorrent's queue: positions and the auto-manager's choice of which torrents run.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { autoManage, QueuePositions, type QueueEntry } from '../../../packages/engine/src/session/queue.js';

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
