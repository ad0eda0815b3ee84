import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { RateWindow } from '../../../packages/engine/src/stats/rate-window.js';

// A sliding-window rate, with times given explicitly (no clock in the test).

describe('RateWindow', () => {
  it('is non-zero 0.5 s after data starts flowing, between two once-a-second samples', () => {
    const w = new RateWindow(3000);
    w.sample(0, 0);
    expect(w.rate(500, 50_000)).toBe(100_000);
  });

  it('measures from the oldest sample still inside the window', () => {
    const w = new RateWindow(3000);
    for (let s = 0; s <= 5; s++) w.sample(s * 1000, s * 1000 * 10);
    expect(w.rate(5500, 55_000)).toBe(10_000);
  });

  it('falls to zero one window after the counter stops', () => {
    const w = new RateWindow(3000);
    w.sample(0, 0);
    w.sample(1000, 100_000);
    for (let s = 2; s <= 5; s++) w.sample(s * 1000, 100_000);
    expect(w.rate(5000, 100_000)).toBe(0);
  });

  it('does not turn bytes counted a moment after a sample into a huge rate', () => {
    const w = new RateWindow(3000);
    w.sample(0, 0);
    expect(w.rate(1, 1000)).toBe(4000);
  });

  it('is 0 before any sample', () => {
    expect(new RateWindow().rate(0, 1000)).toBe(0);
  });

  it('is never negative and never more than the bytes over the floor span (property, seed 11)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 1e6 })), { minLength: 1, maxLength: 20 }), (steps) => {
      const w = new RateWindow(3000);
      let now = 0;
      let total = 0;
      for (const [dt, bytes] of steps) {
        now += dt;
        total += bytes;
        w.sample(now, total);
      }
      const r = w.rate(now + 100, total + 1000);
      return r >= 0 && r <= (total + 1000) * 4;
    }), { seed: 11, numRuns: 500 });
  });
});
