/**
 * Transfer rates over a sliding window, from samples of byte counters that only grow. Samples are
 * taken on the session's tick (once a second); a read measures from the oldest sample still inside the
 * window to the counter's value now, so bytes that flowed a few hundred milliseconds ago already show,
 * and a rate falls to zero one window after the data stops. Nothing is counted per block: the counters
 * exist anyway, and reading them costs nothing on the hot path.
 *
 * One window holds up to four counters sampled at the same instants (a torrent's four rates): they share
 * the time column and one buffer, which keeps a torrent's rates at one small allocation.
 */
export class RateWindow {
  /** Per slot: the time, then each counter's total. */
  private readonly cells: Float64Array;
  private readonly stride: number;
  private readonly slots: number;
  private next = 0;
  private count = 0;

  /**
   * @param windowMs how far back a rate looks
   * @param slots samples kept (a window's worth of ticks and one more)
   * @param counters counters sampled together (1 to 4)
   */
  constructor(private readonly windowMs = 3000, slots = 5, counters = 1) {
    this.slots = slots;
    this.stride = 1 + Math.max(1, Math.min(4, counters));
    this.cells = new Float64Array(slots * this.stride);
  }

  /** Records the counters' values at `now` (ms); counters beyond the window's count are ignored. */
  sample(now: number, total: number, total1 = 0, total2 = 0, total3 = 0): void {
    const c = this.cells;
    const at = this.next * this.stride;
    const width = this.stride - 1;
    c[at] = now;
    c[at + 1] = total;
    if (width > 1) c[at + 2] = total1;
    if (width > 2) c[at + 3] = total2;
    if (width > 3) c[at + 4] = total3;
    this.next = (this.next + 1) % this.slots;
    if (this.count < this.slots) this.count++;
  }

  /** Bytes per second of counter `k` between the oldest sample inside the window (else the newest) and `total` at `now`. */
  rate(now: number, total: number, k = 0): number {
    const n = this.slots;
    const c = this.cells;
    let from = -1;
    // Newest to oldest: the last one still inside the window is the oldest inside it.
    for (let j = 1; j <= this.count; j++) {
      const i = (this.next - j + n) % n;
      if (from >= 0 && now - c[i * this.stride]! > this.windowMs) break;
      from = i;
    }
    if (from < 0) return 0;
    // A floor on the span: a sample taken a moment ago must not turn a few bytes into a huge rate.
    const spanMs = Math.max(MIN_SPAN_MS, now - c[from * this.stride]!);
    return Math.max(0, ((total - c[from * this.stride + 1 + k]!) * 1000) / spanMs);
  }
}

const MIN_SPAN_MS = 250;
