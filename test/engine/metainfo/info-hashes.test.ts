// Info-hashes as libtorrent's info_hash_t: which hash names a torrent, which the swarm sees, which the API takes.
import { describe, expect, it } from '@jest/globals';
import { SpritzleError } from '@spritzle/engine';
import {
  bestInfoHash, btmhToV2, matchesInfoHash, parseInfoHash, swarmHashes, v2ToBtmh,
} from '../../../packages/engine/src/metainfo/info-hashes.js';

const v1 = 'ab'.repeat(20);
const v2 = 'cd'.repeat(16) + 'ef'.repeat(16);

describe('info-hashes', () => {
  it('names a torrent by v1 when it has one, else by the v2 hash truncated to 40 hex (get_best)', () => {
    expect(bestInfoHash({ v1, v2 })).toBe(v1);
    expect(bestInfoHash({ v2 })).toBe(v2.slice(0, 40));
  });

  it('announces a hybrid under both hashes, a v2 torrent under its truncated hash', () => {
    expect(swarmHashes({ v1, v2 })).toEqual([v1, v2.slice(0, 40)]);
    expect(swarmHashes({ v2 })).toEqual([v2.slice(0, 40)]);
  });

  it('matches a torrent by v1, full v2 or truncated v2, in either case', () => {
    expect([v1, v2, v2.slice(0, 40), v2.toUpperCase()].map((x) => matchesInfoHash({ v1, v2 }, x))).toEqual([true, true, true, true]);
    expect(matchesInfoHash({ v1 }, v2)).toBe(false);
    expect(matchesInfoHash({ v2 }, v1)).toBe(false);
  });

  it('takes 40 or 64 hex from the API and refuses anything else as invalid_info_hash', () => {
    expect(parseInfoHash(v2.toUpperCase())).toBe(v2);
    expect(parseInfoHash(v1)).toBe(v1);
    for (const bad of [v1.slice(1), `${v2}0`, 'g'.repeat(40), 42]) {
      expect(() => parseInfoHash(bad)).toThrow(expect.objectContaining({ code: 'invalid_info_hash' }) as unknown as SpritzleError);
    }
  });

  it('reads a magnet\'s btmh (multihash 0x12 0x20) and writes it back', () => {
    expect(btmhToV2(`urn:btmh:1220${v2.toUpperCase()}`)).toBe(v2);
    expect(v2ToBtmh(v2)).toBe(`urn:btmh:1220${v2}`);
    for (const bad of [`urn:btmh:1120${v2}`, `urn:btmh:1220${v2.slice(2)}`, `urn:btmh:${v2}`]) {
      expect(() => btmhToV2(bad)).toThrow(/needs "1220"/);
    }
  });
});
