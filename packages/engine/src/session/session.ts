import net from 'node:net';
import type dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Counters, M, SM, type SessionStats } from '../stats/counters.js';
import { DEFAULT_SETTINGS, parseListenInterface, validateSettings, RESTART_ONLY_SETTINGS, type SessionSettings } from './settings.js';
import { TypedEmitter, type SessionEvents } from './events.js';
import { DiskIoThreads } from '../disk/disk-io-thread.js';
import { DiskBufferPool } from '../disk/disk-buffer-pool.js';
import { ReadCache } from '../disk/read-cache.js';
import { Choker, type ChokerPeer } from '../algo/choker.js';
import { PeerConnection } from '../peer/peer-connection.js';
import { BufferBudget, type Handshake } from '../wire/codec.js';
import { TcpTransport } from '../transport/tcp.js';
import { UtpSocketManager } from '../transport/utp/socket-manager.js';
import { UdpSocket } from '../transport/utp/udp-socket.js';
import { isUtp, type UtpConnection, type UtpSettings } from '../transport/utp/connection.js';
import { HandshakeSlots, MseTransport } from '../transport/mse.js';
import { SkeyIndex } from '../transport/mse-skeys.js';
import { Torrent, type TorrentHost } from '../torrent/torrent.js';
import { TorrentHandle } from '../torrent/torrent-handle.js';
import { normalizeAddParams, TORRENT_FLAGS, type AddTorrentParams, type NormalizedAddParams } from './add-torrent-params.js';
import { parseInfoDict, type TorrentInfo } from '../metainfo/metainfo.js';
import { parseTorrentFileOffThread, parseInfoDictOffThread } from '../metainfo/parse-thread.js';
import { parseMagnet, selectedFilePriorities, type FileRange } from '../metainfo/magnet.js';
import { SpritzleError, errnoCode } from '../errors.js';
import { RateLimiter } from '../algo/bandwidth.js';
import { TcpPeerClass } from './tcp-peer-class.js';
import type { DiscoveryOptions, SessionDiscovery } from '../discovery/types.js';
import type { SharedUdp } from '../discovery/dht-socket.js';
import { Discovery } from '../discovery/discovery.js';
import { sampleRates, settleRates, startRates } from '../torrent/transfer-rates.js';
import { shareLimitOf, type ShareLimitReached } from '../torrent/share-limits.js';
import { CategoryRegistry, type Category } from './categories.js';
import { QueuePositions, autoManage, type QueueEntry } from './queue.js';
import { validateTags } from '../torrent/labels.js';
import { StateUpdates } from './state-update.js';
import { Storage } from '../storage/storage.js';
import { FilePool, isOutOfDescriptors } from '../storage/file-pool.js';
import { DescriptorRetry } from './descriptor-retry.js';
import type { ResumeData } from '../torrent/resume.js';

const TICK_MS = 1000;
/** Peers remembered as not answering uTP (dialled over TCP straight away next time), at most. */
const NO_UTP_MEMORY = 10_000;
/**
 * Bytes of partial messages all connections together may hold (each at most one capped message, see
 * wire/codec.ts): beyond it a connection that needs more is closed (peer.no_memory_peers).
 */
const PEER_BUFFER_BUDGET = 64 * 1024 * 1024;
/**
 * MSE handshakes (incoming) in progress at once: each costs a Diffie-Hellman exponentiation and up to ~66 KB
 * of buffer, so a flood of them is refused beyond this instead of computed.
 */
const MSE_HANDSHAKE_LIMIT = 64;

/** The classes of torrents libtorrent counts (ses.num_*_torrents), by the first that applies. */
const enum TorrentClass { error, stopped, checking, seeding, uploadOnly, downloading }

function classOf(t: Torrent): TorrentClass {
  if (t.hasError) return TorrentClass.error;
  if (t.paused) return TorrentClass.stopped;
  if (t.state === 'checking_files' || t.state === 'checking_resume_data') return TorrentClass.checking;
  if (t.state === 'seeding') return TorrentClass.seeding;
  if (t.state === 'finished') return TorrentClass.uploadOnly;
  return TorrentClass.downloading;
}

/** What one torrent adds to the gauges summed over torrents, as last counted. */
interface TorrentCount {
  cls: TorrentClass | -1;
  have: number;
  banned: number;
}

/** What Session.create takes besides settings. */
export interface SessionOptions {
  /** Discovery timing and LSD group (libtorrent's values by default; tests shorten them). */
  discovery?: DiscoveryOptions;
}

/** What addTorrent takes besides libtorrent's add_torrent_params. */
export interface AddOptions {
  /**
   * Adds the torrent in an error state with this reason (its status' `errc`/`error`): it checks nothing and
   * connects to no one until resumed, which clears the error and checks its data. For a torrent whose saved
   * state could not be restored as it was, so that it stays visible instead of vanishing.
   */
  error?: string;
  /**
   * Resume data its caller decoded already (decodeResumeData), in place of params.resume_data: a daemon
   * restoring 50,000 torrents reads each one's info-hash and save path first, and need not decode it twice.
   */
  resume?: ResumeData;
}

/**
 * The session: settings, the listen socket, the torrents, the counters, the choker and the events.
 * Create one with `Session.create()`, close it with `close()`.
 */
export class Session extends TypedEmitter<SessionEvents> {
  readonly counters = new Counters();
  readonly peerId: Uint8Array;
  private readonly peerIdHex: string;
  /** Hashing and piece writes, off the network thread. @internal */
  readonly diskIo = new DiskIoThreads();
  /** Piece buffers shared by every torrent (and read in place by the hashing threads). */
  private readonly bufferPool = new DiskBufferPool();
  private readonly readCache = new ReadCache();
  /** Every torrent's open files, file_pool_size at most. */
  private readonly filePool: FilePool;
  /** Torrents stopped for want of file descriptors, retried on a backoff. */
  private readonly descriptorRetry = new DescriptorRetry<Torrent>();
  /** When out_of_descriptors was last emitted (at most one a second). */
  private lastOutOfDescriptors = 0;
  private readonly torrentsByHash = new Map<string, Torrent>();
  /** The torrents known by a v2 hash too (v2 and hybrid; a magnet with a btmh), for torrentByAnyHash. */
  private readonly v2Torrents = new Set<Torrent>();
  private readonly handles = new Map<string, TorrentHandle>();
  private readonly server: net.Server;
  /** uTP on the listen port's UDP twin (null if that port could not be had). */
  private udp: UdpSocket | null = null;
  private utp: UtpSocketManager | null = null;
  private dhtReceiver: ((buf: Buffer, rinfo: dgram.RemoteInfo) => void) | null = null;
  /** The UDP socket as the DHT shares it (discovery/dht-socket.ts); null without uTP's socket. */
  private get sharedUdp(): SharedUdp | null {
    const udp = this.udp;
    if (!udp) return null;
    return {
      send: (buf, offset, length, port, host, cb) => udp.socket.send(buf, offset, length, port, host, cb),
      address: () => udp.socket.address(),
      attach: (onMessage) => {
        this.dhtReceiver = onMessage;
        return () => {
          if (this.dhtReceiver === onMessage) this.dhtReceiver = null;
        };
      },
    };
  }
  /** host:port of peers whose uTP dial failed: TCP first for them (libtorrent's supports_utp flag). */
  private readonly noUtp = new Set<string>();
  private readonly choker: Choker;
  private settingsValue: SessionSettings;
  private tickTimer: NodeJS.Timeout | null = null;
  private rechokeTimer: NodeJS.Timeout | null = null;
  private lastTick = Date.now();
  private lastRechoke = 0;
  private lastOptimistic = 0;
  private readonly pending = new Set<PeerConnection>();
  /** Partial peer messages held, session-wide. */
  private readonly peerBuffers = new BufferBudget(PEER_BUFFER_BUDGET);
  private readonly stateUpdates = new StateUpdates();
  /**
   * The torrents the tick visits (libtorrent's want-tick list): those with peers, checking, fetching from web
   * seeds, with rates still falling, near a share limit, and any touched since the last tick (an event, a
   * handle's change, a peer address). A torrent paused, or running with nobody to talk to, is not visited:
   * the tick's work is proportional to the active torrents, not to the loaded ones. Every torrent with a
   * peer is in it (the peer gauges, rechoke and connection count walk only this set).
   */
  private readonly ticking = new Set<Torrent>();
  /** Torrents the tick visited since the last state_update: the only ones that can have changed since it. */
  private readonly sinceUpdate = new Set<Torrent>();
  /** Torrents that want a tick later (a peer address whose retry backoff ends), by the second they are due. */
  private readonly tickLater = new Map<number, Set<Torrent>>();
  /** What each torrent adds to the gauges counted over torrents, as last seen (see recount). */
  private readonly counted = new Map<Torrent, TorrentCount>();
  /** Those gauges, summed incrementally: torrents per class (TorrentClass), pieces had, banned peers. */
  private readonly classCounts = [0, 0, 0, 0, 0, 0];
  private havePieces = 0;
  private bannedPeers = 0;
  /** Something changed that the auto-manager should look at again (only consulted while queueing is on). */
  private queueDirty = true;
  private readonly categoryRegistry = new CategoryRegistry();
  /** The download queue: unfinished torrents by info-hash, top first (session/queue.ts). */
  private readonly queue = new QueuePositions<Torrent>();
  /** Whether any of active_downloads/active_seeds/active_limit was set at the last auto-management pass. */
  private queueing = false;
  private closedFlag = false;
  private port = 0;
  private readonly host: TorrentHost;
  private readonly downLimiter = new RateLimiter();
  private readonly upLimiter = new RateLimiter();
  /** @internal TCP peers' own limits (mixed_mode_algorithm), set each tick; read by tests. */
  readonly tcpClass = new TcpPeerClass();
  private limiterTimer: NodeJS.Timeout | null = null;
  /** Trackers, DHT, PEX and LSD (the discovery layer); null runs without any. @internal */
  discovery: SessionDiscovery | null = null;

  private constructor(settings: SessionSettings) {
    super();
    this.settingsValue = settings;
    const prefix = Buffer.from(settings.peer_fingerprint.padEnd(8, '-').slice(0, 8), 'latin1');
    // The rest of the id is printable, as most clients' are.
    const rest = Buffer.from(randomBytes(12).toString('base64').replace(/[+/=]/g, 'x').slice(0, 12), 'latin1');
    this.peerId = Buffer.concat([prefix, rest]);
    this.peerIdHex = Buffer.from(this.peerId).toString('hex');
    this.choker = new Choker({
      unchoke_slots_limit: settings.unchoke_slots_limit,
      num_optimistic_unchoke_slots: settings.num_optimistic_unchoke_slots,
      seeding_piece_quota: settings.seeding_piece_quota,
    });
    this.server = net.createServer((socket) => this.onIncoming(socket));
    this.filePool = new FilePool(settings.file_pool_size);
    const session = this;
    this.host = {
      counters: this.counters,
      get settings() { return session.settingsValue; },
      diskIo: this.diskIo,
      bufferPool: this.bufferPool,
      readCache: this.readCache,
      peerId: this.peerId,
      get listenPort() { return session.port; },
      emit: (name, payload) => {
        this.gaugesStale = true;
        // An event is a change: the torrent is visited at the next tick (state_update, gauges, queue).
        const hash = (payload as { info_hash?: string }).info_hash;
        if (hash !== undefined) {
          const t = this.torrentsByHash.get(hash);
          if (t) this.wake(t);
          if (t && name === 'metadata_received' && t.v2Hash !== undefined) {
            this.v2Torrents.add(t);
            this.skeys.set(t, skeysOf(t)); // a hybrid's metadata brings its v2 swarm
          }
          // A hybrid added by a btmh magnet took its v1 hash (emitted once the torrent holds it): new SKEYs.
          if (t && name === 'torrent_update') this.skeys.set(t, skeysOf(t));
        }
        this.emit(name, payload);
      },
      wake: (t) => this.wake(t),
      renameTorrent: (t, from, to) => this.renameTorrent(t, from, to),
      connect: (t, host, port, plaintext) => this.connectPeer(t, host, port, plaintext),
      requestRechoke: () => this.scheduleRechoke(),
      downLimiter: this.downLimiter,
      upLimiter: this.upLimiter,
      tcpDownLimiter: this.tcpClass.down,
      tcpUpLimiter: this.tcpClass.up,
      limiterWake: () => this.limiterWake(),
      openStorage: (savePath, layout) => new Storage({ savePath, layout, pool: this.filePool }),
      outOfDescriptors: (t) => {
        this.counters.inc(SM.ses_out_of_descriptors);
        this.descriptorRetry.add(t, Date.now());
      },
    };
    this.applyRateLimits();
  }

  /** Starts a session listening on settings.listen_interfaces (default 0.0.0.0:6881). */
  static async create(settings: Partial<SessionSettings> = {}, options: SessionOptions = {}): Promise<Session> {
    const s: SessionSettings = { ...DEFAULT_SETTINGS, ...validateSettings(settings) };
    const session = new Session(s);
    try {
      await session.listen();
    } catch (e) {
      session.closedFlag = true;
      await session.diskIo.close();
      throw e;
    }
    session.discovery = new Discovery({
      counters: session.counters,
      get settings() { return session.settingsValue; },
      peerId: session.peerId,
      get listenPort() { return session.port; },
      listenHost: parseListenInterface(s.listen_interfaces).host,
      sharedUdp: session.sharedUdp,
      ...(options.discovery ? { options: options.discovery } : {}),
      // Delivered after the current job, as libtorrent queues alerts: a failure while Session.create runs
      // reaches the listeners attached once it resolves.
      onError: (what, error) => void setImmediate(() => session.emit(what === 'dht' ? 'dht_error' : 'lsd_error', { error })),
    });
    await session.discovery.start();
    session.tickTimer = setInterval(() => session.tick(), TICK_MS);
    session.tickTimer.unref();
    return session;
  }

  private listen(): Promise<void> {
    const { host, port } = parseListenInterface(this.settingsValue.listen_interfaces);
    return new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        const code = errnoCode(e);
        reject(new SpritzleError('network_error',
          code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `cannot listen on ${host}:${port}: ${e.message}`,
          { cause: e }));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        // After listening, errors are accept()'s: the listen socket stays open and libuv keeps accepting.
        this.server.on('error', (e) => {
          if (isOutOfDescriptors(e)) this.outOfDescriptors('accept', e);
        });
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    }).then(() => this.listenUtp(host));
  }

  /**
   * uTP listens on the UDP port of the same number (one port to forward, as with libtorrent). If that UDP
   * port is taken the session runs without uTP rather than failing.
   */
  private async listenUtp(host: string): Promise<void> {
    if (net.isIPv6(host)) return; // the uTP socket is IPv4 for now
    const session = this;
    const s = (): SessionSettings => session.settingsValue;
    const settings: UtpSettings = {
      get targetDelayMs() { return s().utp_target_delay; },
      get gainFactor() { return s().utp_gain_factor; },
      get minTimeoutMs() { return s().utp_min_timeout; },
      get synResends() { return s().utp_syn_resends; },
      get finResends() { return s().utp_fin_resends; },
      get numResends() { return s().utp_num_resends; },
      get connectTimeoutMs() { return s().utp_connect_timeout; },
      get lossMultiplier() { return s().utp_loss_multiplier; },
      get lowDelayLossMultiplier() { return s().utp_low_delay_loss_multiplier; },
    };
    let mgr: UtpSocketManager | null = null;
    // uTP takes its datagrams (first byte type << 4 | 1); the rest go to the DHT when it shares the socket.
    const udp = new UdpSocket((buf, address, port) => {
      if (mgr?.receive(buf, address, port)) return;
      this.dhtReceiver?.(buf, { address, port, family: 'IPv4', size: buf.length });
    });
    udp.socket.on('error', () => undefined);
    try {
      await udp.bind(this.port, host === '0.0.0.0' ? '0.0.0.0' : host);
    } catch {
      udp.close();
      return;
    }
    mgr = new UtpSocketManager({
      settings, counters: this.counters, udp,
      acceptIncoming: () => this.settingsValue.enable_incoming_utp && !this.closedFlag,
      onAccept: (conn) => this.onIncomingUtp(conn),
      maxConnections: this.settingsValue.connections_limit,
    });
    this.udp = udp;
    this.utp = mgr;
  }

  /** The TCP port peers reach us on. */
  get listenPort(): number {
    return this.port;
  }

  /** Whether close() was called: a closed session refuses every operation (session_closed). */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** A copy of the current settings, by libtorrent's settings_pack names. */
  settings(): SessionSettings {
    return { ...this.settingsValue };
  }

  /** Changes settings by libtorrent's names; unknown names or wrong types are an invalid_param error. */
  applySettings(partial: Partial<SessionSettings> | Record<string, unknown>): SessionSettings {
    const valid = validateSettings(partial);
    for (const key of Object.keys(valid) as (keyof SessionSettings)[]) {
      if (RESTART_ONLY_SETTINGS.has(key) && valid[key] !== this.settingsValue[key]) {
        throw new SpritzleError('invalid_param', `${key} can only be set when the session starts`, { field: key });
      }
    }
    const changed: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(valid) as [keyof SessionSettings, SessionSettings[keyof SessionSettings]][]) {
      if (this.settingsValue[k] !== v) changed[k] = v;
    }
    this.settingsValue = { ...this.settingsValue, ...valid };
    this.choker.updateSettings({
      unchoke_slots_limit: this.settingsValue.unchoke_slots_limit,
      num_optimistic_unchoke_slots: this.settingsValue.num_optimistic_unchoke_slots,
      seeding_piece_quota: this.settingsValue.seeding_piece_quota,
    });
    this.scheduleRechoke();
    this.applyRateLimits();
    this.filePool.setSize(this.settingsValue.file_pool_size);
    // Limits and timeouts may concern any torrent: each is looked at once (a rare, deliberate call).
    if (Object.keys(changed).length > 0) for (const t of this.torrentsByHash.values()) this.wake(t);
    this.discovery?.settingsChanged();
    if (Object.keys(changed).length > 0) this.emit('settings_changed', { changed });
    return this.settings();
  }

  private applyRateLimits(): void {
    this.downLimiter.setRate(this.settingsValue.download_rate_limit);
    this.upLimiter.setRate(this.settingsValue.upload_rate_limit);
    this.limiterWake();
  }

  /** Runs the 100 ms bandwidth clock while some torrent waits for bandwidth; stops when none does. */
  private limiterWake(): void {
    if (this.limiterTimer || this.closedFlag) return;
    this.limiterTimer = setInterval(() => {
      let waiting = false;
      // Only a torrent with peers has uploads queued or requests held back, and all of those are in the tick's set.
      for (const t of this.ticking) if (t.limiterTick()) waiting = true;
      if (!waiting && this.limiterTimer) {
        clearInterval(this.limiterTimer);
        this.limiterTimer = null;
      }
    }, 100);
    this.limiterTimer.unref();
  }

  // ------------------------------------------------------------------ torrents

  /**
   * Adds a torrent (libtorrent's add_torrent_params by name). A torrent already in the session is returned
   * as it is, unless `duplicate_is_error` is set.
   */
  async addTorrent(params: AddTorrentParams, options: AddOptions = {}): Promise<TorrentHandle> {
    this.assertOpen();
    const p = normalizeAddParams(params, options.resume);
    const r = p.resume;
    const sources = [p.ti, p.info_hash, p.url].filter((x) => x !== undefined).length;
    if (sources > 1 || (sources === 0 && !r)) {
      throw new SpritzleError('invalid_param', 'exactly one of ti, info_hash or url (or resume_data alone) names the torrent', { field: sources ? 'ti' : 'info_hash' });
    }
    let info: TorrentInfo | null = null;
    let infoHash: string;
    let name = p.name ?? r?.name ?? '';
    let torrentBytes: Uint8Array | null = null;
    let selectOnly: FileRange[] | undefined;
    let magnetV2: string | undefined;
    if (p.ti) {
      info = await parseTorrentFileOffThread(p.ti);
      infoHash = info.infoHash;
      torrentBytes = p.ti;
      if (p.trackers.length === 0) {
        p.trackers = info.announce.flat();
        p.tracker_tiers = info.announce.flatMap((tier, i) => tier.map(() => i));
      }
    } else if (p.url) {
      const magnet = await parseMagnet(p.url);
      infoHash = magnet.infoHash;
      magnetV2 = magnet.v2;
      name ||= magnet.name ?? '';
      p.trackers = [...p.trackers, ...magnet.trackers];
      p.peers = [...p.peers, ...magnet.peers];
      if (p.file_priorities === undefined) selectOnly = magnet.selectOnly;
    } else if (p.info_hash) {
      // A v2 hash (64 hex) names the torrent by its first 40, as libtorrent's get_best() does.
      infoHash = p.info_hash.slice(0, 40);
      if (p.info_hash.length === 64) magnetV2 = p.info_hash;
    } else {
      infoHash = r!.info_hash;
      // A v2 magnet saved before its metadata: its v2 hash checks the metadata to come.
      if (!r!.info) magnetV2 = r!.info_hash2;
      // piece layers (v2) go with the synchronous parse: the threaded one carries no v2 trees back.
      // Its own copy: the info dictionary is a view into the whole resume data, which the torrent would keep alive.
      const infoBytes = r!.info && new Uint8Array(r!.info);
      if (infoBytes) info = r!.piece_layers ? parseInfoDict(infoBytes, {}, r!.piece_layers) : await parseInfoDictOffThread(infoBytes);
    }
    // A big .torrent is parsed on a thread of its own: the session may have closed meanwhile.
    this.assertOpen();
    if (r && r.info_hash !== infoHash) {
      throw new SpritzleError('invalid_param', `resume_data is for ${r.info_hash}, not ${infoHash}`, { field: 'resume_data' });
    }
    if (info && info.infoHash !== infoHash) {
      throw new SpritzleError('invalid_param', 'resume_data: its info dictionary does not match its info-hash', { field: 'resume_data' });
    }
    // libtorrent hands a torrent's dht_nodes to the session's DHT node.
    if (p.dht_nodes.length > 0) this.discovery?.addDhtNodes(p.dht_nodes);
    // Any of its hashes finds a torrent already here: a hybrid may have come by its v1 or its v2 hash.
    const v2 = info?.infoHashes.v2 ?? magnetV2;
    const existing = this.torrentByAnyHash(infoHash) ?? (v2 !== undefined ? this.torrentByAnyHash(v2.slice(0, 40)) : undefined);
    if (existing) {
      if (p.flags & TORRENT_FLAGS.duplicate_is_error) {
        throw new SpritzleError('duplicate_torrent', `torrent ${infoHash} is already in the session`);
      }
      for (const peer of p.peers) existing.addKnownPeer(peer.host, peer.port);
      existing.connectToPeers();
      return this.handles.get(existing.infoHash)!;
    }
    // A category's save path is where a torrent in it goes unless the add names one (relative: under the session's).
    if (p.category !== undefined && !this.categoryRegistry.get(p.category)) this.setCategory(p.category, '');
    const categoryPath = p.category !== undefined ? this.categoryRegistry.get(p.category)!.save_path : '';
    const normalized: NormalizedAddParams = {
      ...p,
      save_path: path.resolve(this.settingsValue.save_path, p.save_path ?? categoryPath),
    };
    const torrent = new Torrent(this.host, normalized, info, infoHash, torrentBytes, name || infoHash);
    torrent.magnetV2Hash = magnetV2;
    torrent.discovery = this.discovery?.forTorrent(torrent, normalized.trackers, normalized.tracker_tiers) ?? null;
    const handle = new TorrentHandle(this, torrent);
    if (selectOnly && !info) this.selectOnMetadata(torrent, selectOnly);
    this.torrentsByHash.set(infoHash, torrent);
    if (torrent.v2Hash !== undefined) this.v2Torrents.add(torrent);
    this.skeys.set(torrent, skeysOf(torrent));
    this.handles.set(infoHash, handle);
    // At the bottom of the queue: only its own position is new.
    this.queue.add(torrent);
    torrent.queuePosition = this.queue.size - 1;
    this.wake(torrent);
    this.emit('torrent_added', { info_hash: infoHash, name: torrent.name });
    if (options.error !== undefined) torrent.setError(new SpritzleError('invalid_state', options.error));
    await torrent.start();
    return handle;
  }

  /** BEP 53 `so=`: applied when the metadata tells the file count (the ranges are clipped to it). */
  private selectOnMetadata(torrent: Torrent, ranges: readonly FileRange[]): void {
    const done = (): void => {
      this.off('metadata_received', onMetadata);
      this.off('torrent_removed', onRemoved);
    };
    const onMetadata = ({ info_hash }: { info_hash: string }): void => {
      if (info_hash !== torrent.infoHash) return;
      done();
      if (torrent.info) torrent.setFilePriorities(selectedFilePriorities(ranges, torrent.info.files.length));
    };
    const onRemoved = ({ info_hash }: { info_hash: string }): void => {
      if (info_hash === torrent.infoHash) done();
    };
    this.on('metadata_received', onMetadata);
    this.on('torrent_removed', onRemoved);
  }

  /**
   * The categories, each with its save path (qBittorrent's; see session/categories.ts): those created and
   * those the torrents carry (restored from resume data, or set on a handle), sorted by name.
   */
  categories(): Category[] {
    const all = new Map(this.categoryRegistry.list().map((c) => [c.name, c]));
    for (const t of this.torrentsByHash.values()) if (t.category !== '' && !all.has(t.category)) all.set(t.category, { name: t.category, save_path: '' });
    return [...all.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Creates a category or changes its save path ("" for the session's save_path). */
  setCategory(name: string, savePath = ''): Category {
    const c = this.categoryRegistry.set(name, savePath);
    this.labelsChanged();
    return c;
  }

  /** What a daemon saves of the categories and tags: the registry's own (the torrents carry theirs). */
  private labelsChanged(): void {
    this.emit('labels_changed', { categories: this.categoryRegistry.list(), tags: this.categoryRegistry.knownTags() });
  }

  /** Removes a category; its torrents keep running, in no category. false when there was none. */
  removeCategory(name: string): boolean {
    let found = this.categoryRegistry.remove(name);
    if (found) this.labelsChanged();
    for (const t of this.torrentsByHash.values()) {
      if (t.category !== name) continue;
      t.setCategory('');
      found = true;
    }
    return found;
  }

  /** Every tag: those created on their own and those the torrents carry. */
  tags(): string[] {
    const all = new Set(this.categoryRegistry.knownTags());
    for (const t of this.torrentsByHash.values()) for (const tag of t.tags) all.add(tag);
    return [...all].sort();
  }

  /** Makes tags known without giving them to a torrent (qBittorrent's createTags). */
  createTags(tags: readonly string[]): void {
    const before = this.categoryRegistry.knownTags().length;
    this.categoryRegistry.addTags(validateTags(tags));
    if (this.categoryRegistry.knownTags().length !== before) this.labelsChanged();
  }

  /** Forgets a tag and takes it off every torrent. */
  deleteTag(tag: string): void {
    if (this.categoryRegistry.removeTag(tag)) this.labelsChanged();
    for (const t of this.torrentsByHash.values()) if (t.tags.includes(tag)) t.setTags(t.tags.filter((x) => x !== tag));
  }

  /** Every torrent in the session, in the order they were added. */
  torrents(): TorrentHandle[] {
    return [...this.handles.values()];
  }

  /** The torrent with this info-hash (40 hex digits, either case), or undefined (libtorrent's find_torrent). */
  findTorrent(infoHash: string): TorrentHandle | undefined {
    const t = this.torrentByAnyHash(infoHash.toLowerCase());
    return t && this.handles.get(t.infoHash);
  }

  /**
   * The torrent a hash names: the hash it is known by, or for a v2 or hybrid torrent its v2 info-hash (64 hex)
   * or the v2 hash truncated to 40 (what v2 peers and trackers use).
   */
  private torrentByAnyHash(hash: string): Torrent | undefined {
    const direct = this.torrentsByHash.get(hash);
    if (direct) return direct;
    for (const t of this.v2Torrents) if (t.v2Hash !== undefined && (hash === t.v2Hash || hash === t.v2Hash.slice(0, 40))) return t;
    return undefined;
  }

  /** Files torrent `t` under hash `to` instead of `from` (see TorrentHost.renameTorrent), keeping its place in every list. */
  private renameTorrent(t: Torrent, from: string, to: string): boolean {
    const holder = this.torrentByAnyHash(to);
    if ((holder && holder !== t) || this.torrentsByHash.get(from) !== t) return false;
    renameKey(this.torrentsByHash, from, to);
    renameKey(this.handles, from, to);
    this.discovery?.rename(from, to);
    return true;
  }

  /** Removes a torrent; with deleteFiles its data goes too. An unknown hash is torrent_not_found. */
  async removeTorrent(infoHash: string, opts: { deleteFiles?: boolean } = {}): Promise<void> {
    const key = this.torrentByAnyHash(infoHash.toLowerCase())?.infoHash ?? infoHash.toLowerCase();
    const torrent = this.torrentsByHash.get(key);
    if (!torrent) throw new SpritzleError('torrent_not_found', `no torrent ${infoHash} in the session`);
    this.torrentsByHash.delete(key);
    this.v2Torrents.delete(torrent);
    this.skeys.delete(torrent);
    this.handles.delete(key);
    if (torrent.queuePosition >= 0) {
      // Only the torrents below it move up.
      const at = torrent.queuePosition;
      this.queue.remove(torrent);
      this.refreshQueuePositions(at);
    }
    this.descriptorRetry.delete(torrent);
    await torrent.close(!!opts.deleteFiles);
    this.ticking.delete(torrent);
    this.sinceUpdate.delete(torrent);
    this.uncount(torrent);
    this.gaugesStale = true;
    this.queueDirty = true;
    this.emit('torrent_removed', { info_hash: key, deleted_files: !!opts.deleteFiles });
  }

  /** @internal for TorrentHandle */
  torrentOf(infoHash: string): Torrent | undefined {
    return this.torrentsByHash.get(infoHash);
  }

  /** Whether the session's DHT node runs. */
  isDhtRunning(): boolean {
    return this.discovery?.isDhtRunning() ?? false;
  }

  /** The UDP port of the session's DHT node (0 when it does not run). */
  get dhtPort(): number {
    return this.discovery?.isDhtRunning() ? this.discovery.dhtPort : 0;
  }

  /** The DHT's state worth keeping across restarts (node id, routing table), bencodable, libtorrent's layout. */
  dhtState(): Record<string, unknown> {
    return this.discovery?.saveState() ?? {};
  }

  /** Restores what dhtState() returned; a running DHT node restarts with that id and those nodes. */
  loadDhtState(state: Record<string, unknown>): void {
    this.discovery?.loadState(state);
  }

  // ------------------------------------------------------------------ stats

  /** Every libtorrent session counter by name, live. */
  stats(): SessionStats {
    // Gauges over torrents are kept summed (recount) from the torrents the tick visits, which are the only
    // ones that change: a GET /session with 50,000 torrents loaded walks the active few. They are brought up
    // to date once per tick, or again after an event; between those, interest and choke gauges may be up to
    // a tick old, as libtorrent's are.
    if (this.gaugesStale) {
      this.sumTorrentGauges();
      this.gaugesStale = false;
    }
    this.updateGauges();
    return this.counters.snapshot();
  }

  /** Whether the gauges summed over torrents must be summed again (see stats). */
  private gaugesStale = true;

  /** Puts a torrent in the tick's set (see ticking); its rates start at its first peer or its first tick. */
  private wake(t: Torrent): void {
    if (this.ticking.has(t) || t.closed || this.torrentsByHash.get(t.infoHash) !== t) return;
    this.ticking.add(t);
    this.sinceUpdate.add(t);
    this.gaugesStale = true;
    this.queueDirty = true;
  }

  /** @internal for TorrentHandle: a change made through the handle (flags, limits, peers, trackers...). */
  touch(infoHash: string): void {
    const t = this.torrentsByHash.get(infoHash);
    if (t) this.wake(t);
  }

  /** Brings the torrent's share of the class, piece and ban gauges up to date. */
  private recount(t: Torrent): void {
    let c = this.counted.get(t);
    if (!c) {
      c = { cls: -1, have: 0, banned: 0 };
      this.counted.set(t, c);
    }
    const cls = classOf(t);
    const have = t.picker?.numHave ?? 0;
    const banned = t.numBannedPeers;
    if (cls !== c.cls) {
      if (c.cls >= 0) this.classCounts[c.cls]!--;
      this.classCounts[cls]!++;
      c.cls = cls;
    }
    this.havePieces += have - c.have;
    this.bannedPeers += banned - c.banned;
    c.have = have;
    c.banned = banned;
  }

  /** Takes a removed torrent's share out of the gauges. */
  private uncount(t: Torrent): void {
    const c = this.counted.get(t);
    if (!c) return;
    if (c.cls >= 0) this.classCounts[c.cls]!--;
    this.havePieces -= c.have;
    this.bannedPeers -= c.banned;
    this.counted.delete(t);
  }

  private sumTorrentGauges(): void {
    const c = this.counters;
    let upQueue = 0, upBytes = 0, downQueue = 0;
    let utpPeers = 0;
    let connected = 0, upInterested = 0, downInterested = 0, upUnchoked = 0, downUnchoked = 0, upRequests = 0, downRequests = 0, optimistic = 0;
    for (const t of this.ticking) {
      t.syncStorageCounters();
      this.recount(t);
      const lim = t.limiterState();
      upQueue += lim.upQueue;
      upBytes += lim.upBytes;
      if (lim.downThrottled) downQueue++;
      for (const p of t.peers) {
        connected++;
        if (isUtp(p.transport)) utpPeers++;
        if (p.peerInterested) upInterested++;
        if (p.amInterested) downInterested++;
        if (!p.amChoking) upUnchoked++;
        if (!p.peerChoking) downUnchoked++;
        if (p.optimistic) optimistic++;
        if (p.outstanding.size > 0) downRequests++;
        if (p.peerRequestCount > 0) upRequests++;
      }
    }
    const k = this.classCounts;
    c.set(M.ses_num_error_torrents, k[TorrentClass.error]!);
    c.set(M.ses_num_stopped_torrents, k[TorrentClass.stopped]!);
    c.set(M.ses_num_checking_torrents, k[TorrentClass.checking]!);
    c.set(M.ses_num_seeding_torrents, k[TorrentClass.seeding]!);
    c.set(M.ses_num_upload_only_torrents, k[TorrentClass.uploadOnly]!);
    c.set(M.ses_num_downloading_torrents, k[TorrentClass.downloading]!);
    c.set(M.ses_num_have_pieces, this.havePieces);
    c.set(M.net_limiter_up_queue, upQueue);
    c.set(M.net_limiter_up_bytes, upBytes);
    c.set(M.net_limiter_down_queue, downQueue);
    c.set(M.peer_num_peers_connected, connected);
    c.set(M.peer_num_tcp_peers, connected - utpPeers);
    c.set(M.peer_num_utp_peers, utpPeers);
    c.set(M.peer_num_peers_up_interested, upInterested);
    c.set(M.peer_num_peers_down_interested, downInterested);
    c.set(M.peer_num_peers_up_unchoked_all, upUnchoked);
    c.set(M.peer_num_peers_up_unchoked, upUnchoked - optimistic);
    c.set(M.peer_num_peers_up_unchoked_optimistic, optimistic);
    c.set(M.peer_num_peers_down_unchoked, downUnchoked);
    c.set(M.peer_num_peers_up_requests, upRequests);
    c.set(M.peer_num_peers_down_requests, downRequests);
    c.set(M.peer_num_banned_peers, this.bannedPeers);
  }

  /** The gauges that do not walk the torrents. */
  private updateGauges(): void {
    const c = this.counters;
    c.set(M.ses_num_loaded_torrents, this.torrentsByHash.size);
    const pool = this.filePool.stats;
    c.set(SM.disk_file_pool_open, this.filePool.open);
    c.set(SM.disk_file_pool_hits, pool.hits);
    c.set(SM.disk_file_pool_misses, pool.misses);
    c.set(SM.disk_file_pool_evictions, pool.evictions);
    c.set(M.peer_num_peers_half_open, this.pending.size);
    c.set(M.ses_num_unchoke_slots, this.choker.numUnchokeSlots);
    c.set(M.net_has_incoming_connections, c.get(M.peer_incoming_connections) > 0 ? 1 : 0);
  }

  // ------------------------------------------------------------------ connections

  private connectionCount(): number {
    let n = this.pending.size;
    // Every torrent with a peer is in the tick's set.
    for (const t of this.ticking) n += t.peers.size;
    return n;
  }

  private readonly mseSlots = new HandshakeSlots(MSE_HANDSHAKE_LIMIT);
  /** Every torrent's SKEYs by HASH('req2', SKEY): what an incoming MSE handshake names its torrent by. */
  private readonly skeys = new SkeyIndex<Torrent>();

  /** The torrent an incoming MSE handshake asks for (its SKEY), across every torrent of the session: one lookup. */
  private readonly findSkey = (req2: Uint8Array): Uint8Array | null => this.skeys.find(req2);

  /** Counts an MSE handshake's end: a failure is an error on an encrypted connection (peer.error_encrypted_peers). */
  private readonly mseEnded = (ok: boolean): void => {
    if (!ok) this.counters.inc(M.peer_error_encrypted_peers);
  };

  private connectPeer(torrent: Torrent, host: string, port: number, plaintext = false): void {
    if (this.closedFlag) return;
    if (this.connectionCount() >= this.settingsValue.connections_limit) {
      this.counters.inc(M.peer_too_many_peers);
      torrent.connectFailed(host, port, false);
      return;
    }
    this.counters.inc(M.peer_connection_attempts);
    const s = this.settingsValue;
    // libtorrent's order: uTP first, TCP if uTP is not answered (or is off), unless TCP is off too.
    const tcpOk = s.enable_outgoing_tcp;
    if (this.utp && s.enable_outgoing_utp && net.isIPv4(host) && !(tcpOk && this.noUtp.has(`${host}:${port}`))) {
      this.connectUtp(torrent, host, port, tcpOk, plaintext);
    } else if (tcpOk) {
      this.connectTcp(torrent, host, port, plaintext);
    } else {
      torrent.connectFailed(host, port, false);
    }
  }

  private connectUtp(torrent: Torrent, host: string, port: number, fallBackToTcp: boolean, plaintext: boolean): void {
    const conn = this.utp!.connect(host, port, (err) => {
      if (err !== null) {
        if (this.closedFlag || torrent.closed || torrent.paused || !fallBackToTcp) {
          this.counters.inc(M.peer_error_outgoing_peers);
          torrent.connectFailed(host, port, false);
          return;
        }
        if (this.noUtp.size >= NO_UTP_MEMORY) this.noUtp.clear();
        this.noUtp.add(`${host}:${port}`);
        this.connectTcp(torrent, host, port, plaintext);
        return;
      }
      if (this.closedFlag || torrent.closed || torrent.paused) {
        conn.close('not needed');
        torrent.connectFailed(host, port, false);
        return;
      }
      this.startOutgoing(torrent, conn, host, port, plaintext);
    });
  }

  /** A connected transport (TCP or uTP): MSE over it as out_enc_policy says, then the BitTorrent handshake. */
  private startOutgoing(torrent: Torrent, transport: TcpTransport | UtpConnection, host: string, port: number, plaintext: boolean): void {
    // out_enc_policy: forced always encrypts; enabled encrypts unless the peer list says this peer's last
    // encrypted handshake failed (its pe_support; a peer that dropped our key unanswered is redialled at once).
    const s = this.settingsValue;
    const encrypt = s.out_enc_policy === 'forced' || (s.out_enc_policy === 'enabled' && !plaintext);
    const dialHash = torrent.dialHashBytes;
    const mse = encrypt
      ? MseTransport.outgoing(transport, {
        skey: dialHash, level: s.allowed_enc_level, timeoutMs: s.handshake_timeout * 1000,
        onHandshakeEnd: (r) => this.mseEnded(r !== null),
      })
      : null;
    const peer = new PeerConnection(mse ?? transport, 'outgoing', this.counters, this.peerBuffers);
    const fallBack = (): boolean => {
      // A peer that never answered our public key (a plaintext-only one drops it) is redialled in plaintext at
      // once; any other failure in the handshake waits for the peer list's next dial (plaintext, by pe_support).
      if (!mse || mse.established || mse.peerSpeaksMse || s.out_enc_policy !== 'enabled' || this.closedFlag || torrent.closed) return false;
      this.connectPeer(torrent, host, port, true);
      return true;
    };
    this.handshakePhase(peer, torrent, mse, fallBack);
    torrent.useExtensions(peer);
    // A hybrid dialled by its v1 hash offers the upgrade to v2 (BEP 52's reserved bit).
    peer.sendHandshake(dialHash, this.peerId, torrent.v2Hash !== undefined && dialHash === torrent.infoHashBytes && !torrent.v2Only);
  }

  private connectTcp(torrent: Torrent, host: string, port: number, plaintext: boolean): void {
    // Outgoing sockets read into one shared buffer: no allocation per read (see transport/tcp.ts).
    const transport = TcpTransport.connect(host, port);
    const socket = transport.socket;
    const timer = setTimeout(() => {
      this.counters.inc(M.peer_connect_timeouts);
      socket.destroy(new Error('connect timed out'));
    }, this.settingsValue.peer_connect_timeout * 1000);
    timer.unref();
    const failed = (e: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      const code = e.code ?? '';
      if (code === 'ECONNREFUSED') this.counters.inc(M.peer_connrefused_peers);
      else if (code === 'ECONNRESET') this.counters.inc(M.peer_connreset_peers);
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') this.counters.inc(M.peer_unreachable_peers);
      else if (isOutOfDescriptors(e)) this.outOfDescriptors('connect', e);
      this.counters.inc(M.peer_error_outgoing_peers);
      torrent.connectFailed(host, port, false);
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      if (this.closedFlag || torrent.closed || torrent.paused) {
        socket.destroy();
        torrent.connectFailed(host, port, false);
        return;
      }
      this.startOutgoing(torrent, transport, host, port, plaintext);
    });
  }

  private onIncoming(socket: net.Socket): void {
    if (this.closedFlag || !this.settingsValue.enable_incoming_tcp) {
      socket.destroy();
      return;
    }
    this.counters.inc(M.peer_incoming_connections);
    this.counters.inc(M.net_on_accept_counter);
    if (this.connectionCount() >= this.settingsValue.connections_limit) {
      this.counters.inc(M.peer_too_many_peers);
      socket.destroy();
      return;
    }
    // The MSE transport tells a plaintext handshake (its 20-byte header) from an encrypted one and applies
    // in_enc_policy; past the encrypted handshake it is transparent to the peer connection.
    const s = this.settingsValue;
    const mse = MseTransport.incoming(TcpTransport.accept(socket), {
      policy: s.in_enc_policy, level: s.allowed_enc_level, preferRc4: s.prefer_rc4, findSkey: this.findSkey,
      slots: this.mseSlots, timeoutMs: s.handshake_timeout * 1000, onHandshakeEnd: (r) => this.mseEnded(r !== null),
    });
    const peer = new PeerConnection(mse, 'incoming', this.counters, this.peerBuffers);
    this.handshakePhase(peer, null, mse);
  }

  /** An accepted uTP connection (enable_incoming_utp was checked at its SYN). */
  private onIncomingUtp(conn: UtpConnection): void {
    if (this.closedFlag) {
      conn.close('session closed');
      return;
    }
    this.counters.inc(M.peer_incoming_connections);
    this.counters.inc(M.net_on_accept_counter);
    if (this.connectionCount() >= this.settingsValue.connections_limit) {
      this.counters.inc(M.peer_too_many_peers);
      conn.close('too many connections');
      return;
    }
    // MSE/PE runs over uTP as over TCP (in_enc_policy; told apart by the first bytes).
    const s = this.settingsValue;
    const mse = MseTransport.incoming(conn, {
      policy: s.in_enc_policy, level: s.allowed_enc_level, preferRc4: s.prefer_rc4, findSkey: this.findSkey,
      slots: this.mseSlots, timeoutMs: s.handshake_timeout * 1000, onHandshakeEnd: (r) => this.mseEnded(r !== null),
    });
    const peer = new PeerConnection(mse, 'incoming', this.counters, this.peerBuffers);
    this.handshakePhase(peer, null, mse);
  }

  /**
   * Until the BitTorrent handshake arrives a connection belongs to no torrent. Then: the right torrent,
   * not ourselves, not a peer id already connected, not banned, or it is dropped.
   */
  private handshakePhase(
    peer: PeerConnection, outgoingTorrent: Torrent | null, mse: MseTransport | null = null, fallBack?: () => boolean,
  ): void {
    this.pending.add(peer);
    const timer = setTimeout(() => {
      this.counters.inc(M.peer_timeout_peers);
      peer.close('handshake timed out');
    }, this.settingsValue.handshake_timeout * 1000);
    timer.unref();
    peer.onClose = () => {
      clearTimeout(timer);
      this.pending.delete(peer);
      this.counters.inc(M.peer_disconnected_peers);
      if (!outgoingTorrent || fallBack?.()) return; // (dialled again in plaintext)
      // An encrypted dial that ends before the BitTorrent handshake says why (e.g. a plaintext-only peer
      // with out_enc_policy forced), as libtorrent's peer_disconnected_alert would.
      if (mse) this.emit('peer_disconnected', { info_hash: outgoingTorrent.infoHash, ip: peer.ip, port: peer.port, reason: peer.closeReason });
      // Failed in the handshake: the peer list's pe_support makes the next dial try the other way.
      outgoingTorrent.connectFailed(peer.ip, peer.port, false, mse === null ? 'plaintext' : mse.established ? undefined : 'encrypted');
    };
    peer.handshakeReceived = (h: Handshake): void => {
      clearTimeout(timer);
      const infoHash = Buffer.from(h.infoHash).toString('hex');
      const peerIdHex = Buffer.from(h.peerId).toString('hex');
      this.pending.delete(peer);
      const torrent = outgoingTorrent ?? this.torrentByAnyHash(infoHash);
      const drop = (reason: string, skip: boolean): void => {
        peer.onClose = undefined;
        peer.close(reason);
        if (outgoingTorrent) outgoingTorrent.connectFailed(peer.ip, peer.port, skip);
      };
      const v2Swarm = torrent?.v2Hash?.slice(0, 40);
      if (!torrent || torrent.closed || (infoHash !== torrent.infoHash && infoHash !== v2Swarm)) return drop('unknown info-hash', true);
      if (mse?.skey && !Buffer.from(mse.skey).equals(h.infoHash)) return drop('info-hash differs from the encrypted handshake\'s', true);
      if (torrent.paused || torrent.hasError) return drop('torrent not active', false);
      // libtorrent's torrent_not_ready: while checking, the pieces we have are not known, and a peer
      // attached now would be told we have nothing and never hear otherwise.
      if (torrent.state === 'checking_files' || torrent.state === 'checking_resume_data') return drop('torrent not ready', false);
      if (peerIdHex === this.peerIdHex) return drop('connected to ourselves', true);
      if (torrent.isBanned(peer.ip, peer.port, peerIdHex)) return drop('banned', true);
      const existing = torrent.peerById(peerIdHex);
      if (existing) {
        // Both sides dialled each other at once: each keeps the connection opened by the lower peer id, so
        // both keep the same one. Otherwise (a second connection from the same side) the new one goes.
        const opener = (p: PeerConnection): string => (p.direction === 'outgoing' ? this.peerIdHex : peerIdHex);
        if (existing.direction === peer.direction || opener(peer) > opener(existing)) return drop('duplicate peer id', false);
        existing.close('duplicate connection: both sides dialled');
      }
      if (torrent.maxConnections >= 0 && torrent.peers.size >= torrent.maxConnections) return drop('torrent connection limit', false);
      peer.peerId = peerIdHex;
      // BEP 52: the connection speaks v2 when it names the v2 swarm, or when a v1 connection to a hybrid
      // asks to upgrade (the answer then names the v2 swarm, as libtorrent's does).
      peer.v2 = v2Swarm !== undefined && (infoHash === v2Swarm || (peer.direction === 'incoming' && h.v2 === true));
      peer.encryption = mse?.encryption ?? 'none';
      if (peer.direction === 'incoming') {
        torrent.useExtensions(peer);
        peer.sendHandshake(peer.v2 ? Buffer.from(v2Swarm!, 'hex') : torrent.infoHashBytes, this.peerId);
      }
      peer.onClose = undefined;
      this.wake(torrent);
      startRates(torrent, Date.now());
      torrent.attachPeer(peer);
      this.scheduleRechoke();
    };
  }

  // ------------------------------------------------------------------ periodic work

  private scheduleRechoke(): void {
    if (this.rechokeTimer || this.closedFlag) return;
    // Coalesce bursts (many peers turning interested at once) into one rechoke.
    this.rechokeTimer = setTimeout(() => {
      this.rechokeTimer = null;
      this.rechoke(Date.now(), false);
    }, 10);
    this.rechokeTimer.unref();
  }

  private rechoke(now: number, rotateOptimistic: boolean): void {
    const peers: PeerConnection[] = [];
    const views: ChokerPeer[] = [];
    for (const t of this.ticking) {
      if (t.paused || t.hasError || !t.picker) continue;
      for (const p of t.peers) {
        if (p.closed) continue;
        peers.push(p);
        views.push({
          id: p.id,
          interested: p.peerInterested,
          choked: p.amChoking,
          seeding: t.isSeeding,
          downloadedInRound: p.downloadedInRound,
          uploadedSinceUnchoke: p.uploadedSinceUnchoke,
          unchokedAt: p.unchokedAt,
          lastOptimisticAt: p.lastOptimisticAt,
          connectedAt: p.connectedAt,
          pieceLength: t.info!.pieceLength,
        });
      }
    }
    const decision = this.choker.rechoke(views, now, rotateOptimistic);
    for (const p of peers) {
      if (decision.optimistic.has(p.id)) p.unchoke(now, true);
      else if (decision.unchoke.has(p.id)) p.unchoke(now, false);
      else p.choke();
    }
  }

  private tick(): void {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastTick) / 1000);
    this.lastTick = now;
    this.counters.inc(M.net_on_tick_counter);
    this.gaugesStale = true;
    this.wakeDue(now);
    let reached: [Torrent, ShareLimitReached][] | undefined;
    let renumberFrom = Number.POSITIVE_INFINITY;
    for (const t of this.ticking) {
      t.tick(now, seconds);
      sampleRates(t, now);
      const limit = shareLimitOf(t, (t.flags & TORRENT_FLAGS.paused) !== 0, now);
      if (limit !== null) (reached ??= []).push([t, limit]);
      renumberFrom = Math.min(renumberFrom, this.syncQueue(t));
    }
    if (renumberFrom !== Number.POSITIVE_INFINITY) this.refreshQueuePositions(renumberFrom);
    if (this.tcpClass.update(this.settingsValue.mixed_mode_algorithm, this.ticking, now)) this.limiterWake();
    if (reached) for (const [t, limit] of reached) this.onShareLimit(t, limit);
    this.autoManage();
    if (this.hasListeners('state_update')) this.postTorrentUpdates();
    this.bufferPool.trim(now);
    for (const t of this.descriptorRetry.due(now)) if (this.torrentsByHash.get(t.infoHash) === t) t.retryAfterOutOfDescriptors();
    const s = this.settingsValue;
    const rotate = now - this.lastOptimistic >= s.optimistic_unchoke_interval * 1000;
    if (rotate || now - this.lastRechoke >= s.unchoke_interval * 1000) {
      this.rechoke(now, rotate);
      this.lastRechoke = now;
      if (rotate) this.lastOptimistic = now;
      for (const t of this.ticking) for (const p of t.peers) p.downloadedInRound = 0;
    }
    this.settleTicking(now);
  }

  /**
   * Lets go of the torrents the next tick has nothing to do for (their gauges and rates counted first);
   * one whose next peer dial is due later comes back then.
   */
  private settleTicking(now: number): void {
    for (const t of this.ticking) {
      const at = t.wantsTickAt(now);
      if (at <= now + TICK_MS || !settleRates(t, now)) continue;
      this.recount(t);
      this.ticking.delete(t);
      if (at === Number.POSITIVE_INFINITY) continue;
      const second = Math.ceil(at / TICK_MS);
      let due = this.tickLater.get(second);
      if (!due) this.tickLater.set(second, (due = new Set()));
      due.add(t);
    }
  }

  /** Brings back the torrents whose time came (see settleTicking). */
  private wakeDue(now: number): void {
    if (this.tickLater.size === 0) return;
    const second = Math.floor(now / TICK_MS);
    for (const [at, due] of this.tickLater) {
      if (at > second) continue;
      this.tickLater.delete(at);
      for (const t of due) this.wake(t);
    }
  }

  /**
   * Keeps the download queue for one torrent: an unfinished torrent is in it (new ones at the bottom), a
   * finished one is not. Answers the position from which the others must be renumbered (Infinity: none).
   */
  private syncQueue(t: Torrent): number {
    const at = t.queuePosition;
    if (!t.isFinished && at < 0) {
      this.queue.add(t);
      t.queuePosition = this.queue.size - 1;
    } else if (t.isFinished && at >= 0) {
      this.queue.remove(t);
      t.queuePosition = -1;
      return at;
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Renumbers the queue positions from `from` down (those above it did not move). */
  private refreshQueuePositions(from = 0): void {
    const list = this.queue.list();
    for (let i = Math.max(0, from); i < list.length; i++) list[i]!.queuePosition = i;
  }

  /**
   * libtorrent's auto-manager: with any of active_downloads/active_seeds/active_limit set, starts and queues
   * auto-managed torrents by queue position (seeds after downloads). When the limits are lifted, one last pass
   * starts every torrent the queue held back.
   */
  private autoManage(): void {
    const s = this.settingsValue;
    const on = s.active_downloads >= 0 || s.active_seeds >= 0 || s.active_limit >= 0;
    if (!on && !this.queueing) return;
    // Nothing changed since the last pass (no event, no touched torrent, no settings): same answer.
    if (on === this.queueing && !this.queueDirty) return;
    this.queueing = on;
    this.queueDirty = false;
    const entries: QueueEntry[] = [];
    for (const [id, t] of this.torrentsByHash) {
      entries.push({
        id, autoManaged: (t.flags & TORRENT_FLAGS.auto_managed) !== 0, running: (t.flags & TORRENT_FLAGS.paused) === 0,
        finished: t.isFinished, error: t.hasError, queuePosition: t.queuePosition, seedRank: 0,
      });
    }
    const d = autoManage(entries, s);
    for (const id of d.stop) this.torrentsByHash.get(id)?.pause(true);
    for (const id of d.start) this.torrentsByHash.get(id)?.resume();
  }

  /** @internal for TorrentHandle: libtorrent's queue_position_up/down/top/bottom/set. */
  moveInQueue(infoHash: string, to: 'up' | 'down' | 'top' | 'bottom' | number): void {
    const t = this.torrentsByHash.get(infoHash);
    if (!t || t.queuePosition < 0) return;
    if (to === 'up') this.queue.up(t);
    else if (to === 'down') this.queue.down(t);
    else if (to === 'top') this.queue.top(t);
    else if (to === 'bottom') this.queue.bottom(t);
    else this.queue.set(t, to);
    this.refreshQueuePositions();
    this.queueDirty = true;
    this.autoManage();
  }

  /** A torrent reached a share limit: say so, then pause or remove it as its limits ask. */
  private onShareLimit(t: Torrent, limit: ShareLimitReached): void {
    const action = t.shareLimits.action;
    this.emit('share_limit_reached', { info_hash: t.infoHash, limit, action });
    // Paused first, also when it is removed next: removal is asynchronous, and a paused torrent is not judged again.
    t.pause();
    if (action !== 'pause') void this.removeTorrent(t.infoHash, { deleteFiles: action === 'remove_with_files' }).catch(() => undefined);
  }

  /**
   * libtorrent's post_torrent_updates: emits state_update with the statuses of the torrents that changed
   * since the last state_update (nothing when none did). The tick calls it once a second while anyone
   * listens to state_update.
   */
  postTorrentUpdates(): void {
    // Only a torrent the tick visits, or visited since the last call, can have changed (libtorrent keeps a
    // list of torrents with state updates likewise).
    for (const t of this.ticking) this.sinceUpdate.add(t);
    const changed = this.stateUpdates.changed(this.sinceUpdate, Date.now());
    this.sinceUpdate.clear();
    if (changed.length === 0) return;
    this.emitDirect('state_update', { status: changed.map((t) => this.handles.get(t.infoHash)!.status()) });
  }

  /** Out of descriptors where no torrent is to blame: counted, and told (once a second at most). */
  private outOfDescriptors(operation: 'accept' | 'connect', e: Error): void {
    this.counters.inc(SM.ses_out_of_descriptors);
    const now = Date.now();
    if (now - this.lastOutOfDescriptors < 1000) return;
    this.lastOutOfDescriptors = now;
    this.emit('out_of_descriptors', { operation, error: e.message });
  }

  private assertOpen(): void {
    if (this.closedFlag) throw new SpritzleError('session_closed', 'the session is closed');
  }

  /** Closes every connection and the listen socket; torrents stay as they are on disk. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.rechokeTimer) clearTimeout(this.rechokeTimer);
    if (this.limiterTimer) clearInterval(this.limiterTimer);
    for (const p of this.pending) p.close('session closed');
    await Promise.all([...this.torrentsByHash.values()].map((t) => t.close(false)));
    await this.filePool.drain();
    await this.discovery?.close();
    this.utp?.close();
    this.udp?.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.diskIo.close();
  }
}


/** Moves `map`'s entry from key `from` to `to` in place: the map's order (the order torrents were added) stays. */
function renameKey<V>(map: Map<string, V>, from: string, to: string): void {
  const entries = [...map].map(([k, v]): [string, V] => [k === from ? to : k, v]);
  map.clear();
  for (const [k, v] of entries) map.set(k, v);
}

/** The SKEYs a torrent's MSE connections may name: its info-hash, and a hybrid's v2 swarm (BEP 52: truncated v2 hash). */
function skeysOf(t: Torrent): Uint8Array[] {
  const v2 = t.v2SwarmHash;
  return v2 === undefined ? [t.infoHashBytes] : [t.infoHashBytes, Buffer.from(v2, 'hex')];
}
