/**
 * libtorrent's mixed_mode_algorithm (src/session_impl.cpp, session_impl::on_tick): how TCP peers share the
 * link with uTP peers. uTP's LEDBAT backs off as soon as queues grow, so TCP left alone takes the whole link.
 * With peer_proportional, while some uTP peer has requests pending in a direction, the TCP peer class is
 * limited each tick to the TCP peers' share (by count) of the session's current rate in that direction, and
 * never below a floor; with prefer_tcp, or with no uTP peer active, the TCP class is unlimited.
 */

/** The setting's values (libtorrent's settings_pack::mixed_mode_algorithm_t). */
export const MIXED_MODE_PREFER_TCP = 0;
export const MIXED_MODE_PEER_PROPORTIONAL = 1;

/** libtorrent's lower_limit: the TCP class is never throttled below these, bytes/s. */
export const TCP_CLASS_FLOOR_UP = 5000;
export const TCP_CLASS_FLOOR_DOWN = 30000;

/**
 * Peers with requests pending, by transport and direction: `down*` we asked them for blocks (libtorrent's
 * download_queue + request_queue), `up*` they asked us (its upload_queue). Peers still in their handshake
 * are not counted.
 */
export interface MixedModeCounts {
  upTcp: number;
  upUtp: number;
  downTcp: number;
  downUtp: number;
}

/** The TCP class's limits, bytes/s; 0 is unlimited. */
export interface TcpClassLimits {
  upload: number;
  download: number;
}

/**
 * The TCP class's limit in one direction: unlimited unless peer_proportional and some uTP peer is active;
 * then the TCP peers' share of `rate` (at least one TCP peer is assumed, as libtorrent does, so a uTP-only
 * swarm leaves room for a TCP peer to start), never below `floor`.
 */
export function tcpClassLimit(algorithm: number, tcpPeers: number, utpPeers: number, rate: number, floor: number): number {
  if (algorithm !== MIXED_MODE_PEER_PROPORTIONAL || utpPeers <= 0) return 0;
  const tcp = Math.max(1, tcpPeers);
  return Math.max(Math.floor((Math.max(0, rate) * tcp) / (tcp + utpPeers)), floor);
}

/** Both directions' limits from the counts and the session's current rates (bytes/s, overhead included). */
export function tcpClassLimits(algorithm: number, counts: MixedModeCounts, uploadRate: number, downloadRate: number): TcpClassLimits {
  return {
    upload: tcpClassLimit(algorithm, counts.upTcp, counts.upUtp, uploadRate, TCP_CLASS_FLOOR_UP),
    download: tcpClassLimit(algorithm, counts.downTcp, counts.downUtp, downloadRate, TCP_CLASS_FLOOR_DOWN),
  };
}
