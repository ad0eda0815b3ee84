/**
 * Round-trip time and retransmission timeout (Jacobson/Karels, as TCP and libtorrent's uTP do): a
 * smoothed RTT and its mean deviation; the timeout is srtt + 4·rttvar, never under utp_min_timeout,
 * doubled per consecutive timeout. Samples come only from packets sent once (Karn's rule: the caller's job).
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
    const base = this.hasSample ? Math.max(this.srtt + 4 * this.rttvar, minTimeoutMs) : Math.max(1000, minTimeoutMs);
    return Math.min(base * 2 ** Math.min(timeouts, 6), 60_000);
  }
}
