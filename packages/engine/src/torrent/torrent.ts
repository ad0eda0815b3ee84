import { isUtp } from '../transport/utp/connection.js';
import type { TorrentInfo } from '../metainfo/metainfo.js';
import { DEFAULT_TORRENT_SHARE_LIMITS, type TorrentShareLimits } from './share-limits.js';
import { boostFirstAndLastPieces } from './first-last-piece.js';
import { MovableStorage } from './move-storage.js';
import { resolve as resolvePath, sep as pathSep } from 'node:path';
import { encodePieceLayers } from '../metainfo/metainfo.js';
import type { NormalizedAddParams } from '../session/add-torrent-params.js';
import { TORRENT_FLAGS } from '../session/add-torrent-params.js';
import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import type { SessionSettings } from '../session/settings.js';
import type { SessionEvents, TorrentState } from '../session/events.js';
import type { DiskIoThreads } from '../disk/disk-io-thread.js';
import type { DiskBufferPool } from '../disk/disk-buffer-pool.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { PiecePicker } from '../algo/piece-picker.js';
import { FileLayout } from '../storage/file-layout.js';
import { FileError } from '../storage/storage.js';
import { isOutOfDescriptors } from '../storage/file-pool.js';
import type { StorageOpener, TorrentStorage } from '../storage/torrent-storage.js';
import { resolveInside } from '../storage/paths.js';
import { SpritzleError } from '../errors.js';
import type { ResumeData } from './resume.js';
import { RateLimiter } from '../algo/bandwidth.js';
import type { DeadlineOwner, PieceDeadlines } from '../algo/piece-deadlines.js';
import type { DiscoveryTorrent, PeerSource, TorrentDiscovery } from '../discovery/types.js';
import { PeerList, type HandshakeFailure } from './peer-list.js';
import { BLOCK_REDUNDANT, BlockRequests, unsolicitedBlock, type RequestTorrent } from './requests.js';
import { BLOCK_SIZE } from '../block-size.js';
import { MAX_PENDING_DISK_BYTES, PieceAssembly, type AssemblyDiskIo, type AssemblyListener, type Contributor } from './piece-assembly.js';
import { WebSeed, WebSeeds, type WebSeedInfo, type WebSeedTorrent } from './web-seeds.js';
import type { WebSeedFile } from '../discovery/web-seed.js';
import { Uploads, type UploadTorrent } from './uploads.js';
import type { ReadCache } from '../disk/read-cache.js';
import { MetadataExchange, type MetadataTorrent } from './metadata.js';
import { HashExchange } from './hash-exchange.js';
import { v2PieceCheck } from '../metainfo/v2.js';
import { matchesInfoHash } from '../metainfo/info-hashes.js';
import { MSG } from '../wire/codec.js';
import { bitfieldHas, fastResumeMismatch } from './checking.js';
import { PadBytes } from './pad-bytes.js';
import type { ConnectionsView, DoneBytes, FileInfo, PeerInfo, TorrentControl } from './torrent-view.js';

/** What a torrent needs from its session. */
export interface TorrentHost {
  readonly counters: Counters;
  readonly settings: Readonly<SessionSettings>;
  /** The disk threads: pieces are hashed and written off the event loop. */
  readonly diskIo: AssemblyDiskIo;
  /** Piece buffers (shared memory the disk threads read). */
  readonly bufferPool: Pick<DiskBufferPool, 'alloc' | 'release'>;
  /** Pieces read whole for uploads, session-wide (without it, each torrent keeps its own). */
  readonly readCache?: ReadCache;
  readonly peerId: Uint8Array;
  readonly listenPort: number;
  emit<K extends keyof SessionEvents & string>(name: K, payload: SessionEvents[K]): void;
  /**
   * The torrent is to be known by `to` instead of `from` (a hybrid found by its v2 hash alone learns its v1
   * hash from the metadata): the session files it under `to`, still finds it by its other hashes, and returns
   * false, changing nothing, when another torrent of the session holds `to` already. Without it (tests), the
   * torrent renames itself alone.
   */
  renameTorrent?(torrent: Torrent, from: string, to: string): boolean;
  /** Dial a peer for this torrent; the session calls attachPeer once the handshake checks out. */
  connect(torrent: Torrent, host: string, port: number, plaintext: boolean): void;
  /** Ask for a rechoke soon (a peer became interested, a slot opened). */
  requestRechoke(): void;
  /** Session-wide bandwidth limits (download_rate_limit / upload_rate_limit). */
  readonly downLimiter: RateLimiter;
  readonly upLimiter: RateLimiter;
  /** The TCP peer class's limits (mixed_mode_algorithm), which TCP peers pass besides those; none in tests. */
  readonly tcpDownLimiter?: RateLimiter;
  readonly tcpUpLimiter?: RateLimiter;
  /** A torrent has work waiting for bandwidth: make sure the limiter clock runs. */
  limiterWake(): void;
  /** Opens the torrent's piece storage (the file system in the session; memory in tests). */
  readonly openStorage: StorageOpener;
  /**
   * The torrent erred for want of file descriptors (EMFILE/ENFILE): the session calls
   * retryAfterOutOfDescriptors() later. Without it (tests) the torrent stays in error until resumed.
   */
  outOfDescriptors?(torrent: Torrent): void;
  /**
   * Something changed that the session's tick must look at (a peer address to dial, for one): the session
   * visits only the torrents that want it (see wantsTickAt), and a torrent it stopped visiting says so.
   */
  wake?(torrent: Torrent): void;
}

/**
 * One torrent's life: checking → (downloading_metadata) → downloading → finished/seeding, paused or in
 * error. It glues the wires to the jobs beside it (peer list, requests, piece assembly, uploads, metadata);
 * the decisions themselves live in those and in the piece picker.
 */
export class Torrent implements DiscoveryTorrent, TorrentControl {
  /** libtorrent's info_hashes.get_best(): v1, else the truncated v2; a btmh magnet's hybrid changes it once (adoptInfoHash). */
  private hashHex: string;
  private hashBytes: Uint8Array;
  info: TorrentInfo | null = null;
  savePath: string;
  flags: number;
  state: TorrentState = 'checking_resume_data';
  errorMessage = '';
  /** The error is for want of file descriptors: the session retries by itself (retryAfterOutOfDescriptors). */
  private errorIsTransient = false;
  errorFile = -1;
  picker: PiecePicker | null = null;
  storage: TorrentStorage | null = null;
  layout: FileLayout | null = null;
  filePriorities: number[] = [];
  readonly peers = new Set<PeerConnection>();
  /** Addresses we know, and the bans. */
  readonly peerList = new PeerList();
  closed = false;
  /** Trackers, DHT, PEX and LSD for this torrent; set by the session before start(). */
  discovery: TorrentDiscovery | null = null;
  /** Our verified pieces as a wire bitfield (MSB first). */
  bitfield: Uint8Array = new Uint8Array(0);
  checkedPieces = 0;

  // Limits (-1 unlimited).
  private readonly downLimiter = new RateLimiter();
  maxUploads: number;
  maxConnections: number;

  // Times (unix seconds) and durations (seconds).
  readonly addedTime: number;
  completedTime: number;
  lastSeenComplete = 0;
  lastDownload = 0;
  lastUpload = 0;
  /**
   * Seconds running (not paused, not in error), finished and seeding, as of timesAt: the getters add the
   * time since, so that nobody has to visit an idle torrent every second to count them (libtorrent keeps
   * them so too). settleTimes() brings them up to date before anything they depend on changes.
   */
  private activeBase = 0;
  private finishedBase = 0;
  private seedingBase = 0;
  private timesAt = Date.now();
  /** Its share limits and their action (share-limits.ts); the session acts on them each tick. */
  shareLimits: TorrentShareLimits = { ...DEFAULT_TORRENT_SHARE_LIMITS };
  /** Its category ("" for none) and tags (sorted), as qBittorrent labels torrents; saved with the resume data. */
  category = '';
  tags: readonly string[] = [];
  /** Each wanted file's first and last piece at the top priority (qBittorrent's firstLastPiecePrio). */
  firstLastPiecePriority = false;
  /** Its place in the session's download queue (0 at the top), -1 once finished; the session keeps it. */
  queuePosition = -1;
  /** A move_storage is under way. */
  movingStorage = false;
  /** Files renamed by rename_file: index → path under the save path (libtorrent's renamed_files). */
  renamedFiles = new Map<number, string>();

  // Totals (bytes). total_* are this session; all_time_* include resume data.
  totalDownload = 0;
  totalUpload = 0;
  totalPayloadDownload = 0;
  totalPayloadUpload = 0;
  totalFailedBytes = 0;
  totalRedundantBytes = 0;
  readonly priorDownload: number;
  readonly priorUpload: number;
  downloadRate = 0;
  uploadRate = 0;
  downloadPayloadRate = 0;
  uploadPayloadRate = 0;

  /** The picker ↔ peer glue; with the picker, once the metadata is known. */
  private requests: BlockRequests | null = null;
  /** BEP 47 pad files in the pieces: not the user's bytes; null when the torrent has none. */
  private pad: PadBytes | null = null;
  /** Blocks into pieces, hashed and written; once the metadata is known. */
  private assembly: PieceAssembly | null = null;
  /** The hash the torrent is known by (40 hex): its v1 hash, or the truncated v2 of a v2-only torrent. */
  get infoHash(): string {
    return this.hashHex;
  }

  get infoHashBytes(): Uint8Array {
    return this.hashBytes;
  }

  /** The v2 info-hash (64 hex) of a v2 or hybrid torrent: from its metadata, or a magnet's btmh before it. */
  get v2Hash(): string | undefined {
    return this.info ? this.info.infoHashes.v2 : this.magnetV2Hash;
  }

  /** A v2-only torrent (it has no v1 swarm): known by its truncated v2 hash. */
  get v2Only(): boolean {
    return this.info ? this.info.infoHashes.v1 === undefined : this.magnetV2Hash !== undefined && this.infoHash === this.magnetV2Hash.slice(0, 40);
  }

  /**
   * The hash to dial peers with: the torrent's; but a hybrid that still lacks v2 piece layers dials its v2
   * swarm, since only a v2 connection may ask for them (an encrypted v1 one is never upgraded by libtorrent).
   */
  get dialHashBytes(): Uint8Array {
    const v2 = this.v2Hash;
    if (v2 === undefined || this.v2Only) return this.infoHashBytes;
    const needLayers = this.info ? this.hashes?.picker.needsPieceLayers() === true : true;
    return needLayers ? Buffer.from(v2.slice(0, 40), 'hex') : this.infoHashBytes;
  }

  /** BEP 52: a hybrid's second swarm (its truncated v2 hash), announced on the DHT beside its v1 hash. */
  get v2SwarmHash(): string | undefined {
    const v2 = this.v2Hash;
    return v2 !== undefined && !this.v2Only ? v2.slice(0, 40) : undefined;
  }

  /** A magnet's `xt=urn:btmh:` v2 hash (64 hex), until the metadata tells. */
  magnetV2Hash: string | undefined;

  /** BEP 52 hash messages with v2 peers; for a v2 or hybrid torrent, once the metadata is known. */
  hashes: HashExchange | null = null;
  /** BEP 19 web seeds; once the metadata is known and there is one (the URLs wait in pendingUrlSeeds until then). */
  private webSeeds: WebSeeds | null = null;
  private readonly pendingUrlSeeds: string[];
  /** BEP 17 HTTP seeds given when adding, until the metadata is known. */
  private readonly pendingHttpSeeds: string[];
  private readonly uploads: Uploads;
  /** BEP 9, both sides. */
  private readonly metadata: MetadataExchange;
  /** Per peer: counts its pieces once the metadata (and so the piece count) is known (see attachPeer). */
  private recount: Map<PeerConnection, () => void> | null = null;
  private lastStorageStats = { writeOps: 0, readOps: 0, blocksWritten: 0, blocksRead: 0, blocksHashed: 0 };
  private checkAbort: AbortController | null = null;
  /** Resume data to try once instead of hashing, at the first check. */
  private pendingResume: ResumeData | null;
  /** The data on disk has been checked (or trusted from resume data): only then does a bitfield mean anything. */
  private dataChecked = false;
  /** Something worth saving in resume data changed since the last save (libtorrent's need_save_resume). */
  needSaveResume = true;

  /*
   * What the jobs beside the torrent see of it. Classes (getters on a shared prototype, one field each), not
   * object literals: a literal with getters is a dictionary-mode object (~0.5 KB) plus a closure per member,
   * and with 50,000 torrents loaded those were ~3 KB of every torrent. Nested here, they may reach its
   * private parts as the closures did.
   */
  private static readonly UploadsView = class implements UploadTorrent {
    constructor(private readonly t: Torrent) {}
    get picker(): PiecePicker | null { return this.t.picker; }
    get layout(): FileLayout | null { return this.t.layout; }
    get storage(): TorrentStorage | null { return this.t.storage; }
    get closed(): boolean { return this.t.closed; }
    uploaded(index: number, offset: number, bytes: number): void {
      const t = this.t;
      t.totalPayloadUpload += t.pad === null ? bytes : bytes - t.pad.inRange(index, offset, bytes);
      t.lastUpload = Date.now();
    }
    readFailed(e: Error): void { this.t.setError(e); }
  };

  private static readonly MetadataView = class implements MetadataTorrent {
    constructor(private readonly t: Torrent) {}
    get infoHash(): string { return this.t.infoHash; }
    get v2Hash(): string | undefined { return this.t.magnetV2Hash; }
    get info(): TorrentInfo | null { return this.t.info; }
    get peers(): Iterable<PeerConnection> { return this.t.peers; }
    uploadAllowed(now: number): boolean { return this.t.uploads.notInDebt(now); }
    uploadSpent(bytes: number): void { this.t.uploads.consume(bytes); }
    received(info: TorrentInfo): void { this.t.onMetadata(info); }
    unusable(why: string): void {
      this.t.host.emit('torrent_error', { info_hash: this.t.infoHash, error: `bad metadata from a peer: ${why}` });
    }
  };

  private static readonly RequestsView = class implements RequestTorrent {
    constructor(private readonly t: Torrent) {}
    get paused(): boolean { return this.t.paused; }
    get sequential(): boolean { return this.t.sequential; }
    get diskBacklogged(): boolean { return this.t.assembly!.backlogged; }
    get peers(): Iterable<PeerConnection> { return this.t.peers; }
    limiterWake(): void { this.t.host.limiterWake(); }
  };

  private static readonly WebSeedsView = class implements WebSeedTorrent {
    /** Read at each request: a hybrid added by a btmh magnet changes its hash when the metadata arrives. */
    get infoHash(): Uint8Array { return this.t.infoHashBytes; }
    readonly files: readonly WebSeedFile[];
    readonly pieceLength: number;
    constructor(private readonly t: Torrent, readonly picker: PiecePicker, info: TorrentInfo) {
      this.files = info.files;
      this.pieceLength = info.pieceLength;
    }
    get deadlines(): PieceDeadlines { return this.t.requests!.deadlines; }
    get active(): boolean { const t = this.t; return !t.closed && !t.paused && !t.hasError && t.state === 'downloading'; }
    get backlogged(): boolean { return this.t.assembly!.backlogged; }
    block(seed: WebSeed, index: number, offset: number, data: Uint8Array): void { this.t.onWebSeedBlock(seed, index, offset, data); }
    changed(seed: WebSeed): void {
      this.t.host.emit('url_seed', { info_hash: this.t.infoHash, url: seed.url, state: seed.state, error: seed.error });
    }
  };

  private static readonly AssemblyView = class implements AssemblyListener {
    constructor(private readonly t: Torrent) {}
    pieceVerified(index: number, contributors: Contributor[]): void { this.t.pieceVerified(index, contributors); }
    pieceFailed(index: number, contributors: Contributor[], size: number): void { this.t.pieceFailed(index, contributors, size); }
    blocksFailed(index: number, bad: { block: number; peer: Contributor | undefined }[], bytes: number): void { this.t.blocksFailed(index, bad, bytes); }
    blockHashesWanted(index: number): boolean { return this.t.hashes?.wantBlockHashes(index) ?? false; }
    diskError(e: Error): void { this.t.setError(e); }
  };

  /**
   * Not from Buffer's shared pool: a 20-byte slice kept for the torrent's life would pin a whole 8 KB slab
   * of it (with 50,000 torrents restored, about 1 KB each).
   */
  private static hashBytesOf(hex: string): Uint8Array {
    const b = Buffer.alloc(20);
    b.set(Buffer.from(hex, 'hex'));
    return b;
  }

  /** The web seeds, made on the first one (the metadata is known). */
  private webSeedsOf(info: TorrentInfo): WebSeeds {
    return (this.webSeeds ??= new WebSeeds(new Torrent.WebSeedsView(this, this.picker!, info), { maxRedirects: 5, timeoutMs: 30_000 }));
  }

  constructor(
    private readonly host: TorrentHost,
    params: NormalizedAddParams,
    info: TorrentInfo | null,
    infoHash: string,
    readonly torrentBytes: Uint8Array | null,
    readonly displayName: string,
  ) {
    this.hashHex = infoHash;
    this.hashBytes = Torrent.hashBytesOf(infoHash);
    // The jobs see the torrent through small interfaces, not through the class.
    this.uploads = new Uploads(new Torrent.UploadsView(this), host);
    this.metadata = new MetadataExchange(new Torrent.MetadataView(this));
    this.savePath = params.save_path ?? host.settings.save_path;
    this.flags = params.flags;
    this.category = params.category ?? '';
    this.firstLastPiecePriority = params.first_last_piece_priority ?? false;
    this.tags = params.tags ?? [];
    this.uploadLimit = params.upload_limit;
    this.downloadLimit = params.download_limit;
    this.maxUploads = params.max_uploads;
    this.maxConnections = params.max_connections;
    this.addedTime = params.added_time ?? Math.floor(Date.now() / 1000);
    this.completedTime = params.completed_time ?? 0;
    this.priorDownload = params.total_downloaded;
    this.priorUpload = params.total_uploaded;
    this.pendingResume = params.resume ?? null;
    if (this.pendingResume) {
      this.activeBase = this.pendingResume.active_time;
      this.finishedBase = this.pendingResume.finished_time;
      this.seedingBase = this.pendingResume.seeding_time;
      if (this.pendingResume.share_limits) this.shareLimits = { ...this.pendingResume.share_limits };
      for (const [i, p] of this.pendingResume.renamed_files ?? []) this.renamedFiles.set(i, p);
    }
    if (params.share_limits) this.shareLimits = { ...this.shareLimits, ...params.share_limits };
    for (const p of params.peers) this.addKnownPeer(p.host, p.port);
    this.pendingUrlSeeds = [...params.url_seeds];
    this.pendingHttpSeeds = [...(params.http_seeds ?? [])];
    if (info) this.setMetadata(info, params.file_priorities, params.piece_priorities);
  }

  get name(): string {
    return this.info?.name ?? this.displayName;
  }
  /** Bytes/s, -1 = unlimited (libtorrent's upload_limit / download_limit). */
  get uploadLimit(): number {
    return this.uploadLimitValue;
  }
  set uploadLimit(v: number) {
    this.uploadLimitValue = v;
    this.uploads.limiter.setRate(v);
  }
  get downloadLimit(): number {
    return this.downloadLimitValue;
  }
  set downloadLimit(v: number) {
    this.downloadLimitValue = v;
    this.downLimiter.setRate(v);
    if (v <= 0 && this.requests?.throttled) this.limiterTick();
  }
  private uploadLimitValue = -1;
  private downloadLimitValue = -1;
  get paused(): boolean {
    return (this.flags & TORRENT_FLAGS.paused) !== 0;
  }
  get hasMetadata(): boolean {
    return this.info !== null;
  }
  get sequential(): boolean {
    return (this.flags & TORRENT_FLAGS.sequential_download) !== 0;
  }
  get isSeeding(): boolean {
    return this.state === 'seeding';
  }
  get isFinished(): boolean {
    return this.state === 'finished' || this.state === 'seeding';
  }
  get hasError(): boolean {
    return this.errorMessage !== '';
  }
  /** libtorrent's peer.num_banned_peers for this torrent. */
  get numBannedPeers(): number {
    return this.peerList.numBanned;
  }

  get activeSeconds(): number {
    return this.activeBase + this.runningSince(Date.now());
  }
  get finishedSeconds(): number {
    return this.finishedBase + (this.isFinished ? this.runningSince(Date.now()) : 0);
  }
  get seedingSeconds(): number {
    return this.seedingBase + (this.isSeeding ? this.runningSince(Date.now()) : 0);
  }

  /** Seconds since timesAt that count as running. */
  private runningSince(now: number): number {
    return this.paused || this.hasError ? 0 : Math.max(0, now - this.timesAt) / 1000;
  }

  /** Adds the time since timesAt to the counts, by the state as it is; called before the state, pause or error changes. */
  private settleTimes(): void {
    const now = Date.now();
    this.activeBase = this.activeSeconds;
    this.finishedBase = this.finishedSeconds;
    this.seedingBase = this.seedingSeconds;
    this.timesAt = now;
  }

  /** Payload totals including what resume data carried over from earlier sessions. */
  get allTimeDownload(): number {
    return this.priorDownload + this.totalPayloadDownload;
  }
  get allTimeUpload(): number {
    return this.priorUpload + this.totalPayloadUpload;
  }

  // DiscoveryTorrent: what trackers, the DHT, PEX and LSD read.
  get isPrivate(): boolean {
    return this.info?.private ?? false;
  }
  get uploaded(): number {
    return this.totalPayloadUpload;
  }
  get downloaded(): number {
    return this.totalPayloadDownload;
  }
  get left(): number {
    if (!this.picker) return 1;
    const d = this.doneBytes();
    return d.wanted - d.wantedDone;
  }
  addPeer(host: string, port: number, _source: PeerSource): void {
    if (this.closed) return;
    this.addKnownPeer(host, port);
    this.connectToPeers();
  }
  connectedPeers(): { host: string; port: number }[] {
    const out: { host: string; port: number }[] = [];
    for (const p of this.peers) if (p.listenPort > 0) out.push({ host: p.ip, port: p.listenPort });
    return out;
  }

  private setMetadata(info: TorrentInfo, filePriorities?: number[], piecePriorities?: number[]): void {
    const host = this.host;
    this.info = info;
    // Files renamed before (rename_file, kept in the resume data) keep their new names.
    const layout = this.layout = new FileLayout(info.files.map((f, i) => ({ ...f, path: this.renamedFiles.get(i) ?? f.path })), info.pieceLength);
    const picker = this.picker = new PiecePicker(info.numPieces, info.pieceLength, info.totalLength, BLOCK_SIZE);
    // Movable: move_storage swaps the back-end under the piece assembly while the torrent runs.
    const storage = this.storage = new MovableStorage(host.openStorage(this.savePath, layout), this.savePath, layout, (p, l) => host.openStorage(p, l));
    const pad = new PadBytes(layout);
    this.pad = pad.total > 0 ? pad : null;
    // Blocks wholly in padding are zeros by definition: never requested (libtorrent never asks for them).
    for (const piece of pad.pieces()) {
      if (piece >= picker.numPieces) continue;
      const blocks: number[] = [];
      for (let b = 0, nb = picker.blocksInPiece(piece); b < nb; b++) {
        const len = picker.blockLength(piece, b);
        if (pad.inRange(piece, b * BLOCK_SIZE, len) === len) blocks.push(b);
      }
      picker.setPadBlocks(piece, blocks);
    }
    this.requests = new BlockRequests(new Torrent.RequestsView(this), picker, host.counters, this.downLimiter, host.downLimiter, host.tcpDownLimiter);
    this.assembly = new PieceAssembly(
      { info, layout, picker, storage, diskIo: host.diskIo, bufferPool: host.bufferPool, counters: host.counters, pad: this.pad },
      new Torrent.AssemblyView(this),
    );
    this.hashes = info.v2
      ? new HashExchange({ v2: info.v2, peers: this.peers, hashesArrived: () => this.assembly?.rejudge() })
      : null;
    // Most torrents have none: no WebSeeds (and its maps) for them until one is added.
    for (const url of [...(info.urlList ?? []), ...this.pendingUrlSeeds]) this.webSeedsOf(info).add(url);
    for (const url of [...(info.httpSeeds ?? []), ...this.pendingHttpSeeds]) this.webSeedsOf(info).add(url, 'http');
    this.bitfield = new Uint8Array(Math.ceil(info.numPieces / 8));
    this.filePriorities = info.files.map((f, i) => (f.pad ? 0 : filePriorities?.[i] ?? 4));
    this.applyPiecePriorities(piecePriorities);
    host.counters.inc(M.ses_num_total_pieces_added, info.numPieces);
  }

  private applyPiecePriorities(piecePriorities?: number[]): void {
    const picker = this.picker!;
    const prios = this.layout!.piecePriorities(this.filePriorities);
    if (this.firstLastPiecePriority) boostFirstAndLastPieces(prios, this.layout!, this.filePriorities);
    if (piecePriorities) for (let i = 0; i < prios.length && i < piecePriorities.length; i++) prios[i] = piecePriorities[i]!;
    picker.setPiecePriorities(prios);
  }

  /**
   * libtorrent's move_storage: its files go to `savePath` while it runs (disk operations wait meanwhile); if
   * the move fails they stay where they were (move-storage.ts). Without metadata only the path changes.
   */
  async moveStorage(savePath: string): Promise<void> {
    if (this.movingStorage) throw new SpritzleError('invalid_state', 'the torrent is already moving its storage');
    const target = resolvePath(savePath);
    const storage = this.storage;
    if (!(storage instanceof MovableStorage)) {
      this.savePath = target;
      this.needSaveResume = true;
      return;
    }
    this.movingStorage = true;
    try {
      await storage.moveTo(target);
      this.savePath = target;
      this.needSaveResume = true;
      this.host.emit('storage_moved', { info_hash: this.infoHash, save_path: target });
    } catch (e) {
      this.host.emit('storage_moved_failed', { info_hash: this.infoHash, error: (e as Error).message });
      throw e;
    } finally {
      this.movingStorage = false;
    }
  }

  /**
   * libtorrent's rename_file: file `index` gets `newPath` (relative to the save path, "/"-separated) on disk
   * and in the file list, while the torrent runs; nothing is replaced. Saved with the resume data.
   */
  async renameFile(index: number, newPath: string): Promise<void> {
    const info = this.info;
    const storage = this.storage;
    if (!info || !this.layout || !(storage instanceof MovableStorage)) throw new SpritzleError('invalid_state', 'renaming a file needs the torrent metadata');
    if (!Number.isInteger(index) || index < 0 || index >= info.files.length || info.files[index]!.pad) {
      throw new SpritzleError('invalid_param', `file index ${index} is not one of the torrent's files`, { field: 'index' });
    }
    const parts = newPath.split(/[\\/]/).filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) throw new SpritzleError('invalid_param', `"${newPath.slice(0, 200)}" is not a relative file path`, { field: 'name' });
    const rel = parts.join(pathSep);
    resolveInside(this.savePath, rel); // throws invalid_path when it would leave the save path
    if (this.layout.files.some((f, i) => i !== index && f.path === rel)) throw new SpritzleError('invalid_param', `another file is already named ${rel}`, { field: 'name' });
    if (this.layout.files[index]!.path === rel) return;
    const layout = new FileLayout(this.layout.files.map((f, i) => ({ path: i === index ? rel : f.path, length: f.length, pad: f.pad })), info.pieceLength);
    await storage.renameFile(index, layout);
    this.layout = layout;
    this.renamedFiles.set(index, rel);
    this.needSaveResume = true;
    this.host.emit('file_renamed', { info_hash: this.infoHash, index, name: rel });
  }

  /** qBittorrent's first/last piece priority: each wanted file's first and last piece come first (previews). */
  setFirstLastPiecePriority(on: boolean): void {
    if (this.firstLastPiecePriority === on) return;
    this.firstLastPiecePriority = on;
    this.needSaveResume = true;
    if (this.picker) this.applyPiecePriorities();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Checks existing data (unless seed_mode), then starts downloading or seeding unless paused. */
  async start(): Promise<void> {
    // In error (added so, or failed): nothing happens until resume() clears it.
    if (this.hasError) return;
    if (!this.info) {
      this.setState('downloading_metadata');
      if (!this.paused) {
        this.discovery?.start();
        this.connectToPeers();
      }
      return;
    }
    await this.check();
    if (!this.paused && !this.closed && !this.hasError) {
      this.discovery?.start();
      this.connectToPeers();
      this.webSeeds?.pump();
    }
  }

  /** checking_resume_data → (checking_files) → downloading/finished/seeding: what is on disk becomes our pieces. */
  private async check(): Promise<void> {
    const info = this.info!;
    const picker = this.picker!;
    const storage = this.storage!;
    try {
      resolveInside(this.savePath, info.files[0]!.path);
    } catch (e) {
      this.setError(e as Error);
      return;
    }
    if (this.flags & TORRENT_FLAGS.seed_mode) {
      for (let i = 0; i < info.numPieces; i++) this.markHave(i);
      this.checkedPieces = info.numPieces;
      this.dataChecked = true;
      this.checkedState();
      return;
    }
    const resume = this.pendingResume;
    this.pendingResume = null;
    if (resume?.pieces) {
      const mismatch = fastResumeMismatch(info, resume, await this.storage!.fileStats());
      if (mismatch === null) {
        for (let i = 0; i < info.numPieces; i++) if (bitfieldHas(resume.pieces, i)) this.markHave(i);
        this.checkedPieces = info.numPieces;
        this.needSaveResume = false;
        this.dataChecked = true;
        this.checkedState();
        return;
      }
      this.host.emit('fastresume_rejected', { info_hash: this.infoHash, error: mismatch });
    }
    this.setState('checking_files');
    this.checkedPieces = 0;
    this.dataChecked = false;
    let aborted = false;
    try {
      if (await storage.hasAnyFile()) {
        this.checkAbort = new AbortController();
        const had = await storage.check(info.v2 ? v2PieceCheck(info.v2, info.pieceLength) : info.pieceHashes, {
          signal: this.checkAbort.signal,
          onPiece: () => {
            this.checkedPieces++;
          },
        });
        aborted = this.checkAbort.signal.aborted;
        this.checkAbort = null;
        if (this.closed) return;
        for (let i = 0; i < had.length; i++) {
          if (had[i]) this.markHave(i);
          else if (picker.have(i)) this.unmarkHave(i);
        }
      }
      this.checkedPieces = info.numPieces;
      this.dataChecked = !aborted;
      this.syncStorageCounters();
      this.host.emit('torrent_checked', { info_hash: this.infoHash });
    } catch (e) {
      // Out of checking_files: the error says why, the state what the torrent holds (nothing new was verified).
      this.checkAbort = null;
      this.setError(e as Error);
      this.updateFinishedState();
      return;
    }
    this.checkedState();
  }

  /** Fast-resume data for this torrent, as it is now (see ResumeData). Clears need_save_resume. */
  async resumeData(): Promise<ResumeData> {
    this.needSaveResume = false;
    const info = this.info;
    const r: ResumeData = {
      info_hash: this.infoHash,
      ...(this.v2Hash !== undefined ? { info_hash2: this.v2Hash } : {}),
      name: this.name,
      save_path: this.savePath,
      flags: this.flags,
      trackers: [],
      tracker_tiers: [],
      peers: this.peerList.addresses(200),
      added_time: this.addedTime,
      completed_time: this.completedTime,
      total_uploaded: this.allTimeUpload,
      total_downloaded: this.allTimeDownload,
      active_time: Math.floor(this.activeSeconds),
      finished_time: Math.floor(this.finishedSeconds),
      seeding_time: Math.floor(this.seedingSeconds),
      share_limits: { ...this.shareLimits },
      category: this.category,
      tags: [...this.tags],
      first_last_piece_priority: this.firstLastPiecePriority,
      ...(this.renamedFiles.size > 0 ? { renamed_files: [...this.renamedFiles] } : {}),
    };
    for (const t of this.discovery?.trackers() ?? []) {
      r.trackers.push(t.url);
      r.tracker_tiers.push(t.tier);
    }
    if (info) {
      r.info = info.infoBytes;
      const layers = encodePieceLayers(info);
      if (layers) r.piece_layers = layers;
      r.file_priorities = [...this.filePriorities];
    }
    // Before the first check finished, a bitfield would claim nothing is on disk: leave it out so the
    // next start checks the data instead of trusting an empty record.
    if (info && this.dataChecked) {
      // A piece counts only once it is on disk: the bitfield is taken before the file times, so a piece
      // written in between makes the times newer and the next start re-hashes rather than trusts.
      r.pieces = Uint8Array.from(this.bitfield);
      r.file_sizes = await this.storage!.fileStats();
    }
    return r;
  }

  /**
   * Stops the torrent. A user's pause takes it out of auto-management (libtorrent's pause()); the queue's
   * own pause keeps it auto-managed, so the queue starts it again when a slot frees (it is "queued").
   */
  pause(keepAutoManaged = false): void {
    if (this.paused) return;
    this.settleTimes();
    this.flags = (this.flags | TORRENT_FLAGS.paused) & (keepAutoManaged ? ~0 : ~TORRENT_FLAGS.auto_managed);
    this.needSaveResume = true;
    this.checkAbort?.abort();
    for (const peer of [...this.peers]) peer.close('torrent paused');
    this.webSeeds?.stopAll();
    this.discovery?.stop();
    // A paused torrent holds no descriptor (libtorrent releases its files too); a handle in use closes when released.
    void this.storage?.close();
    this.host.emit('torrent_paused', { info_hash: this.infoHash });
  }

  resume(): void {
    if (!this.paused && !this.hasError) return;
    this.settleTimes();
    this.flags &= ~TORRENT_FLAGS.paused;
    this.needSaveResume = true;
    const wasError = this.hasError;
    this.errorMessage = '';
    this.errorFile = -1;
    this.errorIsTransient = false;
    this.peerList.resetAttempts();
    this.host.emit('torrent_resumed', { info_hash: this.infoHash });
    if (wasError || this.state === 'checking_files' || this.state === 'checking_resume_data') {
      void this.start();
    } else {
      this.discovery?.start();
      this.connectToPeers();
      this.webSeeds?.pump();
    }
  }

  /** Re-hashes all data on disk; the torrent then continues from what is really there. */
  async forceRecheck(): Promise<void> {
    if (!this.info) throw new SpritzleError('invalid_state', 'the torrent has no metadata yet; nothing to check');
    for (const peer of [...this.peers]) peer.close('recheck');
    this.uploads.close(); // what is on disk may have changed
    this.peerList.resetAttempts();
    this.settleTimes();
    this.flags &= ~TORRENT_FLAGS.seed_mode;
    this.errorMessage = '';
    this.errorFile = -1;
    this.errorIsTransient = false;
    await this.check();
    if (!this.paused && !this.closed && !this.hasError) this.connectToPeers();
  }

  async close(deleteFiles: boolean): Promise<void> {
    this.closed = true;
    this.checkAbort?.abort();
    for (const peer of [...this.peers]) peer.close('torrent removed');
    this.webSeeds?.stopAll();
    this.uploads.close();
    this.assembly?.close();
    this.syncStorageCounters();
    this.requests?.syncCounters();
    await this.discovery?.close();
    if (this.storage) {
      await this.storage.close();
      if (deleteFiles) await this.storage.deleteFiles();
    }
  }

  private setState(state: TorrentState): void {
    if (this.state === state) return;
    this.settleTimes();
    const prev = this.state;
    this.state = state;
    this.host.emit('state_changed', { info_hash: this.infoHash, state, prev_state: prev });
  }

  setError(e: Error): void {
    // Out of descriptors is the process's state, not this torrent's fault: it says so and is retried.
    const transient = isOutOfDescriptors(e) && this.host.outOfDescriptors !== undefined;
    this.settleTimes();
    this.errorMessage = transient ? `${e.message}; retried when file descriptors free up` : e.message;
    this.errorFile = e instanceof FileError ? e.file : -1;
    this.errorIsTransient = transient;
    for (const peer of [...this.peers]) peer.close('torrent error');
    this.uploads.close();
    // A torrent in error holds no descriptor either.
    void this.storage?.close();
    if (transient) this.host.outOfDescriptors!(this);
    this.host.emit('torrent_error', { info_hash: this.infoHash, error: this.errorMessage });
  }

  /**
   * The session's retry of a torrent that erred for want of file descriptors: the error clears and the torrent
   * carries on where it was (checking again only if its data was not checked yet); if descriptors are still
   * short it errs again and the session backs off further. Nothing to do if it was resumed or erred otherwise since.
   */
  retryAfterOutOfDescriptors(): void {
    if (this.closed || !this.hasError || !this.errorIsTransient) return;
    this.settleTimes();
    this.errorMessage = '';
    this.errorFile = -1;
    this.errorIsTransient = false;
    this.peerList.resetAttempts();
    if (!this.dataChecked && this.info) {
      void this.start();
    } else if (!this.paused) {
      this.discovery?.start();
      this.connectToPeers();
    }
  }

  /**
   * The state once checking is over. Data found complete is a finished download too (libtorrent posts
   * torrent_finished_alert from files_checked): a program waiting for torrent_finished does not hang
   * because the data was already there.
   */
  private checkedState(): void {
    this.updateFinishedState();
    if (this.isFinished) this.host.emit('torrent_finished', { info_hash: this.infoHash });
  }

  private updateFinishedState(): void {
    const picker = this.picker!;
    if (picker.isSeed()) this.setState('seeding');
    else if (picker.isFinished()) this.setState('finished');
    else this.setState('downloading');
  }

  // ---------------------------------------------------------------- pieces we have

  private markHave(piece: number): void {
    if (this.picker!.have(piece)) return;
    this.picker!.setHave(piece);
    this.bitfield[piece >> 3]! |= 0x80 >> (piece & 7);
  }

  private unmarkHave(piece: number): void {
    this.picker!.clearHave(piece);
    this.bitfield[piece >> 3]! &= ~(0x80 >> (piece & 7));
  }

  // ---------------------------------------------------------------- peers

  /** Remembers a peer to dial; `now` (an explicit connect) dials it at the next chance, backoff or not. */
  addKnownPeer(host: string, port: number, now = false): void {
    this.peerList.add(host, port, now);
    this.host.wake?.(this);
  }

  /** An explicit connect: the address is dialled at the next chance, backoff or not. */
  connectPeer(host: string, port: number): void {
    this.peerList.add(host, port, true);
    this.connectToPeers();
  }

  /** Dial known peers we are not connected to, within the limits. */
  connectToPeers(): void {
    if (this.closed || this.paused || this.hasError) return;
    if (this.state === 'checking_files' || this.state === 'checking_resume_data') return;
    this.peerList.dialCandidates(
      { connections: this.peers.size, maxConnections: this.maxConnections, seeding: this.isSeeding, minReconnectTime: this.host.settings.min_reconnect_time },
      Date.now(),
      (host, port, plaintext) => this.host.connect(this, host, port, plaintext),
    );
  }

  /** The session's dial ended without a usable connection (`handshake`: it failed in the handshake). */
  connectFailed(host: string, port: number, skip: boolean, handshake?: HandshakeFailure): void {
    this.peerList.dialFailed(host, port, skip, handshake);
    this.host.wake?.(this); // its next dial is due later: the session schedules it
  }

  isBanned(ip: string, port: number, peerId: string): boolean {
    return this.peerList.isBanned(ip, port, peerId);
  }

  peerById(peerId: string): PeerConnection | undefined {
    for (const p of this.peers) if (p.peerId === peerId) return p;
    return undefined;
  }

  /** A connection whose handshake checked out joins the torrent: its wire events are wired to the jobs. */
  attachPeer(peer: PeerConnection): void {
    if (peer.direction === 'outgoing') this.peerList.connected(peer.ip, peer.port, peer.encryption !== 'none');
    this.peers.add(peer);
    peer.maxOutQueue = this.host.settings.max_out_request_queue;
    const now = Date.now();
    peer.lastMessageAt = now;
    peer.lastPayloadAt = now;
    // The peer's pieces are in the picker's availability: as a bitfield (counted) or as a seed (countedSeed).
    let counted = false;
    let countedSeed = false;
    let peerHave = 0;
    const numPieces = (): number => this.info?.numPieces ?? 0;
    if (this.info) peer.setPieceCount(this.info.numPieces);

    const onPeerPiecesChanged = (): void => {
      if (this.picker && !peer.isSeed && peerHave >= numPieces()) {
        peer.isSeed = true;
        this.lastSeenComplete = Math.floor(Date.now() / 1000);
      }
      this.updateInterest(peer);
      if (peer.isSeed && this.isSeeding) peer.close('both are seeds');
    };
    const countBitfield = (): void => {
      if (!this.picker) return;
      this.picker.addPeerPieces(peer.pieces);
      counted = true;
      peerHave = 0;
      const n = numPieces();
      for (let i = 0; i < n; i++) if (peer.pieces.get(i)) peerHave++;
    };
    const countSeed = (): void => {
      countedSeed = true;
      this.picker!.addSeed();
      peerHave = numPieces();
    };

    peer.listener = {
      bitfield: () => {
        countBitfield();
        onPeerPiecesChanged();
        this.hashes?.request(peer);
      },
      haveAll: () => {
        peer.isSeed = true;
        if (!this.picker) return;
        countSeed();
        onPeerPiecesChanged();
        this.hashes?.request(peer);
      },
      haveNone: () => undefined,
      have: (index: number) => {
        // The codec has checked the index against the piece count.
        const requests = this.requests;
        if (!requests || countedSeed) return;
        counted = true;
        this.picker!.addPeerHave(index);
        peerHave++;
        if (peerHave >= numPieces()) onPeerPiecesChanged();
        else if (!peer.amInterested && requests.wants(index)) peer.interested();
        if (!peer.peerChoking && peer.amInterested) requests.request(peer, undefined, 'interesting');
      },
      unchoke: () => this.requests?.request(peer, undefined, 'unchoke'),
      choke: () => {
        // Without the fast extension a choke drops every request; with it, rejects will follow.
        if (!peer.hasFast) this.requests?.abortAll(peer, false);
      },
      reject: (index: number, offset: number) => {
        if (this.requests) this.requests.rejected(peer, index, offset);
        else this.host.counters.inc(M.peer_piece_rejects);
      },
      piece: (index: number, offset: number, buf: Uint8Array) => this.onBlock(peer, index, offset, buf),
      request: (index: number, offset: number, length: number) => this.uploads.request(peer, index, offset, length),
      interested: () => this.host.requestRechoke(),
      notInterested: () => this.host.requestRechoke(),
      extendedHandshake: () => {
        if (!this.info) this.metadata.fetch(peer);
      },
      metadata: (payload: Uint8Array) => this.metadata.onMessage(peer, payload),
      hashRequest: (root, base, index, count, proofLayers) => {
        if (this.hashes) this.hashes.onRequest(peer, root, base, index, count, proofLayers);
        else peer.sendHashMessage(MSG.hashReject, root, base, index, count, proofLayers);
      },
      hashes: (root, base, index, count, proofLayers, hashes) => this.hashes?.onHashes(peer, root, base, index, count, proofLayers, hashes),
      hashReject: (root, base, index, count, proofLayers) => this.hashes?.onReject(peer, root, base, index, count, proofLayers),
    };

    // A magnet's peers announce their pieces before we know how many there are: count them once we do.
    (this.recount ??= new Map()).set(peer, () => {
      peer.setPieceCount(numPieces());
      if (peer.closed || !this.picker || countedSeed || counted) return;
      if (peer.isSeed) countSeed();
      else countBitfield();
      onPeerPiecesChanged();
    });
    peer.onClose = () => this.detachPeer(peer, counted, countedSeed);
    this.host.emit('peer_connected', {
      info_hash: this.infoHash, ip: peer.ip, port: peer.port, peer_id: peer.peerId, direction: peer.direction,
    });
    if (this.picker) peer.sendPieces(this.bitfield, this.picker.numHave, this.picker.numPieces);
  }

  private detachPeer(peer: PeerConnection, counted: boolean, countedSeed: boolean): void {
    if (!this.peers.delete(peer)) return;
    this.recount?.delete(peer);
    this.uploads.peerLeft(peer);
    this.hashes?.peerGone(peer);
    this.host.counters.inc(M.peer_disconnected_peers);
    this.requests?.abortAll(peer, false);
    if (this.picker) {
      if (countedSeed) this.picker.removeSeed();
      else if (counted) this.picker.removePeerPieces(peer.pieces);
    }
    this.metadata.peerLeft(peer);
    this.peerList.disconnected(peer.ip, peer.port, Date.now(), peer.isSeed);
    this.totalDownload += peer.transport.bytesRead;
    this.totalUpload += peer.transport.bytesWritten;
    this.host.emit('peer_disconnected', { info_hash: this.infoHash, ip: peer.ip, port: peer.port, reason: peer.closeReason });
    this.host.requestRechoke();
  }

  /** Interested iff the peer has a piece we want and lack. */
  private updateInterest(peer: PeerConnection): void {
    this.requests?.updateInterest(peer);
  }

  // ---------------------------------------------------------------- downloading (hot path)

  private onBlock(peer: PeerConnection, index: number, offset: number, buf: Uint8Array): void {
    const c = this.host.counters;
    const len = buf.length;
    c.inc(M.ses_num_incoming_piece);
    const now = Date.now();
    peer.lastMessageAt = now;
    const requests = this.requests;
    const id = requests ? requests.accept(peer, index, offset, len) : unsolicitedBlock(peer, c, len);
    if (id < 0) {
      if (id === BLOCK_REDUNDANT) this.totalRedundantBytes += len;
      return;
    }
    const picker = this.picker!;
    peer.lastBlockAt = now;
    peer.lastPayloadAt = now;
    peer.downloadedPayload += len;
    peer.downloadedInTick += len;
    peer.downloadedInRound += len;
    peer.onBlockReceived();
    peer.snubbed = false;
    // Pad files' bytes (BEP 47) are not the user's payload.
    const payload = this.pad === null ? len : len - this.pad.inRange(index, offset, len);
    c.inc(M.net_recv_payload_bytes, payload);
    this.totalPayloadDownload += payload;
    this.lastDownload = now;

    if (!picker.markReceived(id)) {
      c.inc(M.net_recv_redundant_bytes, len);
      c.inc(M.ses_waste_piece_end_game, len);
      this.totalRedundantBytes += len;
      requests!.request(peer, now, 'incoming_redundant');
      return;
    }
    requests!.cancelElsewhere(peer, id, index, offset, len);
    this.assembly!.add(peer, index, offset, buf);
    requests!.request(peer, now, 'incoming');
  }

  /** A block from a web seed: counted as payload, then into its piece like a peer's (verified by hash). */
  private onWebSeedBlock(seed: WebSeed, index: number, offset: number, buf: Uint8Array): void {
    const c = this.host.counters;
    const len = buf.length;
    const picker = this.picker;
    const requests = this.requests;
    if (this.closed || !picker || !requests) return;
    c.inc(M.net_recv_bytes, len);
    c.inc(M.net_recv_payload_bytes, len);
    this.totalDownload += len;
    this.totalPayloadDownload += len;
    this.lastDownload = Date.now();
    const id = requests.blockId(index, offset);
    if (id < 0 || !picker.markReceived(id)) {
      c.inc(M.net_recv_redundant_bytes, len);
      this.totalRedundantBytes += len;
      return;
    }
    requests.cancelElsewhere(null, id, index, offset, len);
    this.assembly!.add(seed, index, offset, buf);
  }

  private pieceVerified(index: number, contributors: Contributor[]): void {
    if (this.closed) return;
    const c = this.host.counters;
    this.markHave(index);
    this.requests!.deadlines.pieceDone(index);
    c.inc(M.ses_num_piece_passed);
    this.needSaveResume = true;
    for (const p of contributors) p.trust = Math.min(8, p.trust + 1);
    for (const p of this.peers) p.have(index);
    this.host.emit('piece_finished', { info_hash: this.infoHash, piece_index: index });
    if (this.picker!.isFinished()) this.onFinished();
    else if (this.assembly!.pendingDiskBytes <= MAX_PENDING_DISK_BYTES) {
      // Peers may have idled on disk back-pressure.
      for (const p of this.peers) if (p.outstanding.size === 0) this.requests!.request(p);
      this.webSeeds?.pump();
    }
  }

  /** Smart-ban: libtorrent's trust rule over the peers that sent a piece which failed its hash. */
  private pieceFailed(index: number, contributors: Contributor[], size: number): void {
    const c = this.host.counters;
    this.picker!.pieceFailed(index);
    c.inc(M.ses_num_piece_failed);
    c.inc(M.net_recv_failed_bytes, size);
    this.totalFailedBytes += size;
    this.host.emit('hash_failed', { info_hash: this.infoHash, piece_index: index });
    // libtorrent's rule: -2 trust per failure; a peer that alone sent a bad piece, or whose trust fell to
    // -7, is banned.
    for (const p of contributors) {
      if (p instanceof WebSeed) {
        this.webSeeds?.hashFailed(p, index);
        continue;
      }
      p.trust -= 2;
      p.onParole = true;
      if (contributors.length === 1 || p.trust <= -7) this.ban(p, 'sent data that failed the hash check');
    }
  }

  /**
   * BEP 52: only these blocks failed their hashes. Each was sent by one peer alone, so that peer is banned
   * (libtorrent bans the sender of a block that fails its hash); the rest of the piece is kept and only
   * these blocks are fetched again.
   */
  private blocksFailed(index: number, bad: { block: number; peer: Contributor | undefined }[], bytes: number): void {
    const c = this.host.counters;
    this.picker!.blocksFailed(index, bad.map((b) => b.block));
    c.inc(M.ses_num_piece_failed);
    c.inc(M.net_recv_failed_bytes, bytes);
    this.totalFailedBytes += bytes;
    this.host.emit('hash_failed', { info_hash: this.infoHash, piece_index: index });
    for (const { peer } of bad) {
      if (peer instanceof WebSeed) this.webSeeds?.hashFailed(peer, index);
      else if (peer) this.ban(peer, 'sent a block that failed its hash');
    }
    for (const p of this.peers) if (!p.closed && p.outstanding.size === 0) this.requests?.request(p);
  }

  private ban(peer: PeerConnection, reason: string): void {
    // Pieces already in flight from a banned peer fail too; it is banned once.
    if (!this.peerList.ban(peer.ip, peer.port, peer.peerId)) return;
    this.host.counters.inc(M.peer_banned_for_hash_failure);
    this.host.emit('peer_banned', { info_hash: this.infoHash, ip: peer.ip, port: peer.port, reason });
    peer.close(`banned: ${reason}`);
  }

  private onFinished(): void {
    this.completedTime ||= Math.floor(Date.now() / 1000);
    this.storage?.createEmptyFiles?.().catch((e: Error) => this.setError(e));
    this.updateFinishedState();
    for (const p of [...this.peers]) {
      if (p.isSeed && this.isSeeding) p.close('both are seeds');
      else p.notInterested();
    }
    this.discovery?.completed();
    this.host.emit('torrent_finished', { info_hash: this.infoHash });
  }

  // ---------------------------------------------------------------- bandwidth

  /** Bandwidth came back: serve queued uploads and re-request where downloads were held back. Returns true while work waits. */
  limiterTick(): boolean {
    const uploadsWait = this.uploads.limiterTick();
    this.requests?.unthrottle();
    return uploadsWait || (this.requests?.throttled ?? false);
  }

  /** Queued uploads and throttled downloads, for the net.limiter_* gauges. */
  limiterState(): { upQueue: number; upBytes: number; downThrottled: boolean } {
    const q = this.uploads.queued();
    return { upQueue: q.requests, upBytes: q.bytes, downThrottled: this.requests?.throttled ?? false };
  }

  // ---------------------------------------------------------------- metadata (BEP 9)

  /** Called by the session for every connection of this torrent, before our handshakes go out. */
  useExtensions(peer: PeerConnection): void {
    this.discovery?.attachWire(peer, { ip: peer.ip, port: peer.port });
    // BEP 9: the size of the info dictionary we serve (the exact bytes we hashed).
    if (this.info) peer.extendedHandshake.metadata_size = this.info.infoBytes.length;
  }

  /** The metadata, verified and parsed (off the event loop when big) by the MetadataExchange. */
  private onMetadata(info: TorrentInfo): void {
    if (this.info || this.closed) return;
    try {
      // A hybrid's metadata may come from a v2 swarm (a btmh magnet) or a v1 one: either hash names it.
      if (!matchesInfoHash(info.infoHashes, this.infoHash)) throw new Error('metadata does not match the info-hash');
      if (!this.adoptInfoHash(info)) return;
      this.metadata.done();
      this.setMetadata(info);
      this.discovery?.metadataReceived(info.announce);
      this.host.emit('metadata_received', { info_hash: this.infoHash, name: info.name });
      const peers = [...this.peers];
      void this.start().then(() => {
        for (const p of peers) {
          if (p.closed) continue;
          this.recount?.get(p)?.();
          if (p.closed) continue;
          p.sendPieces(this.bitfield, this.picker!.numHave, this.picker!.numPieces);
          this.updateInterest(p);
          this.hashes?.request(p); // a magnet's v2 piece layers
        }
      });
    } catch (e) {
      this.host.emit('torrent_error', { info_hash: this.infoHash, error: `bad metadata from a peer: ${(e as Error).message}` });
    }
  }

  /**
   * A hybrid added by its v2 hash alone (a btmh-only magnet) is known by its truncated v2 hash until the
   * metadata shows its v1 hash; then it is known by that one, as libtorrent's get_best() says, and enters the
   * v1 swarm too (libtorrent's torrent_update_alert). The old hash keeps naming it. False: another torrent of
   * the session holds the v1 hash already, and this one stops with duplicate_torrent.
   */
  private adoptInfoHash(info: TorrentInfo): boolean {
    const from = this.hashHex;
    const to = info.infoHash;
    if (to === from) return true;
    if (this.host.renameTorrent?.(this, from, to) === false) {
      this.setError(new SpritzleError('duplicate_torrent', `its metadata shows v1 info-hash ${to}, a torrent already in the session (remove one of the two)`));
      return false;
    }
    this.hashHex = to;
    this.hashBytes = Torrent.hashBytesOf(to);
    this.needSaveResume = true;
    this.host.emit('torrent_update', { info_hash: to, old_info_hash: from, info_hashes: { v1: info.infoHashes.v1 ?? '', v2: info.infoHashes.v2 ?? '' } });
    this.discovery?.infoHashChanged();
    return true;
  }

  // ---------------------------------------------------------------- periodic work

  /** Once a second: rates, timeouts, snubbing, queue sizes, dialling. */
  tick(now: number, seconds: number): void {
    if (this.closed) return;
    // Hash requests unanswered past their retry time go to peers again.
    this.hashes?.requestAll(now);
    const s = this.host.settings;
    const c = this.host.counters;
    const requests = this.requests;
    let down = 0, up = 0, downAll = 0, upAll = 0;
    for (const peer of this.peers) {
      peer.tick(seconds);
      down += peer.downloadRate;
      up += peer.uploadRate;
      downAll += peer.downloadRateAll;
      upAll += peer.uploadRateAll;
      if (now - peer.lastMessageAt > s.peer_timeout * 1000) {
        c.inc(M.peer_timeout_peers);
        peer.close('peer timed out');
        continue;
      }
      if (!peer.amInterested && !peer.peerInterested && now - peer.lastPayloadAt > s.inactivity_timeout * 1000) {
        c.inc(M.peer_timeout_peers);
        peer.close('inactive');
        continue;
      }
      if (peer.outstanding.size > 0 && !peer.snubbed &&
          now - Math.max(peer.lastBlockAt, peer.lastRequestAt) > s.piece_timeout * 1000) {
        // Snubbed: its requests go back to the picker for others; it keeps one request at a time.
        peer.snubbed = true;
        requests?.abortAll(peer, true);
      }
      peer.maxOutQueue = s.max_out_request_queue;
      peer.updateQueueTarget(s.request_queue_time, BLOCK_SIZE);
      if (requests && peer.outstanding.size < peer.queueTarget) requests.request(peer, undefined, peer.snubbed ? 'snubbed' : undefined);
    }
    this.downloadPayloadRate = down;
    this.uploadPayloadRate = up;
    this.downloadRate = downAll;
    this.uploadRate = upAll;
    this.syncStorageCounters();
    requests?.syncCounters();
    this.webSeeds?.tick(now, seconds);
    this.connectToPeers();
  }

  /**
   * When the session's tick next has something to do for this torrent (libtorrent's want_tick): now while
   * it has peers, checks its data, fetches from web seeds or may reach a share limit; when its next peer
   * address may be dialled; never (Infinity) when it is paused, in error, or runs with nobody to talk to.
   * Such a torrent costs nothing per second; whatever changes that wakes it (host.wake, or an event).
   */
  wantsTickAt(now: number): number {
    if (this.closed) return Number.POSITIVE_INFINITY;
    if (this.peers.size > 0) return now;
    // Before checking: one in error never started checking and stays in checking_resume_data until resumed.
    if (this.paused || this.hasError) return Number.POSITIVE_INFINITY;
    if (this.state === 'checking_files' || this.state === 'checking_resume_data') return now;
    if (this.state === 'downloading' && (this.webSeeds?.size ?? 0) > 0) return now;
    const l = this.shareLimits;
    if (this.isSeeding && (l.ratio_limit >= 0 || l.seeding_time_limit >= 0 || l.inactive_seeding_time_limit >= 0)) return now;
    if (this.maxConnections === 0) return Number.POSITIVE_INFINITY;
    return this.peerList.nextDialAt(this.isSeeding, this.host.settings.min_reconnect_time);
  }

  /** Moves storage operation counts into the disk.* counters (storage counts on its own, without the session). */
  syncStorageCounters(): void {
    const st = this.storage?.stats;
    if (!st) return;
    const c = this.host.counters;
    const last = this.lastStorageStats;
    c.inc(M.disk_num_write_ops, st.writeOps - last.writeOps);
    c.inc(M.disk_num_read_ops, st.readOps - last.readOps);
    c.inc(M.disk_num_blocks_written, st.blocksWritten - last.blocksWritten);
    c.inc(M.disk_num_blocks_read, st.blocksRead - last.blocksRead);
    c.inc(M.disk_num_blocks_hashed, st.blocksHashed - last.blocksHashed);
    this.lastStorageStats = { ...st };
  }

  // ---------------------------------------------------------------- queries and settings

  setFilePriorities(priorities: number[]): void {
    if (!this.info) throw new SpritzleError('invalid_state', 'file priorities need the torrent metadata');
    if (priorities.length > this.info.files.length) {
      throw new SpritzleError('invalid_param', `file_priorities has ${priorities.length} entries for ${this.info.files.length} files`, { field: 'file_priorities' });
    }
    this.filePriorities = this.info.files.map((f, i) => (f.pad ? 0 : priorities[i] ?? this.filePriorities[i] ?? 4));
    this.needSaveResume = true;
    this.applyPiecePriorities();
    if (this.state === 'checking_files' || this.state === 'checking_resume_data') return;
    const wasFinished = this.isFinished;
    this.updateFinishedState();
    if (!wasFinished && this.isFinished) this.onFinished();
    for (const p of this.peers) this.updateInterest(p);
    if (wasFinished && !this.isFinished) this.connectToPeers();
  }

  /**
   * libtorrent's set_piece_deadline: the piece is wanted within `at` (a Date.now() time) by `owner`, so
   * it is requested before others, from the fastest peers. A piece of a skipped file becomes wanted
   * (priority 1) so that it can be fetched.
   */
  setPieceDeadline(owner: DeadlineOwner, piece: number, at: number): void {
    this.setPieceDeadlines(owner, new Map([[piece, at]]), false, true);
  }

  /**
   * Replaces `owner`'s deadlines with these (a reader's window), or adds them when `replace` is false.
   * `urgent` (a seek, a reader waiting): requests queued deep at the peers are cancelled so the critical
   * blocks come first.
   */
  setPieceDeadlines(owner: DeadlineOwner, deadlines: ReadonlyMap<number, number>, replace = true, urgent = false): void {
    const picker = this.picker;
    const requests = this.requests;
    if (!picker || !requests) throw new SpritzleError('invalid_state', 'piece deadlines need the torrent metadata');
    let newlyWanted = false;
    for (const piece of deadlines.keys()) {
      if (!Number.isInteger(piece) || piece < 0 || piece >= picker.numPieces) {
        throw new SpritzleError('invalid_param', `piece ${piece} is not in 0..${picker.numPieces - 1}`, { field: 'piece' });
      }
    }
    for (const piece of deadlines.keys()) {
      if (picker.have(piece) || picker.piecePriority(piece) > 0) continue;
      picker.setPiecePriority(piece, 1);
      newlyWanted = true;
    }
    if (replace) requests.deadlines.replace(owner, deadlines);
    else for (const [piece, at] of deadlines) if (!picker.have(piece)) requests.deadlines.set(owner, piece, at);
    if (newlyWanted && this.state !== 'checking_files' && this.state !== 'checking_resume_data') {
      const wasFinished = this.isFinished;
      this.updateFinishedState();
      for (const p of this.peers) this.updateInterest(p);
      if (wasFinished) this.connectToPeers();
    }
    requests.requestCritical(urgent, owner);
  }

  /** libtorrent's reset_piece_deadline: the piece goes back to the normal order. */
  resetPieceDeadline(owner: DeadlineOwner, piece: number): void {
    this.requests?.deadlines.reset(owner, piece);
  }

  /** libtorrent's clear_piece_deadlines, for one owner (a reader, or the handle's user). */
  clearPieceDeadlines(owner: DeadlineOwner): void {
    this.requests?.deadlines.clearOwner(owner);
  }

  /** The effective deadline of a piece (the earliest any owner set), undefined when it has none. */
  pieceDeadline(piece: number): number | undefined {
    return this.requests?.deadlines.deadline(piece);
  }

  /** Its web seeds with state and rates (BEP 19). */
  webSeedInfo(): WebSeedInfo[] {
    if (this.webSeeds) return this.webSeeds.list();
    const pending = (url: string, type: 'url' | 'http'): WebSeedInfo => ({
      url, type, state: 'idle', error: '', failures: 0, total_download: 0, download_rate: 0, retry_at: 0,
    });
    return [...this.pendingUrlSeeds.map((u) => pending(u, 'url')), ...this.pendingHttpSeeds.map((u) => pending(u, 'http'))];
  }

  /** libtorrent's add_url_seed. */
  addUrlSeed(url: string): void {
    if (this.info) this.webSeedsOf(this.info).add(url);
    else if (!this.pendingUrlSeeds.includes(url)) this.pendingUrlSeeds.push(url);
  }

  /** libtorrent's remove_url_seed; false if it was not there. */
  removeUrlSeed(url: string): boolean {
    const i = this.pendingUrlSeeds.indexOf(url);
    if (i >= 0) this.pendingUrlSeeds.splice(i, 1);
    return (this.webSeeds?.remove(url) ?? false) || i >= 0;
  }

  /** Reads verified data (a reader's bytes); throws disk_error if it is not there. */
  readPiece(piece: number, offset: number, length: number): Promise<Uint8Array> {
    if (!this.storage) throw new SpritzleError('invalid_state', 'the torrent has no metadata yet');
    return this.storage.read(piece, offset, length);
  }

  setUploadLimit(bytesPerSecond: number): void {
    this.uploadLimit = bytesPerSecond;
  }

  setDownloadLimit(bytesPerSecond: number): void {
    this.downloadLimit = bytesPerSecond;
  }

  setMaxUploads(n: number): void {
    this.maxUploads = n;
  }

  setMaxConnections(n: number): void {
    this.maxConnections = n;
  }

  setCategory(name: string): void {
    this.category = name;
    this.needSaveResume = true;
    this.host.emit('torrent_labels_changed', { info_hash: this.infoHash, changed: 'category' });
  }

  setTags(tags: readonly string[]): void {
    this.tags = [...tags];
    this.needSaveResume = true;
    this.host.emit('torrent_labels_changed', { info_hash: this.infoHash, changed: 'tags' });
  }

  setShareLimits(limits: TorrentShareLimits): void {
    this.shareLimits = { ...limits };
    this.needSaveResume = true;
    this.host.emit('torrent_labels_changed', { info_hash: this.infoHash, changed: 'share_limits' });
  }

  setFlag(flag: number, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
    this.needSaveResume = true;
  }

  files(): FileInfo[] {
    if (!this.layout || !this.picker) return [];
    const picker = this.picker;
    const done = this.layout.fileProgress((p) => picker.have(p));
    return this.layout.files.map((f, i) => ({
      index: i, path: f.path, size: f.length, offset: f.offset, bytes_done: done[i] ?? 0,
      progress: f.length === 0 ? 1 : (done[i] ?? 0) / f.length, priority: this.filePriorities[i] ?? 4, pad: f.pad,
    }));
  }

  peerInfo(): PeerInfo[] {
    const n = this.info?.numPieces ?? 0;
    return [...this.peers].map((p) => {
      let have = 0;
      if (p.isSeed) have = n;
      else for (let i = 0; i < n; i++) if (p.pieces.get(i)) have++;
      // E / e: RC4-encrypted / MSE with a plaintext payload (libtorrent client_test's letters).
      const flags = (p.amInterested ? 'i' : '') + (p.peerInterested ? 'I' : '') + (p.peerChoking ? 'c' : '') +
        (p.amChoking ? 'C' : '') + (p.snubbed ? 's' : '') + (p.optimistic ? 'o' : '') + (p.isSeed ? 'S' : '') +
        (p.encryption === 'rc4' ? 'E' : p.encryption === 'plaintext' ? 'e' : '');
      return {
        ip: p.ip, port: p.port, client: p.client, peer_id: p.peerId, direction: p.direction, transport: isUtp(p.transport) ? 'utp' : 'tcp', flags,
        rc4_encrypted: p.encryption === 'rc4', plaintext_encrypted: p.encryption === 'plaintext',
        progress: n ? have / n : 0, down_speed: Math.round(p.downloadRate), up_speed: Math.round(p.uploadRate),
        total_download: p.downloadedPayload, total_upload: p.uploadedPayload, num_pieces: have, queue: p.outstanding.size,
      };
    });
  }

  connections(): ConnectionsView {
    const v: ConnectionsView = { connections: this.peers.size, seeds: 0, uploads: 0, hasIncoming: false, bytesRead: 0, bytesWritten: 0 };
    for (const p of this.peers) {
      v.bytesRead += p.transport.bytesRead;
      v.bytesWritten += p.transport.bytesWritten;
      if (p.isSeed) v.seeds++;
      if (!p.amChoking) v.uploads++;
      if (p.direction === 'incoming') v.hasIncoming = true;
    }
    return v;
  }

  /** Bytes of all pieces, of wanted pieces, and of those we have; BEP 47 pad bytes left out. */
  doneBytes(): DoneBytes {
    const picker = this.picker;
    const layout = this.layout;
    if (!picker || !layout) return { total: 0, done: 0, wantedDone: 0, wanted: 0 };
    const pad = this.pad;
    let done = 0, wantedDone = 0, wanted = 0;
    const last = picker.numPieces - 1;
    const full = layout.pieceLength;
    const lastSize = layout.pieceSize(last);
    for (let i = 0; i <= last; i++) {
      const size = (i === last ? lastSize : full) - (pad === null ? 0 : pad.inPiece(i));
      const w = picker.piecePriority(i) > 0;
      if (w) wanted += size;
      if (picker.have(i)) {
        done += size;
        if (w) wantedDone += size;
      }
    }
    return { total: layout.totalLength - (pad?.total ?? 0), done, wantedDone, wanted };
  }
}
