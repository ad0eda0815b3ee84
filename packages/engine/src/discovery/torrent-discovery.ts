import type { ExtensionWire as Wire } from '../wire/extensions.js';
import { TORRENT_FLAGS } from '../session/add-torrent-params.js';
import { isDialable, type Endpoint } from './addr.js';
import { utPex, type PexOwner, type PexPeer } from './pex.js';
import { TrackerList, type TrackerHost } from './tracker.js';
import type { DiscoveryStatus, DiscoveryTorrent, TorrentDiscovery, TrackerInfo } from './types.js';
import type { Wakeable } from './wake-queue.js';

/** What one torrent's discovery uses of the session's. */
export interface DiscoveryServices {
  readonly trackerHost: TrackerHost;
  readonly listenPort: number;
  readonly dhtIntervalMs: number;
  readonly lsdIntervalMs: number;
  /** The session's DHT node runs (enable_dht and bound). */
  dhtRunning(): boolean;
  lsdRunning(): boolean;
  /** Starts get_peers + announce_peer now; false if this tick's budget is spent (then dhtWait). */
  dhtAnnounce(t: DiscoveryTorrent): boolean;
  /** Queues the torrent for a later tick's DHT budget (first come, first served); it sets dhtWaiting. */
  dhtWait(td: TorrentDiscoveryImpl): void;
  /** Queues the info-hash for this tick's LSD datagram. */
  lsdAnnounce(infoHash: string): void;
  isSelf(host: string, port: number): boolean;
  /** Run this torrent's tick now (it just started) instead of within the next second. */
  kick(td: TorrentDiscoveryImpl): void;
  /** Something may be due sooner than the torrent's queued wake: ask it again (nextWake). */
  reschedule(td: TorrentDiscoveryImpl): void;
  /** The discovery tick's period (ms): what "look again at the next tick" means. */
  readonly tickMs: number;
  detach(td: TorrentDiscoveryImpl): void;
}

/**
 * One torrent's presence in trackers, the DHT, LSD and PEX. The session's one-second discovery tick drives
 * it, visiting it only when nextWake says something may be due; nothing here runs per block or per message.
 */
export class TorrentDiscoveryImpl implements TorrentDiscovery, Wakeable {
  wakeAt = 0;
  wakeIndex = -1;
  /** In the session's queue for a DHT round: its wake need not count the DHT. */
  dhtWaiting = false;
  private readonly list: TrackerList;
  private active = false;
  private closed = false;
  private nextDht = 0;
  private nextLsd = 0;
  /** Wires speaking ut_pex, and what they need of this torrent: made at the first peer (most loaded torrents have none). */
  private pexPeers: { readonly peers: Set<PexPeer>; readonly owner: PexOwner } | null = null;

  constructor(private readonly s: DiscoveryServices, readonly t: DiscoveryTorrent, trackers: readonly string[], tiers?: readonly number[]) {
    this.list = new TrackerList(s.trackerHost, t, trackers, tiers);
  }

  private pexState(): { readonly peers: Set<PexPeer>; readonly owner: PexOwner } {
    if (this.pexPeers) return this.pexPeers;
    const peers = new Set<PexPeer>();
    const { s, t } = this;
    const owner: PexOwner = {
      enabled: () => !this.closed && this.pexAllowed,
      received: (found: Endpoint[]) => {
        for (const p of found) if (isDialable(p.host, p.port) && !s.isSelf(p.host, p.port)) t.addPeer(p.host, p.port, 'pex');
      },
      detach: (p: PexPeer) => peers.delete(p),
    };
    this.pexPeers = { peers, owner };
    return this.pexPeers;
  }

  // BEP 27: a private torrent uses its trackers only. For a magnet this is known once metadata arrives.
  get dhtAllowed(): boolean {
    return !this.t.isPrivate && (this.t.flags & TORRENT_FLAGS.disable_dht) === 0;
  }
  get lsdAllowed(): boolean {
    return !this.t.isPrivate && (this.t.flags & TORRENT_FLAGS.disable_lsd) === 0;
  }
  get pexAllowed(): boolean {
    return !this.t.isPrivate && (this.t.flags & TORRENT_FLAGS.disable_pex) === 0;
  }

  start(): void {
    if (this.closed) return;
    // A magnet's torrent calls start() again once its metadata is checked: that is no new "started".
    if (!this.active) {
      this.active = true;
      this.nextDht = 0;
      this.nextLsd = 0;
      this.list.start();
    }
    this.s.kick(this);
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.list.stop();
  }

  completed(): void {
    this.list.completed();
    this.s.reschedule(this);
  }

  metadataReceived(trackers: readonly (readonly string[])[]): void {
    this.list.merge(trackers);
    this.s.reschedule(this);
  }

  status(): DiscoveryStatus {
    const now = Date.now();
    return {
      ...this.list.status(now),
      announcing_to_dht: this.active && this.dhtAllowed && this.s.dhtRunning(),
      announcing_to_lsd: this.active && this.lsdAllowed && this.s.lsdRunning(),
    };
  }

  trackers(): TrackerInfo[] {
    return this.list.info();
  }

  addTracker(url: string, tier = 0): void {
    this.list.add(url, tier);
    this.s.reschedule(this);
  }

  removeTracker(url: string): boolean {
    return this.list.remove(url);
  }

  forceReannounce(): void {
    this.list.forceReannounce();
    this.nextDht = 0;
    this.nextLsd = 0;
    if (this.active) this.s.kick(this);
    else this.s.reschedule(this);
  }

  infoHashChanged(): void {
    this.list.swarmChanged();
    this.nextDht = 0;
    this.nextLsd = 0;
    if (this.active) this.s.kick(this);
  }

  /** The session's DHT node (re)started: look up and announce at the next tick. */
  forceDht(): void {
    this.nextDht = 0;
    this.s.reschedule(this);
  }

  /** The LSD socket (re)started. */
  forceLsd(): void {
    this.nextLsd = 0;
    this.s.reschedule(this);
  }

  scrapeTracker(): void {
    this.list.scrape();
    this.s.reschedule(this);
  }

  attachWire(wire: Wire, peer: { ip: string; port: number }): void {
    // BEP 10's `p`: the port we accept connections on, so that the remote (and its PEX) can dial us back.
    if (wire.extendedHandshake.p === undefined) wire.extendedHandshake.p = this.s.listenPort;
    // A private torrent does not even offer ut_pex (libtorrent does the same).
    if (this.closed || !this.pexAllowed) return;
    const pex = this.pexState();
    wire.use(utPex(pex.owner, peer, (p) => {
      pex.peers.add(p);
      this.s.reschedule(this);
    }));
  }

  /**
   * The earliest time (ms) tick() may have something to do; Infinity when only a call (start, a new tracker,
   * a DHT or LSD start) can make something due. Never later than the truth: waking early costs one visit,
   * waking late would miss an announce. A paused torrent with no request in flight is Infinity.
   */
  nextWake(now: number): number {
    if (this.closed) return Infinity;
    let at = this.list.nextDueAt(now);
    if (!this.active || this.t.isPrivate) return at;
    const s = this.s;
    // A feature off by a torrent flag is looked at each tick: flags change without telling discovery.
    const soon = now + s.tickMs;
    if (s.dhtRunning() && !this.dhtWaiting) at = Math.min(at, this.dhtAllowed ? this.nextDht : soon);
    if (s.lsdRunning()) at = Math.min(at, this.lsdAllowed ? this.nextLsd : soon);
    // Peers speaking ut_pex: each is due once a minute; they are connected peers, so few torrents have any.
    if (this.pexPeers && this.pexPeers.peers.size > 0) at = Math.min(at, soon);
    return at;
  }

  /** The session's discovery tick (about once a second). */
  tick(now: number): void {
    if (this.closed) return;
    this.list.tick(now);
    if (!this.active) return;
    const s = this.s;
    if (now >= this.nextDht && !this.dhtWaiting && this.dhtAllowed && s.dhtRunning()) {
      if (s.dhtAnnounce(this.t)) this.nextDht = now + s.dhtIntervalMs;
      else s.dhtWait(this);
    }
    if (now >= this.nextLsd && this.lsdAllowed && s.lsdRunning()) {
      s.lsdAnnounce(this.t.infoHash);
      this.nextLsd = now + s.lsdIntervalMs;
    }
    const pex = this.pexPeers?.peers;
    if (pex && pex.size > 0 && this.pexAllowed) {
      let current: Endpoint[] | null = null;
      for (const p of pex) {
        if (!p.due(now)) continue;
        current ??= this.t.connectedPeers();
        p.maybeSend(now, current);
      }
    }
  }

  /** A peer found by the DHT or LSD for this torrent (the session routes by info-hash). */
  found(host: string, port: number, source: 'dht' | 'lsd'): void {
    if (this.closed || !this.active) return;
    if (source === 'dht' ? !this.dhtAllowed : !this.lsdAllowed) return;
    if (!isDialable(host, port) || this.s.isSelf(host, port)) return;
    this.t.addPeer(host, port, source);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.active = false;
    this.s.detach(this);
    await this.list.close();
  }
}
