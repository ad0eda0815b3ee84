/**
 * LEDBAT, uTP's congestion controller (BEP 29, RFC 6817): the window grows while the one-way delay our
 * packets see stays under a target and shrinks once it rises above it, so uTP yields to TCP and to
 * interactive traffic on a shared uplink. Pure: fed acked bytes and delay samples, read for the window.
 *
 * Delays are measured against a base delay, the smallest sample seen over the last two to three minutes
 * (minute buckets, as BEP 29 describes), so the offset between the two hosts' clocks cancels out.
 */
import { timeDiff32 } from './packet.js';

/** How many minute buckets the base delay is the minimum of. */
const HISTORY_MINUTES = 3;

/**
 * The minimum of 32-bit microsecond samples over the last few minutes. Samples are differences of two
 * unrelated clocks, so they wrap: comparisons are on the 32-bit circle.
 */
export class DelayHistory {
  private readonly buckets = new Uint32Array(HISTORY_MINUTES);
  private filled = 0;
  private bucketStartMs = 0;
  private current = 0;
  /** The base delay (valid once `hasBase`). */
  base = 0;

  get hasBase(): boolean {
    return this.filled > 0;
  }

  addSample(sample: number, nowMs: number): void {
    sample >>>= 0;
    if (this.filled === 0) {
      this.buckets[0] = sample;
      this.filled = 1;
      this.current = 0;
      this.bucketStartMs = nowMs;
      this.base = sample;
      return;
    }
    if (nowMs - this.bucketStartMs >= 60_000) {
      // A new minute: its bucket starts at this sample and the oldest falls out of the window.
      this.bucketStartMs = nowMs;
      this.current = (this.current + 1) % HISTORY_MINUTES;
      this.buckets[this.current] = sample;
      if (this.filled < HISTORY_MINUTES) this.filled++;
      this.recompute();
      return;
    }
    if (timeDiff32(sample, this.buckets[this.current]!) < 0) this.buckets[this.current] = sample;
    if (timeDiff32(sample, this.base) < 0) this.base = sample;
  }

  /** Moves every sample by `us` (clock drift compensation: see Ledbat.onTheirDelay). */
  shift(us: number): void {
    for (let i = 0; i < this.filled; i++) this.buckets[i] = (this.buckets[i]! + us) >>> 0;
    this.base = (this.base + us) >>> 0;
  }

  /** A sample relative to the base delay (never negative). */
  above(sample: number): number {
    if (this.filled === 0) return 0;
    const d = timeDiff32(sample >>> 0, this.base);
    return d > 0 ? d : 0;
  }

  private recompute(): void {
    let base = this.buckets[this.current]!;
    for (let i = 0; i < this.filled; i++) if (timeDiff32(this.buckets[i]!, base) < 0) base = this.buckets[i]!;
    this.base = base;
  }
}

export interface LedbatSettings {
  /** utp_target_delay, milliseconds. */
  targetDelayMs: number;
  /** utp_gain_factor: the most the window grows in one round trip, bytes. */
  gainFactor: number;
  /** utp_loss_multiplier: the window after a loss, percent of the window before it. */
  lossMultiplier: number;
  /**
   * utp_low_delay_loss_multiplier (spritzle's): the window after an isolated loss while no queue has built,
   * percent; 0 treats every loss as congestion (utp_loss_multiplier), as libtorrent does.
   */
  lowDelayLossMultiplier: number;
}

export class Ledbat {
  /** Congestion window, bytes. */
  cwnd: number;
  /** The window at which slow start ends (Infinity until the first loss or delay signal). */
  ssthresh = Infinity;
  slowStart = true;
  /** The delay samples of our packets as the peer reports them, and of its packets as we see them. */
  readonly ourDelays = new DelayHistory();
  readonly theirDelays = new DelayHistory();
  /** Our last queuing delay estimate, microseconds above the base. */
  queuingDelayUs = 0;

  constructor(private readonly settings: LedbatSettings, private mss: number, private readonly maxCwnd: number) {
    this.cwnd = 2 * mss;
  }

  setMss(mss: number): void {
    this.mss = mss;
    if (this.cwnd < mss) this.cwnd = mss;
  }

  /**
   * A sample of the peer's packets' delay (our clock minus theirs). When its base drops, the two clocks
   * drifted towards each other, and our packets' delay samples drift the other way by as much: shift our
   * history to match (libutp's correction, at most 10 ms a step, so a spike cannot move it far).
   */
  onTheirDelay(sample: number, nowMs: number): void {
    const h = this.theirDelays;
    const had = h.hasBase;
    const before = h.base;
    h.addSample(sample, nowMs);
    if (!had) return;
    const drop = timeDiff32(before, h.base);
    if (drop > 0 && drop <= 10_000 && this.ourDelays.hasBase) this.ourDelays.shift(-drop);
  }

  /**
   * New bytes acked, with the peer's latest measurement of our packets' one-way delay (0: none).
   * `windowFull`: whether the sender was limited by the window since the last ack (an application-limited
   * sender does not grow the window it does not use). Returns whether the delay was above the target.
   */
  onAck(bytesAcked: number, delaySample: number, nowMs: number, windowFull: boolean): boolean {
    const target = this.settings.targetDelayMs * 1000;
    let above = false;
    if (delaySample !== 0) {
      this.ourDelays.addSample(delaySample, nowMs);
      this.queuingDelayUs = this.ourDelays.above(delaySample);
    }
    const delay = this.queuingDelayUs;
    above = delay > target;
    const offTarget = (target - delay) / target;
    const windowFactor = Math.min(bytesAcked, this.cwnd) / Math.max(this.cwnd, bytesAcked);
    const gain = this.settings.gainFactor * windowFactor * offTarget;
    if (!windowFull && gain > 0) return above;
    if (this.slowStart) {
      const ss = this.cwnd + bytesAcked;
      if (ss > this.ssthresh) {
        this.slowStart = false;
        this.cwnd += gain;
      } else if (delay > target * 0.9) {
        // Queues are building: leave slow start where we are.
        this.slowStart = false;
        this.ssthresh = this.cwnd;
      } else {
        this.cwnd = Math.max(this.cwnd + gain, ss);
      }
    } else {
      this.cwnd += gain;
    }
    this.clamp();
    return above;
  }

  /** A packet was lost (once per window at most: the caller decides): multiplicative decrease. */
  onLoss(): void {
    this.cwnd = (this.cwnd * this.settings.lossMultiplier) / 100;
    this.slowStart = false;
    this.clamp();
    this.ssthresh = this.cwnd;
  }

  /**
   * Whether a loss now may be random rather than congestion: LEDBAT's own signal, the queuing delay, is
   * under a quarter of the target, so our traffic has not built a queue that could have overflowed.
   */
  get lossLooksRandom(): boolean {
    return this.settings.lowDelayLossMultiplier > 0 && this.queuingDelayUs < this.settings.targetDelayMs * 250;
  }

  /**
   * An isolated loss with no queue built (see lossLooksRandom; the caller decides, once per window): a
   * light cut, and slow start goes on. Loss that is not congestion says nothing about the path's capacity;
   * halving on it caps a long path at a few hundred KiB/s at 0.5 % loss, since LEDBAT regrows only
   * gain_factor bytes per round trip. Should losses pile up in the window, the caller cuts with onLoss().
   */
  onRandomLoss(): void {
    this.cwnd = (this.cwnd * this.settings.lowDelayLossMultiplier) / 100;
    this.clamp();
  }

  /** The retransmission timer fired: back to one packet, slow start up to half the old window. */
  onTimeout(): void {
    this.ssthresh = Math.max(this.cwnd / 2, this.mss);
    this.cwnd = this.mss;
    this.slowStart = true;
  }

  private clamp(): void {
    if (this.cwnd < this.mss) this.cwnd = this.mss;
    if (this.cwnd > this.maxCwnd) this.cwnd = this.maxCwnd;
  }
}
