// Share limits: which limit a seeding torrent has reached.
import { describe, it, expect } from '@jest/globals';
import { NO_LIMIT, USE_GLOBAL, shareLimitReached, shareRatio, validLimit, type ShareFigures, type ShareLimits } from '../../../packages/engine/src/torrent/share-limits.js';

const NONE: ShareLimits = { ratio_limit: NO_LIMIT, seeding_time_limit: NO_LIMIT, inactive_seeding_time_limit: NO_LIMIT };
const GLOBAL: ShareLimits = { ratio_limit: USE_GLOBAL, seeding_time_limit: USE_GLOBAL, inactive_seeding_time_limit: USE_GLOBAL };
const fig = (o: Partial<ShareFigures>): ShareFigures => ({ isSeeding: true, allTimeUpload: 0, allTimeDownload: 100, totalSize: 100, seedingSeconds: 0, inactiveSeconds: 0, ...o });

describe('shareLimitReached', () => {
  it('reaches the ratio limit at uploaded / downloaded ≥ limit', () => {
    expect(shareLimitReached(fig({ allTimeUpload: 199 }), { ...NONE, ratio_limit: 2 }, NONE)).toBeNull();
    expect(shareLimitReached(fig({ allTimeUpload: 200 }), { ...NONE, ratio_limit: 2 }, NONE)).toBe('ratio');
  });

  it('divides by the larger of downloaded and the size, as the status\'s ratio does', () => {
    expect(shareRatio(fig({ allTimeDownload: 0, totalSize: 50, allTimeUpload: 100 }))).toBe(2);
    expect(shareRatio(fig({ allTimeDownload: 200, totalSize: 50, allTimeUpload: 100 }))).toBe(0.5);
  });

  it('uses the session limits where the torrent says USE_GLOBAL', () => {
    expect(shareLimitReached(fig({ seedingSeconds: 3600 }), GLOBAL, { ...NONE, seeding_time_limit: 3600 })).toBe('seeding_time');
    expect(shareLimitReached(fig({ seedingSeconds: 3600 }), NONE, { ...NONE, seeding_time_limit: 3600 })).toBeNull();
  });

  it('reaches the inactive seeding limit', () => {
    expect(shareLimitReached(fig({ inactiveSeconds: 60 }), { ...NONE, inactive_seeding_time_limit: 60 }, NONE)).toBe('inactive_seeding_time');
  });

  it('judges only seeding torrents', () => {
    expect(shareLimitReached(fig({ isSeeding: false, allTimeUpload: 1e9 }), { ...NONE, ratio_limit: 0 }, NONE)).toBeNull();
  });

  it('accepts -2, -1 and non-negative numbers as limits, nothing else', () => {
    expect([-2, -1, 0, 1.5].map(validLimit)).toEqual([-2, -1, 0, 1.5]);
    expect([-3, Number.NaN, '1', Infinity].map(validLimit)).toEqual([null, null, null, null]);
  });
});
