import { describe, it, expect, afterEach, jest } from '@jest/globals';
import fc from 'fast-check';
import { Counters, DEFAULT_SETTINGS } from '@spritzle/engine';
import type { DiscoveryTorrent } from '../../../packages/engine/src/discovery/types.js';
import { Discovery } from '../../../packages/engine/src/discovery/discovery.js';
import { WakeQueue, type Wakeable } from '../../../packages/engine/src/discovery/wake-queue.js';

// The discovery timer visits only torrents with something due: with 50,000 loaded torrents a walk of all of
// them each second was most of an idle daemon's CPU. Fake timers: the ticks are counted, not timed.

function fakeTorrent(n: number): DiscoveryTorrent {
  const infoHashBytes = new Uint8Array(20);
  infoHashBytes[0] = n;
  return {
    infoHash: Buffer.from(infoHashBytes).toString('hex'), infoHashBytes, isPrivate: false,
    uploaded: 0, downloaded: 0, left: 1, isSeeding: false, flags: 0,
    addPeer: () => undefined, connectedPeers: () => [],
  };
}

const discoveries: Discovery[] = [];
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(discoveries.splice(0).map((d) => d.close()));
});

async function discovery(dht = false): Promise<Discovery> {
  jest.useFakeTimers({ now: 1_000_000 });
  // The DHT node, when on, binds an ephemeral port of 127.0.0.1 and knows no other node.
  const d = new Discovery({
    counters: new Counters(), settings: { ...DEFAULT_SETTINGS, enable_dht: dht, dht_bootstrap_nodes: '', enable_lsd: false },
    peerId: new Uint8Array(20), listenPort: 0, listenHost: '127.0.0.1',
  });
  discoveries.push(d);
  await d.start();
  return d;
}

/** Counts the discovery timer's visits of one torrent's discovery. */
function visits(td: object): { count: number } {
  const seen = { count: 0 };
  const t = td as { tick(now: number): void };
  const tick = t.tick.bind(t);
  t.tick = (now) => {
    seen.count++;
    tick(now);
  };
  return seen;
}

describe('discovery wake-ups', () => {
  it('a paused torrent is not visited by the discovery tick', async () => {
    const d = await discovery();
    const paused = visits(d.forTorrent(fakeTorrent(1), ['udp://127.0.0.1:9/announce']));
    jest.advanceTimersByTime(10_000);
    expect(paused.count).toBe(0);
    expect(d.queuedTorrents).toBe(0);
  });

  it('a started torrent with nothing to announce to (no tracker, no DHT, no LSD) is not visited each second', async () => {
    const d = await discovery();
    const td = d.forTorrent(fakeTorrent(2), []);
    td.start();
    const seen = visits(td);
    jest.advanceTimersByTime(10_000);
    expect(seen.count).toBe(0);
  });

  it('a stopped torrent leaves the queue at its next visit and is not visited again', async () => {
    const d = await discovery();
    const td = d.forTorrent(fakeTorrent(3), ['http://127.0.0.1:9/announce']);
    td.start();
    td.stop();
    const seen = visits(td);
    jest.advanceTimersByTime(10_000);
    expect(seen.count).toBeLessThanOrEqual(1);
    expect(d.queuedTorrents).toBe(0);
  });

  it('torrents waiting for the DHT budget (4 rounds a tick) are visited 4 a tick, each once, not all of them every tick', async () => {
    const d = await discovery(true);
    expect(d.isDhtRunning()).toBe(true);
    const tds = Array.from({ length: 50 }, (_, i) => d.forTorrent(fakeTorrent(10 + i), []));
    // Starting, the first 4 take the budget left; the other 46 wait.
    for (const td of tds) td.start();
    const seen = tds.map(visits);
    const total = () => seen.reduce((n, v) => n + v.count, 0);
    jest.advanceTimersByTime(3000);
    expect(total()).toBe(12);
    jest.advanceTimersByTime(20_000);
    // Each waiting torrent visited once, for its round; then nothing is due for the announce interval.
    expect(total()).toBe(46);
    expect(seen.every((v, i) => v.count === (i < 4 ? 0 : 1))).toBe(true);
  });
});

interface Item extends Wakeable { id: number }

describe('WakeQueue', () => {
  it('pops the due items earliest first, a wake brought forward counts and a later one does not, removed items never pop', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('wake' as const), id: fc.nat(19), at: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.nat(19) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const q = new WakeQueue<Item>();
      const items: Item[] = Array.from({ length: 20 }, (_, id) => ({ id, wakeAt: 0, wakeIndex: -1 }));
      const model = new Map<number, number>();
      for (const o of ops) {
        if (o.kind === 'wake') {
          q.wakeBy(items[o.id]!, o.at);
          model.set(o.id, Math.min(o.at, model.get(o.id) ?? Infinity));
        } else if (o.kind === 'remove') {
          q.remove(items[o.id]!);
          model.delete(o.id);
        } else {
          const popped: number[] = [];
          for (let it = q.popDue(o.now); it; it = q.popDue(o.now)) popped.push(it.wakeAt);
          const due = [...model.entries()].filter(([, at]) => at <= o.now);
          expect(popped).toEqual(due.map(([, at]) => at).sort((a, b) => a - b));
          for (const [id] of due) model.delete(id);
        }
        expect(q.size).toBe(model.size);
      }
    }), { seed: 18, numRuns: 300 });
  });
});
