/**
 * Round-trip time and retransmission timeout: a smoothed RTT and its mean deviation (Jacobson/Karels).
 * The timeout is libtorrent's: srtt + 2·rttvar, never under utp_min_timeout, plus 1 s, 2 s, 4 s ... per
 * consecutive timeout (additive, so one noisy estimate does not multiply into minutes), at most 60 s.
 * Samples come only from packets sent once (Karn's rule: the caller's job).
 */
export class RttEstimator {
  /** Smoothed RTT and deviation, milliseconds. */
  srtt = 0;
  rttvar = 0;
  hasSample = false;

  sample(rttMs: number): void {
    if (rttMs < 0) return;
    if (!this.hasSample) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.hasSample = true;
      return;
    }
    this.rttvar += (Math.abs(this.srtt - rttMs) - this.rttvar) / 4;
    this.srtt += (rttMs - this.srtt) / 8;
  }

  /** The retransmission timeout in ms after `timeouts` consecutive timeouts (1 s before any sample). */
  timeout(minTimeoutMs: number, timeouts: number): number {
    const base = this.hasSample ? Math.max(this.srtt + 2 * this.rttvar, minTimeoutMs) : Math.max(1000, minTimeoutMs);
    const backoff = timeouts > 0 ? 1000 * 2 ** Math.min(timeouts - 1, 6) : 0;
    return Math.min(base + backoff, 60_000);
  }
}
