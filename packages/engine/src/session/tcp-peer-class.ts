import { RateLimiter } from '../algo/bandwidth.js';
import { tcpClassLimits, type MixedModeCounts, type TcpClassLimits } from '../algo/mixed-mode.js';
import { isUtp } from '../transport/utp/connection.js';
import { currentRates } from '../torrent/transfer-rates.js';
import type { Torrent } from '../torrent/torrent.js';

/**
 * libtorrent's TCP peer class (session_impl's m_tcp_peer_class): one limiter per direction that every
 * TCP peer's blocks pass through besides the torrent's and the session's, its limits set once a tick from
 * mixed_mode_algorithm (algo/mixed-mode.ts). uTP peers do not pass through it.
 */
export class TcpPeerClass {
  readonly down = new RateLimiter();
  readonly up = new RateLimiter();
  /** What the last update counted and decided (tests, diagnostics). */
  counts: MixedModeCounts = { upTcp: 0, upUtp: 0, downTcp: 0, downUtp: 0 };
  limits: TcpClassLimits = { upload: 0, download: 0 };

  /**
   * Counts the peers with requests pending by transport, sums the torrents' current rates (those the tick
   * does not visit read zero) and sets both limits. Returns whether a limit changed.
   */
  update(algorithm: number, torrents: Iterable<Torrent>, now: number): boolean {
    const k: MixedModeCounts = { upTcp: 0, upUtp: 0, downTcp: 0, downUtp: 0 };
    let upRate = 0;
    let downRate = 0;
    for (const t of torrents) {
      const r = currentRates(t, now);
      upRate += r.upload_rate;
      downRate += r.download_rate;
      // A torrent's peers are past their handshake (libtorrent skips those still in it).
      for (const p of t.peers) {
        const down = p.outstanding.size > 0;
        const up = p.peerRequestCount > 0;
        if (!down && !up) continue;
        if (isUtp(p.transport)) {
          if (down) k.downUtp++;
          if (up) k.upUtp++;
        } else {
          if (down) k.downTcp++;
          if (up) k.upTcp++;
        }
      }
    }
    const limits = tcpClassLimits(algorithm, k, upRate, downRate);
    const changed = limits.upload !== this.limits.upload || limits.download !== this.limits.download;
    this.counts = k;
    this.limits = limits;
    if (changed) {
      this.up.setRate(limits.upload);
      this.down.setRate(limits.download);
    }
    return changed;
  }
}
