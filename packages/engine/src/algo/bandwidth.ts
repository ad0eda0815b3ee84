/**
 * A token bucket for one direction of one scope (the session, or a torrent): libtorrent's bandwidth
 * limits. Rate 0 or less means unlimited. The bucket holds at most one second of rate, so a burst after
 * an idle spell stays bounded.
 */
export class RateLimiter {
  private tokens = 0;
  private last = Date.now();

  constructor(private rate = 0) {
    this.tokens = Math.max(0, rate);
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  setRate(rate: number): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, Math.max(0, rate));
  }

  /** Bytes that may pass now (Infinity when unlimited). */
  available(now: number): number {
    if (this.rate <= 0) return Infinity;
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.rate, this.tokens + (elapsed * this.rate) / 1000);
      this.last = now;
    }
    return this.tokens;
  }

  /** Spends bytes (may go negative: a block in flight is never split; the debt delays the next one). */
  consume(bytes: number): void {
    if (this.rate > 0) this.tokens -= bytes;
  }
}
