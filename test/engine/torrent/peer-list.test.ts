import { describe, it, expect } from '@jest/globals';
import { MAX_HALF_OPEN, MAX_PEER_LIST, PeerList, type DialLimits } from '../../../packages/engine/src/torrent/peer-list.js';

const limits = (over: Partial<DialLimits> = {}): DialLimits => ({ connections: 0, maxConnections: -1, seeding: false, minReconnectTime: 60, ...over });

function dialled(list: PeerList, now: number, l: DialLimits = limits()): string[] {
  const out: string[] = [];
  list.dialCandidates(l, now, (host, port) => out.push(`${host}:${port}`));
  return out;
}

describe('PeerList', () => {
  it('knows an address once, however often it is heard of', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 6881);
    list.add('10.0.0.1', 6881);
    list.add('10.0.0.1', 6882);
    expect(list.size).toBe(2);
    expect(list.connectCandidates).toBe(2);
  });

  it(`holds at most ${MAX_PEER_LIST} addresses however many trackers, DHT nodes and PEX peers name`, () => {
    const list = new PeerList();
    for (let i = 0; i < MAX_PEER_LIST + 1000; i++) list.add(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 6881);
    expect(list.size).toBe(MAX_PEER_LIST);
  });

  it('makes room for a new address by forgetting one that failed, never a connected one', () => {
    const list = new PeerList();
    for (let i = 0; i < MAX_PEER_LIST; i++) list.add('10.0.0.1', 1000 + i);
    list.connected('10.0.0.1', 1000);
    list.dialFailed('10.0.0.1', 1001, false);
    list.add('10.0.0.2', 6881);
    expect(list.size).toBe(MAX_PEER_LIST);
    expect(list.get('10.0.0.2', 6881)).toBeDefined();
    expect(list.get('10.0.0.1', 1001)).toBeUndefined();
    expect(list.get('10.0.0.1', 1000)).toBeDefined();
  });

  it(`dials at most ${MAX_HALF_OPEN} peers at once`, () => {
    const list = new PeerList();
    for (let i = 0; i < 20; i++) list.add('10.0.0.1', 7000 + i);
    expect(dialled(list, 1000)).toHaveLength(MAX_HALF_OPEN);
    expect(dialled(list, 1000)).toHaveLength(0);
  });

  it('dials no more than the connection limit allows, counting connections and dials under way', () => {
    const list = new PeerList();
    for (let i = 0; i < 5; i++) list.add('10.0.0.1', 7000 + i);
    expect(dialled(list, 1000, limits({ connections: 1, maxConnections: 3 }))).toHaveLength(2);
  });

  it('does not dial a peer that was a seed while we seed', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 7000);
    dialled(list, 0);
    list.connected('10.0.0.1', 7000);
    list.disconnected('10.0.0.1', 7000, 0, true);
    expect(dialled(list, 10_000_000, limits({ seeding: true }))).toEqual([]);
    expect(dialled(list, 10_000_000, limits({ seeding: false }))).toEqual(['10.0.0.1:7000']);
  });

  it('waits before dialling a failed address again, longer after each failure', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 7000);
    const t0 = 1_000_000;
    expect(dialled(list, t0)).toHaveLength(1);
    list.dialFailed('10.0.0.1', 7000, false);
    expect(dialled(list, t0 + 1999)).toEqual([]); // 2 s after one failure
    expect(dialled(list, t0 + 2000)).toEqual(['10.0.0.1:7000']);
    list.dialFailed('10.0.0.1', 7000, false);
    expect(dialled(list, t0 + 5999)).toEqual([]); // 4 s after two
    expect(dialled(list, t0 + 6000)).toEqual(['10.0.0.1:7000']);
  });

  it('dials an explicitly added peer at once, whatever its backoff', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 7000);
    dialled(list, 0);
    list.dialFailed('10.0.0.1', 7000, false);
    list.add('10.0.0.1', 7000, true);
    expect(dialled(list, 1)).toEqual(['10.0.0.1:7000']);
  });

  describe('plaintext after a failed encrypted handshake (libtorrent\'s pe_support)', () => {
    /** Dials due far enough apart for any backoff: whether each is plaintext. */
    const plaintextDials = (list: PeerList, now: number): boolean[] => {
      const out: boolean[] = [];
      list.dialCandidates(limits(), now, (_h, _p, plaintext) => out.push(plaintext));
      return out;
    };

    it('dials plaintext after an encrypted attempt fails in its handshake, and encrypted again after a plaintext one fails', () => {
      const list = new PeerList();
      list.add('10.0.0.1', 7000);
      expect(plaintextDials(list, 1)).toEqual([false]);
      list.dialFailed('10.0.0.1', 7000, false, 'encrypted');
      expect(plaintextDials(list, 100_000)).toEqual([true]);
      list.dialFailed('10.0.0.1', 7000, false, 'plaintext');
      expect(plaintextDials(list, 200_000)).toEqual([false]);
    });

    it('keeps dialling the way that worked', () => {
      const list = new PeerList();
      list.add('10.0.0.1', 7000);
      plaintextDials(list, 1);
      list.dialFailed('10.0.0.1', 7000, false, 'encrypted');
      plaintextDials(list, 100_000);
      list.connected('10.0.0.1', 7000, false);
      list.disconnected('10.0.0.1', 7000, 100_000, false);
      expect(plaintextDials(list, 1_000_000)).toEqual([true]);
      list.connected('10.0.0.1', 7000, true);
      list.disconnected('10.0.0.1', 7000, 1_000_000, false);
      expect(plaintextDials(list, 2_000_000)).toEqual([false]);
    });

    it('is not moved by a dial that never connected', () => {
      const list = new PeerList();
      list.add('10.0.0.1', 7000);
      plaintextDials(list, 1);
      list.dialFailed('10.0.0.1', 7000, false);
      expect(plaintextDials(list, 100_000)).toEqual([false]);
    });
  });

  it('never dials a skipped address again', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 7000);
    dialled(list, 0);
    list.dialFailed('10.0.0.1', 7000, true);
    expect(dialled(list, 10_000_000)).toEqual([]);
    expect(list.addresses(10)).toEqual([]);
  });

  it('keeps a banned peer out by its address and by its peer id from another address', () => {
    const list = new PeerList();
    list.add('10.0.0.1', 7000);
    expect(list.ban('10.0.0.1', 7000, 'aa'.repeat(20))).toBe(true);
    expect(list.isBanned('10.0.0.1', 7000, '')).toBe(true);
    expect(list.isBanned('10.0.0.2', 9000, 'aa'.repeat(20))).toBe(true);
    expect(list.isBanned('10.0.0.2', 9000, 'bb'.repeat(20))).toBe(false);
    expect(list.size).toBe(0);
    list.add('10.0.0.1', 7000);
    expect(list.size).toBe(0);
  });

  it('bans an address once', () => {
    const list = new PeerList();
    expect(list.ban('10.0.0.1', 7000, 'aa'.repeat(20))).toBe(true);
    expect(list.ban('10.0.0.1', 7000, 'aa'.repeat(20))).toBe(false);
  });
});

describe('PeerList bans (peer.num_banned_peers)', () => {
  it('counts a peer banned by address and peer id once', () => {
    const list = new PeerList();
    list.ban('10.0.0.1', 7000, 'aa'.repeat(20));
    list.ban('10.0.0.2', 7000, '');
    expect(list.numBanned).toBe(2);
  });
});
