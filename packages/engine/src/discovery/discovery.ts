import net from 'node:net';
import { M } from '../stats/counters.js';
import { SpritzleError } from '../errors.js';
import { isDialable, localAddresses, parseEndpoint, parseEndpointList, udp4BindHost, encodeCompact4, type Endpoint } from './addr.js';
import { DhtNode, type DhtState } from './dht.js';
import { Lsd, LSD_ADDRESS, LSD_PORT } from './lsd.js';
import { TorrentDiscoveryImpl, type DiscoveryServices } from './torrent-discovery.js';
import type { TrackerHost } from './tracker.js';
import { WakeQueue } from './wake-queue.js';
import type { DiscoveryContext, DiscoveryOptions, DiscoveryTorrent, SessionDiscovery, TorrentDiscovery } from './types.js';

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** dht_nodes kept for a DHT node that is not running yet. */
const MAX_PENDING_DHT_NODES = 200;

/** libtorrent's values for everything DiscoveryOptions can change. */
export const DEFAULT_DISCOVERY_OPTIONS: Readonly<Required<DiscoveryOptions>> = Object.freeze({
  dhtAnnounceInterval: 15 * 60,
  lsdAnnounceInterval: 5 * 60,
  lsdAddress: LSD_ADDRESS,
  lsdPort: LSD_PORT,
  minAnnounceInterval: 5 * 60,
  trackerRetryDelayMin: 5,
  numWant: 200,
});

/** The discovery tick: trackers due, DHT and LSD rounds, PEX messages. */
const TICK_MS = 1000;
/** DHT rounds started per tick: a session with many torrents spreads its lookups instead of bursting. */
const DHT_ANNOUNCES_PER_TICK = 4;
/** The session-state key libtorrent uses for the DHT. */
const DHT_STATE_KEY = 'dht state';

/**
 * The session's discovery: one DHT node on the session's port (enable_dht, dht_bootstrap_nodes), one LSD
 * socket (enable_lsd), the tracker byte and queue counters, and a TorrentDiscovery per torrent, all driven
 * by one one-second timer that visits only the torrents with something due (a paused one, or one whose
 * next announce is minutes away, costs nothing per second).
 */
export class Discovery implements SessionDiscovery {
  private readonly opts: Readonly<Required<DiscoveryOptions>>;
  private readonly torrents = new Map<string, TorrentDiscoveryImpl>();
  /** Torrents by when their discovery next has something due. */
  private readonly due = new WakeQueue<TorrentDiscoveryImpl>();
  /**
   * Torrents whose DHT round is due but found the tick's budget spent, in arrival order: each tick serves
   * them first, so 50,000 torrents starting with the DHT on cost 4 visits a second, not 50,000.
   */
  private readonly dhtWaiting = new Set<TorrentDiscoveryImpl>();
  private readonly dht: DhtNode;
  private readonly lsd: Lsd;
  private readonly local: Set<string>;
  private readonly services: DiscoveryServices;
  private dhtSaved: DhtState | null = null;
  private dhtRestart = false;
  private appliedBootstrap: string | null = null;
  private appliedLsd: string | null = null;
  private lsdBatch: string[] = [];
  /** dht_nodes of added torrents, waiting for the DHT node to run. */
  private pendingDhtNodes: Endpoint[] = [];
  private dhtBudget = DHT_ANNOUNCES_PER_TICK;
  private queuedRequests = 0;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly ctx: DiscoveryContext) {
    this.opts = { ...DEFAULT_DISCOVERY_OPTIONS, ...stripUndefined(ctx.options ?? {}) };
    this.local = localAddresses(ctx.listenHost);
    this.dht = new DhtNode(ctx.counters, (hash, host, port) => this.torrentFor(hash)?.found(host, port, 'dht'));
    this.lsd = new Lsd((hash, host, port) => this.torrents.get(hash)?.found(host, port, 'lsd'));
    const trackerHost: TrackerHost = {
      counters: ctx.counters,
      peerId: ctx.peerId,
      get listenPort() { return ctx.listenPort; },
      get userAgent() { return ctx.settings.user_agent; },
      minAnnounceInterval: this.opts.minAnnounceInterval,
      retryDelayMin: this.opts.trackerRetryDelayMin,
      numWant: this.opts.numWant,
      queued: (delta) => {
        this.queuedRequests += delta;
        ctx.counters.set(M.tracker_num_queued_tracker_announces, this.queuedRequests);
      },
      isSelf: (host, port) => this.isSelf(host, port),
    };
    this.services = {
      trackerHost,
      get listenPort() { return ctx.listenPort; },
      dhtIntervalMs: this.opts.dhtAnnounceInterval * 1000,
      lsdIntervalMs: this.opts.lsdAnnounceInterval * 1000,
      dhtRunning: () => this.isDhtRunning(),
      lsdRunning: () => ctx.settings.enable_lsd && this.lsd.running,
      dhtAnnounce: (t) => {
        if (this.dhtBudget <= 0) return false;
        this.dhtBudget--;
        this.dht.announce(t.infoHashBytes, ctx.listenPort);
        // A hybrid is in two swarms: peers of the v2 one find it under its truncated v2 hash.
        if (t.v2SwarmHash) this.dht.announce(Buffer.from(t.v2SwarmHash, 'hex'), ctx.listenPort);
        return true;
      },
      dhtWait: (td) => {
        td.dhtWaiting = true;
        this.dhtWaiting.add(td);
      },
      lsdAnnounce: (hash) => this.lsdBatch.push(hash),
      isSelf: (host, port) => this.isSelf(host, port),
      kick: (td) => {
        const now = Date.now();
        td.tick(now);
        this.flushLsd();
        this.due.wakeBy(td, td.nextWake(now));
      },
      reschedule: (td) => this.due.wakeBy(td, td.nextWake(Date.now())),
      tickMs: TICK_MS,
      detach: (td) => {
        this.due.remove(td);
        this.dhtWaiting.delete(td);
        if (this.torrents.get(td.t.infoHash) === td) this.torrents.delete(td.t.infoHash);
      },
    };
  }

  async start(): Promise<void> {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    await this.apply();
  }

  /** The torrent a hash names: its own, or a hybrid's v2 swarm hash. */
  private torrentFor(hash: string): TorrentDiscoveryImpl | undefined {
    const direct = this.torrents.get(hash);
    if (direct) return direct;
    for (const td of this.torrents.values()) if (td.t.v2SwarmHash === hash) return td;
    return undefined;
  }

  forTorrent(t: DiscoveryTorrent, trackers: readonly string[], tiers?: readonly number[]): TorrentDiscovery {
    const td = new TorrentDiscoveryImpl(this.services, t, trackers, tiers);
    this.torrents.set(t.infoHash, td);
    return td;
  }

  /** A torrent is known by another info-hash now (see TorrentHost.renameTorrent): DHT and LSD peers are routed by it. */
  rename(from: string, to: string): void {
    const td = this.torrents.get(from);
    if (!td) return;
    this.torrents.delete(from);
    this.torrents.set(to, td);
  }

  addDhtNodes(nodes: readonly Endpoint[]): void {
    const usable = nodes.filter((n) => isDialable(n.host, n.port));
    if (this.dht.running) this.dht.addNodes(usable);
    else this.pendingDhtNodes = [...this.pendingDhtNodes, ...usable].slice(-MAX_PENDING_DHT_NODES);
  }

  isDhtRunning(): boolean {
    return this.ctx.settings.enable_dht && this.dht.running;
  }

  /** The UDP port of the DHT node (the session's port unless that was taken), 0 when it does not run. */
  get dhtPort(): number {
    return this.dht.udpPort;
  }

  /**
   * libtorrent's session state for the DHT: `{ "dht state": { "node-id": 20 bytes, nodes: compact IPv4 } }`,
   * bencodable. Without a running node it is the last state known (loaded, or saved when it stopped).
   */
  saveState(): Record<string, unknown> {
    const st = this.dht.state() ?? this.dhtSaved;
    return st ? { [DHT_STATE_KEY]: { ...st } } : {};
  }

  /**
   * Takes a state from saveState (a decoded bencode or JSON round trip: node-id as bytes or 40 hex, nodes as
   * compact bytes or "host:port" strings). A running node restarts with that id and pings those nodes.
   */
  loadState(state: Record<string, unknown>): void {
    const raw = state[DHT_STATE_KEY];
    if (raw === undefined) return;
    if (typeof raw !== 'object' || raw === null) {
      throw new SpritzleError('invalid_param', `"${DHT_STATE_KEY}" must be a dictionary`, { field: DHT_STATE_KEY });
    }
    const d = raw as Record<string, unknown>;
    const out: DhtState = {};
    const id = d['node-id'];
    if (id instanceof Uint8Array && id.length === 20) out['node-id'] = new Uint8Array(id);
    else if (typeof id === 'string' && /^[0-9a-fA-F]{40}$/.test(id)) out['node-id'] = new Uint8Array(Buffer.from(id, 'hex'));
    else if (id !== undefined) throw new SpritzleError('invalid_param', 'node-id must be 20 bytes or 40 hex digits', { field: 'node-id' });
    const nodes = d.nodes;
    if (nodes instanceof Uint8Array) out.nodes = new Uint8Array(nodes.subarray(0, nodes.length - (nodes.length % 6)));
    else if (Array.isArray(nodes)) {
      const eps = nodes.map((n) => (typeof n === 'string' ? parseEndpoint(n) : null)).filter((e): e is Endpoint => e !== null && net.isIPv4(e.host));
      out.nodes = encodeCompact4(eps);
    } else if (nodes !== undefined) throw new SpritzleError('invalid_param', 'nodes must be compact bytes or "host:port" strings', { field: 'nodes' });
    this.dhtSaved = out;
    this.dhtRestart = true;
    void this.apply();
  }

  settingsChanged(): void {
    void this.apply();
  }

  /** Brings the DHT node and the LSD socket in line with the settings; one change at a time. */
  private apply(): Promise<void> {
    this.chain = this.chain.then(() => this.applyNow());
    return this.chain;
  }

  private async applyNow(): Promise<void> {
    if (this.closed) return;
    const s = this.ctx.settings;
    const host = this.ctx.listenHost;
    if (s.enable_dht) {
      if (!this.dht.running || this.dhtRestart || s.dht_bootstrap_nodes !== this.appliedBootstrap) {
        // A restart keeps the node id and the routing table (as a state round trip).
        this.dhtSaved = this.dhtRestart ? this.dhtSaved : this.dht.state() ?? this.dhtSaved;
        this.dhtRestart = false;
        try {
          await this.dht.start(udp4BindHost(host), s.dht_port || this.ctx.listenPort, parseEndpointList(s.dht_bootstrap_nodes), this.dhtSaved,
            this.ctx.sharedUdp);
          this.appliedBootstrap = s.dht_bootstrap_nodes;
          this.dht.addNodes(this.pendingDhtNodes);
          this.pendingDhtNodes = [];
          // Running torrents look themselves up in the new node on the next tick.
          for (const td of this.torrents.values()) td.forceDht();
        } catch (e) {
          // Stays off; the next settings change tries again.
          this.appliedBootstrap = null;
          this.ctx.onError?.('dht', errorText(e));
        }
      }
    } else if (this.dht.running) {
      this.dhtSaved = this.dht.state() ?? this.dhtSaved;
      this.appliedBootstrap = null;
      await this.dht.stop();
    }
    const lsdKey = `${this.opts.lsdAddress}:${this.opts.lsdPort}`;
    if (s.enable_lsd && this.appliedLsd !== lsdKey) {
      try {
        await this.lsd.start(this.opts.lsdAddress, this.opts.lsdPort, net.isIPv4(host) && host !== '0.0.0.0' ? host : null);
        this.appliedLsd = lsdKey;
        // Torrents already running announce themselves on the next tick.
        for (const td of this.torrents.values()) td.forceLsd();
      } catch (e) {
        // Stays off; the next settings change tries again.
        this.ctx.onError?.('lsd', errorText(e));
      }
    } else if (!s.enable_lsd && this.lsd.running) {
      this.appliedLsd = null;
      await this.lsd.stop();
    }
  }

  private isSelf(host: string, port: number): boolean {
    return port === this.ctx.listenPort && this.local.has(host);
  }

  /** Torrents queued to be visited by the discovery tick (for tests: a paused torrent is not). */
  get queuedTorrents(): number {
    return this.due.size;
  }

  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    this.dhtBudget = DHT_ANNOUNCES_PER_TICK;
    for (const td of this.dhtWaiting) {
      if (this.dhtBudget <= 0) break;
      this.dhtWaiting.delete(td);
      td.dhtWaiting = false;
      this.visit(td, now);
    }
    for (let td = this.due.popDue(now); td !== undefined; td = this.due.popDue(now)) this.visit(td, now);
    this.flushLsd();
  }

  private visit(td: TorrentDiscoveryImpl, now: number): void {
    td.tick(now);
    // Queued again no earlier than the next tick, so the tick's loop ends.
    this.due.remove(td);
    this.due.wakeBy(td, Math.max(now + 1, td.nextWake(now)));
  }

  private flushLsd(): void {
    if (this.lsdBatch.length === 0) return;
    this.lsd.announce(this.lsdBatch, this.ctx.listenPort);
    this.lsdBatch = [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain.catch(() => undefined);
    await Promise.all([...this.torrents.values()].map((td) => td.close()));
    await Promise.all([this.dht.stop(), this.lsd.stop()]);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
