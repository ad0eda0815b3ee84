// Transmission's numeric torrent ids.
import { describe, it, expect } from '@jest/globals';
import { TorrentIds } from '../../../packages/server/src/transmission/ids.js';

describe('TorrentIds', () => {
  it('gives ids in order of first sight and the same id on every later call', () => {
    const ids = new TorrentIds();
    expect([ids.idOf('a'), ids.idOf('b'), ids.idOf('a')]).toEqual([1, 2, 1]);
    expect(ids.hashOf(2)).toBe('b');
  });

  it('never reuses the id of a removed torrent, and lists it as recently removed', () => {
    let now = 0;
    const ids = new TorrentIds(() => now);
    ids.idOf('a');
    ids.forget('a');
    expect(ids.hashOf(1)).toBeUndefined();
    expect(ids.idOf('b')).toBe(2);
    expect(ids.idOf('a')).toBe(3);
    expect(ids.removedSince(60_000)).toEqual([1]);
    now += 60_001;
    expect(ids.removedSince(60_000)).toEqual([]);
  });

  it('keeps a torrent\'s id when it is known by another hash (a hybrid from a btmh magnet learning its v1 hash)', () => {
    const ids = new TorrentIds();
    ids.idOf('a');
    ids.idOf('old');
    ids.rename('old', 'new');
    expect([ids.idOf('new'), ids.hashOf(2), ids.removedSince(60_000)]).toEqual([2, 'new', []]);
  });
});
