/**
 * A transfer rate over a sliding window, from samples of a byte counter that only grows. Samples are
 * taken on the session's tick (once a second); a read measures from the oldest sample still inside the
 * window to the counter's value now, so bytes that flowed a few hundred milliseconds ago already show,
 * and a rate falls to zero one window after the data stops. Nothing is counted per block: the counters
 * exist anyway, and reading them costs nothing on the hot path.
 */
export class RateWindow {
  private readonly times: Float64Array;
  private readonly totals: Float64Array;
  private next = 0;
  private count = 0;

  /**
   * @param windowMs how far back a rate looks
   * @param slots samples kept (a window's worth of ticks and one more)
   */
  constructor(private readonly windowMs = 3000, slots = 5) {
    this.times = new Float64Array(slots);
    this.totals = new Float64Array(slots);
  }

  /** Records the counter's value at `now` (ms). */
  sample(now: number, total: number): void {
    this.times[this.next] = now;
    this.totals[this.next] = total;
    this.next = (this.next + 1) % this.times.length;
    if (this.count < this.times.length) this.count++;
  }

  /** Bytes per second between the oldest sample inside the window (else the newest) and `total` at `now`. */
  rate(now: number, total: number): number {
    const n = this.times.length;
    let from = -1;
    // Newest to oldest: the last one still inside the window is the oldest inside it.
    for (let k = 1; k <= this.count; k++) {
      const i = (this.next - k + n) % n;
      if (from >= 0 && now - this.times[i]! > this.windowMs) break;
      from = i;
    }
    if (from < 0) return 0;
    // A floor on the span: a sample taken a moment ago must not turn a few bytes into a huge rate.
    const spanMs = Math.max(MIN_SPAN_MS, now - this.times[from]!);
    return Math.max(0, ((total - this.totals[from]!) * 1000) / spanMs);
  }
}

const MIN_SPAN_MS = 250;
