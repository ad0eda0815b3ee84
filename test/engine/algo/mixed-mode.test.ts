import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  MIXED_MODE_PEER_PROPORTIONAL as PROPORTIONAL,
  MIXED_MODE_PREFER_TCP as PREFER_TCP,
  TCP_CLASS_FLOOR_DOWN,
  TCP_CLASS_FLOOR_UP,
  tcpClassLimit,
  tcpClassLimits,
} from '../../../packages/engine/src/algo/mixed-mode.js';

// libtorrent's rule (session_impl.cpp, on_tick): the TCP peer class's limit per direction, 0 = unlimited.
describe('mixed_mode_algorithm: the TCP peer class limit', () => {
  it('prefer_tcp leaves TCP unlimited even with uTP peers active', () => {
    expect(tcpClassLimit(PREFER_TCP, 3, 5, 1_000_000, TCP_CLASS_FLOOR_DOWN)).toBe(0);
  });

  it('peer_proportional leaves TCP unlimited while no uTP peer is active in that direction', () => {
    expect(tcpClassLimit(PROPORTIONAL, 4, 0, 1_000_000, TCP_CLASS_FLOOR_DOWN)).toBe(0);
  });

  it('peer_proportional gives TCP its share by peer count of the current rate', () => {
    expect(tcpClassLimit(PROPORTIONAL, 1, 1, 1_000_000, TCP_CLASS_FLOOR_UP)).toBe(500_000);
    expect(tcpClassLimit(PROPORTIONAL, 1, 3, 1_000_000, TCP_CLASS_FLOOR_UP)).toBe(250_000);
    expect(tcpClassLimit(PROPORTIONAL, 3, 1, 1_000_000, TCP_CLASS_FLOOR_UP)).toBe(750_000);
  });

  it('the share is rounded down to whole bytes', () => {
    expect(tcpClassLimit(PROPORTIONAL, 1, 2, 1_000_000, 0)).toBe(333_333);
  });

  it('with uTP peers but no TCP peer active, one TCP peer is assumed (room for a TCP peer to start)', () => {
    expect(tcpClassLimit(PROPORTIONAL, 0, 1, 1_000_000, TCP_CLASS_FLOOR_DOWN)).toBe(500_000);
    expect(tcpClassLimit(PROPORTIONAL, 0, 3, 1_000_000, TCP_CLASS_FLOOR_DOWN)).toBe(250_000);
  });

  it('never throttles below the floor: 5,000 B/s up and 30,000 B/s down, as libtorrent', () => {
    expect(TCP_CLASS_FLOOR_UP).toBe(5000);
    expect(TCP_CLASS_FLOOR_DOWN).toBe(30000);
    expect(tcpClassLimit(PROPORTIONAL, 1, 1, 0, TCP_CLASS_FLOOR_UP)).toBe(5000);
    expect(tcpClassLimit(PROPORTIONAL, 1, 1, 40_000, TCP_CLASS_FLOOR_DOWN)).toBe(30_000);
  });

  it('each direction is decided from its own counts and rate', () => {
    const counts = { upTcp: 1, upUtp: 1, downTcp: 2, downUtp: 0 };
    expect(tcpClassLimits(PROPORTIONAL, counts, 800_000, 2_000_000)).toEqual({ upload: 400_000, download: 0 });
    expect(tcpClassLimits(PROPORTIONAL, { upTcp: 0, upUtp: 0, downTcp: 1, downUtp: 4 }, 800_000, 2_000_000)).toEqual({ upload: 0, download: 400_000 });
    expect(tcpClassLimits(PREFER_TCP, counts, 800_000, 2_000_000)).toEqual({ upload: 0, download: 0 });
  });

  it('with the floors, an active uTP peer always yields a limit, between the floor and the whole rate', () => {
    // A limit of 0 would read as unlimited: a share rounded down to nothing must not lift the limit.
    const seed = 1313;
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 1000 }), fc.nat(2 ** 40), fc.boolean(), (tcp, utp, rate, up) => {
        const floor = up ? TCP_CLASS_FLOOR_UP : TCP_CLASS_FLOOR_DOWN;
        const limit = tcpClassLimit(PROPORTIONAL, tcp, utp, rate, floor);
        expect(Number.isInteger(limit)).toBe(true);
        expect(limit).toBeGreaterThanOrEqual(floor);
        expect(limit).toBeLessThanOrEqual(Math.max(rate, floor));
      }),
      { seed, numRuns: 2000 },
    );
  });
});
