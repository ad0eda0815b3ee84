import type { SharedUdp } from './dht-socket.js';
import type { ExtensionWire as Wire } from '../wire/extensions.js';
import type { Counters } from '../stats/counters.js';
import type { SessionSettings } from '../session/settings.js';

/** A torrent's discovery state, as its status shows it (filled by the tracker/DHT/LSD layers). */
export interface DiscoveryStatus {
  current_tracker: string;
  next_announce_s: number;
  announce_interval_s: number;
  num_complete: number;
  num_incomplete: number;
  last_scrape: number;
  announcing_to_trackers: boolean;
  announcing_to_dht: boolean;
  announcing_to_lsd: boolean;
}

/** One tracker of a torrent and its state. */
export interface TrackerInfo {
  url: string;
  tier: number;
  status: 'idle' | 'announcing' | 'working' | 'error';
  message: string;
  num_peers: number;
  /** Unix seconds of the last announce's answer or failure; -1 before any. */
  last_announce: number;
  /** Unix seconds when the next announce is due (in the past: at the next tick); -1 when none is scheduled (stopped, or a URL we cannot announce to). */
  next_announce: number;
}

/** Where a peer address came from. */
export type PeerSource = 'tracker' | 'dht' | 'pex' | 'lsd' | 'manual' | 'resume';

/** What the discovery layer sees of one torrent (implemented by Torrent). */
export interface DiscoveryTorrent {
  readonly infoHash: string;
  readonly infoHashBytes: Uint8Array;
  /** BEP 52: a hybrid's second swarm, its v2 hash truncated to 40 hex (announced on the DHT too). */
  readonly v2SwarmHash?: string | undefined;
  /** BEP 27: a private torrent uses its trackers only (no DHT, PEX or LSD). False until metadata is known. */
  readonly isPrivate: boolean;
  /** Payload bytes this session, for announces. */
  readonly uploaded: number;
  readonly downloaded: number;
  /** Bytes of wanted pieces still missing (the announce's `left`); unknown (no metadata) counts as 1. */
  readonly left: number;
  readonly isSeeding: boolean;
  /** torrent_flags bits (disable_dht, disable_pex, disable_lsd). */
  readonly flags: number;
  /** A peer address to dial. */
  addPeer(host: string, port: number, source: PeerSource): void;
  /** Connected peers as dialable addresses (their listen port, when known), for PEX. */
  connectedPeers(): { host: string; port: number }[];
}

/** The discovery state of one torrent: its trackers, and its presence in the DHT, LSD and PEX. */
export interface TorrentDiscovery {
  /** The torrent became active (added unpaused, or resumed): announce event=started. */
  start(): void;
  /** The torrent stopped (paused, or is being removed): announce event=stopped. */
  stop(): void;
  /** The download completed: announce event=completed. */
  completed(): void;
  /** Metadata arrived (a magnet): the private flag and trackers may have changed. */
  metadataReceived(trackers: readonly (readonly string[])[]): void;
  status(): DiscoveryStatus;
  trackers(): TrackerInfo[];
  addTracker(url: string, tier?: number): void;
  /** Returns false if the torrent had no such tracker. */
  removeTracker(url: string): boolean;
  /** A new peer connection of this torrent, before our handshake goes out: register wire extensions (ut_pex). */
  attachWire(wire: Wire, peer: { ip: string; port: number }): void;
  /** Releases timers and sockets; sends event=stopped if still started. */
  close(): Promise<void>;
  /** libtorrent's force_reannounce: every tracker may be announced to now (back-off and intervals reset). */
  forceReannounce(): void;
  /** The torrent is known by another info-hash (its v1 swarm joins its v2 one): trackers, DHT and LSD hear of it now, trackers as `started`. */
  infoHashChanged(): void;
  /** libtorrent's scrape_tracker: scrape the working tracker (or the first one) as soon as it is free. */
  scrapeTracker(): void;
}

/** The session's side: what a Discovery needs from the session. */
export interface DiscoveryContext {
  readonly counters: Counters;
  readonly settings: Readonly<SessionSettings>;
  readonly peerId: Uint8Array;
  /** Our BitTorrent TCP port (also the DHT's UDP port when the setting allows). */
  readonly listenPort: number;
  /** The host we listen on (127.0.0.1 in tests; DHT and LSD bind accordingly). */
  readonly listenHost: string;
  /** The listen port's UDP socket (uTP's), for the DHT to share; null if the session has none. */
  readonly sharedUdp?: SharedUdp | null;
  /** Timing and addresses that are constants in production; tests shorten or move them. */
  readonly options?: DiscoveryOptions;
  /** The DHT node or the LSD socket failed to start (it stays off until the settings change). */
  onError?(what: 'dht' | 'lsd', error: string): void;
}

/**
 * Discovery knobs that libtorrent keeps as constants or rarely-touched settings. Every one has
 * libtorrent's value by default; tests pass smaller intervals (so a re-announce happens within a test)
 * and a private LSD group/port (so parallel test files do not hear each other).
 */
export interface DiscoveryOptions {
  /** Seconds between get_peers + announce_peer rounds per torrent (libtorrent: dht_announce_interval, 15 min). */
  dhtAnnounceInterval?: number;
  /** Seconds between LSD announces per torrent (libtorrent: local_service_announce_interval, 5 min). */
  lsdAnnounceInterval?: number;
  /** BEP 14 multicast group (239.192.152.143). */
  lsdAddress?: string;
  /** BEP 14 port (6771). */
  lsdPort?: number;
  /** Floor under a tracker's interval, seconds (libtorrent: min_announce_interval, 5 min). */
  minAnnounceInterval?: number;
  /** Base of the retry delay after a tracker failure, seconds: delay = base + fails² × base × 2.5, at most an hour (libtorrent: 5 s). */
  trackerRetryDelayMin?: number;
  /** Peers asked of a tracker (libtorrent: num_want, 200). */
  numWant?: number;
}

/** The session-wide discovery: one DHT node, one LSD socket, and a TorrentDiscovery per torrent. */
export interface SessionDiscovery {
  /** Binds what the settings ask for (DHT node, LSD socket); resolves once they listen or have failed. */
  start(): Promise<void>;
  forTorrent(t: DiscoveryTorrent, trackers: readonly string[], tiers?: readonly number[]): TorrentDiscovery;
  /** The torrent filed under `from` is known by `to` now (a hybrid from a btmh magnet learnt its v1 hash). */
  rename(from: string, to: string): void;
  isDhtRunning(): boolean;
  /** add_torrent_params.dht_nodes: pinged into the DHT's routing table (now, or when the node starts). */
  addDhtNodes(nodes: readonly { host: string; port: number }[]): void;
  /** The DHT node's UDP port, 0 when it does not run. */
  readonly dhtPort: number;
  /** The DHT routing table and other state worth keeping across restarts (bencodable). */
  saveState(): Record<string, unknown>;
  loadState(state: Record<string, unknown>): void;
  /** Called when settings change (enable_dht, enable_lsd, dht_bootstrap_nodes). */
  settingsChanged(): void;
  close(): Promise<void>;
}
