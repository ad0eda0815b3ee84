import { describe, expect, it } from '@jest/globals';
import { DelayHistory, Ledbat } from '../../../../packages/engine/src/transport/utp/ledbat.js';

const SETTINGS = { targetDelayMs: 100, gainFactor: 3000, lossMultiplier: 50, lowDelayLossMultiplier: 90 };
const MSS = 1400;

/** A controller out of slow start at `cwnd`, with a base delay of 1000 µs established. */
function steady(cwnd: number): Ledbat {
  const cc = new Ledbat(SETTINGS, MSS, 10_000_000);
  cc.onAck(MSS, 1000, 0, true);
  cc.slowStart = false;
  cc.cwnd = cwnd;
  return cc;
}

describe('LEDBAT', () => {
  it('grows by up to gain_factor per window of acks while the delay is under the target', () => {
    const cc = steady(100_000);
    for (let i = 0; i < 100; i++) cc.onAck(1000, 1000, 1, true); // a window's worth, no queuing delay
    expect(cc.cwnd).toBeGreaterThan(102_500);
    expect(cc.cwnd).toBeLessThanOrEqual(103_000);
  });

  it('shrinks while the delay is above the target', () => {
    const cc = steady(100_000);
    const above = cc.onAck(10_000, 1000 + 200_000, 1, true); // 200 ms of queuing: twice the target
    expect(above).toBe(true);
    expect(cc.cwnd).toBeLessThan(100_000);
  });

  it('does not grow a window the sender is not filling', () => {
    const cc = steady(100_000);
    cc.onAck(10_000, 1000, 1, false);
    expect(cc.cwnd).toBe(100_000);
  });

  it('at least doubles per window in slow start until the delay nears the target', () => {
    const cc = new Ledbat(SETTINGS, MSS, 10_000_000);
    cc.onAck(2 * MSS, 1000, 0, true);
    expect(cc.cwnd).toBeGreaterThanOrEqual(4 * MSS);
    cc.onAck(MSS, 1000 + 95_000, 1, true);
    expect(cc.slowStart).toBe(false);
  });

  it('cuts the window to utp_loss_multiplier percent on a loss, and to one packet on a timeout', () => {
    const cc = steady(100_000);
    cc.onLoss();
    expect(cc.cwnd).toBe(50_000);
    cc.onTimeout();
    expect(cc.cwnd).toBe(MSS);
    expect(cc.ssthresh).toBe(25_000);
  });

  it('takes a loss for random while the queuing delay is under a quarter of the target, and cuts it to utp_low_delay_loss_multiplier percent, staying in slow start', () => {
    const cc = new Ledbat(SETTINGS, MSS, 10_000_000);
    cc.onAck(MSS, 1000, 0, true);
    cc.cwnd = 100_000;
    cc.onAck(MSS, 1000 + 20_000, 1, true); // 20 ms of queuing
    expect(cc.lossLooksRandom).toBe(true);
    const before = cc.cwnd;
    cc.onRandomLoss();
    expect(cc.cwnd).toBeCloseTo(before * 0.9, 6);
    expect(cc.slowStart).toBe(true);
    expect(cc.ssthresh).toBe(Infinity);
  });

  it('takes a loss for congestion once the queuing delay reaches a quarter of the target, or always with utp_low_delay_loss_multiplier 0', () => {
    const cc = steady(100_000);
    cc.onAck(MSS, 1000 + 25_000, 1, true);
    expect(cc.lossLooksRandom).toBe(false);
    const off = new Ledbat({ ...SETTINGS, lowDelayLossMultiplier: 0 }, MSS, 10_000_000);
    off.onAck(MSS, 1000, 0, true);
    expect(off.lossLooksRandom).toBe(false);
  });

  it('never goes below one packet', () => {
    const cc = steady(MSS);
    cc.onLoss();
    expect(cc.cwnd).toBe(MSS);
  });
});

describe('the base delay history', () => {
  it('is the smallest sample, across the 32-bit wrap', () => {
    const h = new DelayHistory();
    h.addSample(0xfffffff0, 0);
    h.addSample(0x10, 10); // 32 µs later on the wrapped clock: larger
    h.addSample(0xffffffe0, 20);
    expect(h.base).toBe(0xffffffe0);
    expect(h.above(0x10)).toBe(0x30);
  });

  it('forgets a minimum once it is more than the history old', () => {
    const h = new DelayHistory();
    h.addSample(100, 0);
    for (let m = 1; m <= 3; m++) h.addSample(500, m * 60_000);
    expect(h.base).toBe(500);
  });

  it('follows clock drift: when the peer\'s base delay drops, ours rises by as much', () => {
    const cc = new Ledbat(SETTINGS, MSS, 10_000_000);
    cc.onAck(MSS, 50_000, 0, true);
    cc.onTheirDelay(80_000, 0);
    cc.onTheirDelay(78_000, 10); // their clock gained 2 ms on ours
    expect(cc.ourDelays.base).toBe(48_000);
  });
});
