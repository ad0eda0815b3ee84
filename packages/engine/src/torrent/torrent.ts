import type { TorrentInfo } from '../metainfo/metainfo.js';
import { parseInfoDict } from '../metainfo/metainfo.js';
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
import { FileError, Storage } from '../storage/storage.js';
import { resolveInside } from '../storage/paths.js';
import { SpritzleError } from '../errors.js';
import { stat } from 'node:fs/promises';
import type { ResumeData } from './resume.js';
import { RateLimiter } from '../algo/bandwidth.js';
import { MAX_REQUEST_LENGTH } from '../wire/codec.js';
import {
  MetadataAssembler, MetadataRequestBudget, decodeMetadataMessage, encodeMetadataData, encodeMetadataReject,
  encodeMetadataRequest, metadataPieces, offeredMetadataSize, METADATA_DATA, METADATA_PIECE_SIZE, METADATA_REJECT,
  METADATA_REQUEST, type MetadataMessage,
} from '../wire/ut-metadata.js';
import type { DiscoveryTorrent, PeerSource, TorrentDiscovery } from '../discovery/types.js';

const BLOCK = 16384;
/** Verified-but-unwritten and being-hashed bytes above which we stop requesting (disk back-pressure). */
const MAX_PENDING_DISK_BYTES = 32 * 1024 * 1024;
/** Peers dialled at once per torrent. */
const MAX_HALF_OPEN = 8;
/** Copies of the metadata fetched at once (each from one peer, at most MAX_METADATA_SIZE). */
const MAX_METADATA_FETCHES = 2;
/**
 * Bytes queued to send to one peer, and apart from them bytes being read from disk for it, above which its
 * requests wait: libtorrent's send_buffer_watermark (500 KiB there, raised to half a second of the peer's
 * upload rate). Here 4 MiB or two seconds of the rate: below that the upload to a fast peer on loopback
 * slowed measurably; a peer that asks for much and reads nothing pins at most twice this (was 64 MiB:
 * 2,000 requests of 32 KiB).
 */
const SEND_WATERMARK = 4 * 1024 * 1024;
/** Blocks a peer may send that we never requested (nor gave up on) before it is disconnected. */
const UNSOLICITED_BLOCK_TOLERANCE = 8;

/** What a torrent needs from its session. */
export interface TorrentHost {
  readonly counters: Counters;
  readonly settings: Readonly<SessionSettings>;
  readonly diskIo: DiskIoThreads;
  readonly bufferPool: DiskBufferPool;
  readonly peerId: Uint8Array;
  readonly listenPort: number;
  emit<K extends keyof SessionEvents & string>(name: K, payload: SessionEvents[K]): void;
  /** Dial a peer for this torrent; the session calls attachPeer once the handshake checks out. */
  connect(torrent: Torrent, host: string, port: number): void;
  /** Ask for a rechoke soon (a peer became interested, a slot opened). */
  requestRechoke(): void;
  /** Session-wide bandwidth limits (download_rate_limit / upload_rate_limit). */
  readonly downLimiter: RateLimiter;
  readonly upLimiter: RateLimiter;
  /** A torrent has work waiting for bandwidth: make sure the limiter clock runs. */
  limiterWake(): void;
}

interface QueuedUpload {
  peer: PeerConnection;
  index: number;
  offset: number;
  length: number;
}

interface KnownPeer {
  host: string;
  port: number;
  lastAttempt: number;
  failures: number;
  connected: boolean;
  connecting: boolean;
  /** A peer we will not dial again (ourselves, or a connection that proved to be a duplicate). */
  skip: boolean;
  /** It had every piece when we last saw it. */
  seed: boolean;
}

interface PartialPiece {
  /** From the DiskBufferPool: shared memory. */
  buf: Buffer;
  contributors: PeerConnection[];
}

/** One connected peer, as libtorrent's peer_info (GET /torrent/<hash>/peers). */
export interface PeerInfo {
  ip: string;
  port: number;
  client: string;
  peer_id: string;
  direction: 'incoming' | 'outgoing';
  /** libtorrent-style letters: i/I interest, c/C choke, s snubbed, o optimistic, S seed. */
  flags: string;
  progress: number;
  down_speed: number;
  up_speed: number;
  total_download: number;
  total_upload: number;
  num_pieces: number;
  queue: number;
}

/** One file of a torrent: where it lies, how much of it is there, its priority (0 skips it, 4 is normal). */
export interface FileInfo {
  index: number;
  path: string;
  size: number;
  offset: number;
  progress: number;
  bytes_done: number;
  priority: number;
  pad: boolean;
}

/**
 * One torrent's life: checking → (downloading_metadata) → downloading → finished/seeding, paused or in
 * error. It glues the wires to the piece picker and to storage; the decisions themselves live in those.
 */
export class Torrent implements DiscoveryTorrent {
  readonly infoHash: string;
  readonly infoHashBytes: Uint8Array;
  info: TorrentInfo | null = null;
  savePath: string;
  flags: number;
  state: TorrentState = 'checking_resume_data';
  errorMessage = '';
  errorFile = -1;
  picker: PiecePicker | null = null;
  storage: Storage | null = null;
  layout: FileLayout | null = null;
  filePriorities: number[] = [];
  readonly peers = new Set<PeerConnection>();
  readonly knownPeers = new Map<string, KnownPeer>();
  readonly banned = new Set<string>();
  closed = false;
  /** Trackers, DHT, PEX and LSD for this torrent; set by the session before start(). */
  discovery: TorrentDiscovery | null = null;
  /** Our verified pieces as a wire bitfield (MSB first). */
  bitfield: Uint8Array = new Uint8Array(0);
  checkedPieces = 0;

  // Limits (-1 unlimited).
  private readonly downLimiter = new RateLimiter();
  private readonly upLimiter = new RateLimiter();
  /** Requests waiting for upload bandwidth. */
  private readonly upQueue: QueuedUpload[] = [];
  /** Requests were held back for download bandwidth. */
  private downThrottled = false;
  maxUploads: number;
  maxConnections: number;

  // Times (unix seconds) and durations (seconds).
  readonly addedTime: number;
  completedTime: number;
  lastSeenComplete = 0;
  lastDownload = 0;
  lastUpload = 0;
  activeSeconds = 0;
  finishedSeconds = 0;
  seedingSeconds = 0;

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

  private readonly partial = new Map<number, PartialPiece>();
  /** Per peer: counts its pieces once the metadata (and so the piece count) is known (see attachPeer). */
  private readonly recount = new Map<PeerConnection, () => void>();
  /** Metadata copies being fetched, by peer (BEP 9). */
  private readonly metadataFetches = new Map<PeerConnection, MetadataAssembler>();
  /** Requests waiting for their peer's send queue to drain (see serve). */
  private readonly sendWaiting = new Map<PeerConnection, QueuedUpload[]>();
  /** Metadata requests each peer may still have answered. */
  private readonly metadataBudgets = new WeakMap<PeerConnection, MetadataRequestBudget>();
  private pendingDiskBytes = 0;
  private readonly pickOut: number[] = [];
  private lastStorageStats = { writeOps: 0, readOps: 0, blocksWritten: 0, blocksRead: 0, blocksHashed: 0 };
  private checkAbort: AbortController | null = null;
  /** Resume data to try once instead of hashing, at the first check. */
  private pendingResume: ResumeData | null;
  /** The data on disk has been checked (or trusted from resume data): only then does a bitfield mean anything. */
  private dataChecked = false;
  /** Something worth saving in resume data changed since the last save (libtorrent's need_save_resume). */
  needSaveResume = true;

  constructor(
    private readonly host: TorrentHost,
    params: NormalizedAddParams,
    info: TorrentInfo | null,
    infoHash: string,
    readonly torrentBytes: Uint8Array | null,
    readonly displayName: string,
  ) {
    this.infoHash = infoHash;
    this.infoHashBytes = Buffer.from(infoHash, 'hex');
    this.savePath = params.save_path ?? host.settings.save_path;
    this.flags = params.flags;
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
      this.activeSeconds = this.pendingResume.active_time;
      this.finishedSeconds = this.pendingResume.finished_time;
      this.seedingSeconds = this.pendingResume.seeding_time;
    }
    for (const p of params.peers) this.addKnownPeer(p.host, p.port);
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
    this.upLimiter.setRate(v);
  }
  get downloadLimit(): number {
    return this.downloadLimitValue;
  }
  set downloadLimit(v: number) {
    this.downloadLimitValue = v;
    this.downLimiter.setRate(v);
    if (v <= 0 && this.downThrottled) this.limiterTick();
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
    this.info = info;
    this.layout = new FileLayout(info.files, info.pieceLength);
    this.picker = new PiecePicker(info.numPieces, info.pieceLength, info.totalLength, BLOCK);
    this.storage = new Storage({ savePath: this.savePath, layout: this.layout });
    this.bitfield = new Uint8Array(Math.ceil(info.numPieces / 8));
    this.filePriorities = info.files.map((f, i) => (f.pad ? 0 : filePriorities?.[i] ?? 4));
    this.applyPiecePriorities(piecePriorities);
    this.host.counters.inc(M.ses_num_total_pieces_added, info.numPieces);
  }

  private applyPiecePriorities(piecePriorities?: number[]): void {
    const picker = this.picker!;
    const prios = this.layout!.piecePriorities(this.filePriorities);
    if (piecePriorities) for (let i = 0; i < prios.length && i < piecePriorities.length; i++) prios[i] = piecePriorities[i]!;
    picker.setPiecePriorities(prios);
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
    }
  }

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
      const mismatch = await this.fastResumeMismatch(resume);
      if (mismatch === null) {
        for (let i = 0; i < info.numPieces; i++) {
          if (resume.pieces[i >> 3]! & (0x80 >> (i & 7))) this.markHave(i);
        }
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
        const had = await storage.check(info.pieceHashes, {
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

  /**
   * Why resume data cannot be trusted, or null if it can: every file must have the size and modification
   * time recorded with the bitfield (libtorrent's rule), so data changed behind our back is re-hashed.
   */
  private async fastResumeMismatch(r: ResumeData): Promise<string | null> {
    const info = this.info!;
    if (r.pieces!.length !== Math.ceil(info.numPieces / 8)) return 'the piece bitfield does not fit the torrent';
    const sizes = r.file_sizes ?? [];
    if (sizes.length !== info.files.length) return 'file sizes do not fit the torrent';
    for (let i = 0; i < info.files.length; i++) {
      const f = info.files[i]!;
      if (f.pad) continue;
      const [size, mtime] = sizes[i]!;
      let st: { size: number; mtimeMs: number } | null = null;
      try {
        st = await stat(resolveInside(this.savePath, f.path));
      } catch {
        st = null;
      }
      if (!st) {
        if (size === 0) continue;
        return `${f.path} is missing`;
      }
      if (st.size !== size || Math.abs(Math.round(st.mtimeMs) - mtime) > 1) return `${f.path} changed on disk since the resume data was saved`;
    }
    return null;
  }

  /** Fast-resume data for this torrent, as it is now (see ResumeData). Clears need_save_resume. */
  async resumeData(): Promise<ResumeData> {
    this.needSaveResume = false;
    const info = this.info;
    const r: ResumeData = {
      info_hash: this.infoHash,
      name: this.name,
      save_path: this.savePath,
      flags: this.flags,
      trackers: [],
      tracker_tiers: [],
      peers: [...this.knownPeers.values()].filter((k) => !k.skip).slice(0, 200).map((k) => `${k.host}:${k.port}`),
      added_time: this.addedTime,
      completed_time: this.completedTime,
      total_uploaded: this.allTimeUpload,
      total_downloaded: this.allTimeDownload,
      active_time: Math.floor(this.activeSeconds),
      finished_time: Math.floor(this.finishedSeconds),
      seeding_time: Math.floor(this.seedingSeconds),
    };
    for (const t of this.discovery?.trackers() ?? []) {
      r.trackers.push(t.url);
      r.tracker_tiers.push(t.tier);
    }
    if (info) {
      r.info = info.infoBytes;
      r.file_priorities = [...this.filePriorities];
    }
    // Before the first check finished, a bitfield would claim nothing is on disk: leave it out so the
    // next start checks the data instead of trusting an empty record.
    if (info && this.dataChecked) {
      // A piece counts only once it is on disk: the bitfield is taken before the file times, so a piece
      // written in between makes the times newer and the next start re-hashes rather than trusts.
      r.pieces = Uint8Array.from(this.bitfield);
      r.file_sizes = await Promise.all(info.files.map(async (f): Promise<[number, number]> => {
        try {
          const st = await stat(resolveInside(this.savePath, f.path));
          return [st.size, Math.round(st.mtimeMs)];
        } catch {
          return [0, 0];
        }
      }));
    }
    return r;
  }

  pause(): void {
    if (this.paused) return;
    this.flags = (this.flags | TORRENT_FLAGS.paused) & ~TORRENT_FLAGS.auto_managed;
    this.needSaveResume = true;
    this.checkAbort?.abort();
    for (const peer of [...this.peers]) peer.close('torrent paused');
    this.discovery?.stop();
    this.host.emit('torrent_paused', { info_hash: this.infoHash });
  }

  resume(): void {
    if (!this.paused && !this.hasError) return;
    this.flags &= ~TORRENT_FLAGS.paused;
    this.needSaveResume = true;
    const wasError = this.hasError;
    this.errorMessage = '';
    this.errorFile = -1;
    for (const k of this.knownPeers.values()) k.lastAttempt = 0;
    this.host.emit('torrent_resumed', { info_hash: this.infoHash });
    if (wasError || this.state === 'checking_files' || this.state === 'checking_resume_data') {
      void this.start();
    } else {
      this.discovery?.start();
      this.connectToPeers();
    }
  }

  /** Re-hashes all data on disk; the torrent then continues from what is really there. */
  async forceRecheck(): Promise<void> {
    if (!this.info) throw new SpritzleError('invalid_state', 'the torrent has no metadata yet; nothing to check');
    for (const peer of [...this.peers]) peer.close('recheck');
    for (const k of this.knownPeers.values()) k.lastAttempt = 0;
    this.flags &= ~TORRENT_FLAGS.seed_mode;
    this.errorMessage = '';
    this.errorFile = -1;
    await this.check();
    if (!this.paused && !this.closed && !this.hasError) this.connectToPeers();
  }

  async close(deleteFiles: boolean): Promise<void> {
    this.closed = true;
    this.checkAbort?.abort();
    for (const peer of [...this.peers]) peer.close('torrent removed');
    // Unfinished pieces are dropped; their buffers serve the next download (none is being hashed).
    for (const part of this.partial.values()) this.host.bufferPool.release(part.buf);
    this.partial.clear();
    this.syncStorageCounters();
    await this.discovery?.close();
    if (this.storage) {
      await this.storage.close();
      if (deleteFiles) await this.storage.deleteFiles();
    }
  }

  private setState(state: TorrentState): void {
    if (this.state === state) return;
    const prev = this.state;
    this.state = state;
    this.host.emit('state_changed', { info_hash: this.infoHash, state, prev_state: prev });
  }

  setError(e: Error): void {
    this.errorMessage = e.message;
    this.errorFile = e instanceof FileError ? e.file : -1;
    for (const peer of [...this.peers]) peer.close('torrent error');
    this.host.emit('torrent_error', { info_hash: this.infoHash, error: e.message });
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
    const key = `${host}:${port}`;
    const known = this.knownPeers.get(key);
    if (known && now) {
      known.lastAttempt = 0;
      known.failures = 0;
    }
    if (known || this.banned.has(key)) return;
    this.knownPeers.set(key, { host, port, lastAttempt: 0, failures: 0, connected: false, connecting: false, skip: false, seed: false });
  }

  /** Dial known peers we are not connected to, within the limits. */
  connectToPeers(): void {
    if (this.closed || this.paused || this.hasError) return;
    if (this.state === 'checking_files' || this.state === 'checking_resume_data') return;
    const now = Date.now();
    let halfOpen = 0;
    for (const k of this.knownPeers.values()) if (k.connecting) halfOpen++;
    for (const k of this.knownPeers.values()) {
      if (halfOpen >= MAX_HALF_OPEN) break;
      if (this.maxConnections >= 0 && this.peers.size + halfOpen >= this.maxConnections) break;
      if (k.connected || k.connecting || k.skip) continue;
      // Two seeds have nothing to trade.
      if (k.seed && this.isSeeding) continue;
      // libtorrent's min_reconnect_time after a connection ended; a short exponential backoff after failed dials.
      const minReconnect = this.host.settings.min_reconnect_time;
      const wait = k.lastAttempt === 0 ? 0 : (k.failures === 0 ? minReconnect : Math.min(minReconnect, 2 ** k.failures)) * 1000;
      if (k.lastAttempt && now - k.lastAttempt < wait) continue;
      k.connecting = true;
      k.lastAttempt = now;
      halfOpen++;
      this.host.connect(this, k.host, k.port);
    }
  }

  /** The session's dial ended without a usable connection. */
  connectFailed(host: string, port: number, skip: boolean): void {
    const k = this.knownPeers.get(`${host}:${port}`);
    if (!k) return;
    k.connecting = false;
    k.failures++;
    if (skip) k.skip = true;
  }

  isBanned(ip: string, port: number, peerId: string): boolean {
    return this.banned.has(`${ip}:${port}`) || this.banned.has(peerId);
  }

  peerById(peerId: string): PeerConnection | undefined {
    for (const p of this.peers) if (p.peerId === peerId) return p;
    return undefined;
  }

  /** A connection whose handshake checked out joins the torrent. */
  attachPeer(peer: PeerConnection): void {
    const key = `${peer.ip}:${peer.port}`;
    if (peer.direction === 'outgoing') {
      const k = this.knownPeers.get(key);
      if (k) {
        k.connecting = false;
        k.connected = true;
        k.failures = 0;
      }
    }
    this.peers.add(peer);
    peer.maxOutQueue = this.host.settings.max_out_request_queue;
    const c = this.host.counters;
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
      },
      haveAll: () => {
        peer.isSeed = true;
        if (!this.picker) return;
        countSeed();
        onPeerPiecesChanged();
      },
      haveNone: () => undefined,
      have: (index: number) => {
        // The codec has checked the index against the piece count.
        if (!this.picker || countedSeed) return;
        counted = true;
        this.picker.addPeerHave(index);
        peerHave++;
        if (peerHave >= numPieces()) onPeerPiecesChanged();
        else if (!peer.amInterested && this.wants(index)) peer.interested();
        if (!peer.peerChoking && peer.amInterested) this.requestBlocks(peer);
      },
      unchoke: () => this.requestBlocks(peer),
      choke: () => {
        // Without the fast extension a choke drops every request; with it, rejects will follow.
        if (!peer.hasFast) this.abortAll(peer, false);
      },
      reject: (index: number, offset: number) => {
        const id = this.blockId(index, offset);
        if (id >= 0 && peer.outstanding.delete(id)) this.picker!.abortRequest(id);
        c.inc(M.peer_piece_rejects);
      },
      piece: (index: number, offset: number, buf: Uint8Array) => this.onBlock(peer, index, offset, buf),
      request: (index: number, offset: number, length: number) => this.onRequest(peer, index, offset, length),
      interested: () => this.host.requestRechoke(),
      notInterested: () => this.host.requestRechoke(),
      extendedHandshake: () => {
        if (!this.info) this.fetchMetadata(peer);
      },
      metadata: (payload: Uint8Array) => this.onMetadataMessage(peer, payload),
    };

    // A magnet's peers announce their pieces before we know how many there are: count them once we do.
    this.recount.set(peer, () => {
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
    this.recount.delete(peer);
    this.sendWaiting.delete(peer);
    this.host.counters.inc(M.peer_disconnected_peers);
    this.abortAll(peer, false);
    if (this.picker) {
      if (countedSeed) this.picker.removeSeed();
      else if (counted) this.picker.removePeerPieces(peer.pieces);
    }
    if (this.metadataFetches.delete(peer)) this.fetchMetadataElsewhere();
    const k = this.knownPeers.get(`${peer.ip}:${peer.port}`);
    if (k) {
      k.connected = false;
      k.lastAttempt = Date.now();
      k.seed = peer.isSeed;
    }
    this.totalDownload += peer.transport.bytesRead;
    this.totalUpload += peer.transport.bytesWritten;
    this.host.emit('peer_disconnected', { info_hash: this.infoHash, ip: peer.ip, port: peer.port, reason: peer.closeReason });
    this.host.requestRechoke();
  }

  /** Gives the peer's requests back to the picker; `stragglers`: the peer may still send them (no cancel went out). */
  private abortAll(peer: PeerConnection, stragglers: boolean): void {
    const picker = this.picker;
    if (picker) for (const id of peer.outstanding) picker.abortRequest(id);
    if (stragglers) peer.stragglers += peer.outstanding.size;
    peer.outstanding.clear();
  }

  private wants(piece: number): boolean {
    const picker = this.picker!;
    return !picker.have(piece) && picker.piecePriority(piece) > 0;
  }

  /** Interested iff the peer has a piece we want and lack. */
  updateInterest(peer: PeerConnection): void {
    const picker = this.picker;
    if (!picker || peer.closed) return;
    if (picker.isFinished()) {
      peer.notInterested();
      return;
    }
    const pieces = peer.pieces;
    let want = false;
    for (let i = 0; i < picker.numPieces && !want; i++) want = pieces.get(i) && this.wants(i);
    if (want) peer.interested();
    else peer.notInterested();
  }

  private blockId(index: number, offset: number): number {
    const picker = this.picker;
    if (!picker || index >= picker.numPieces || offset % BLOCK !== 0) return -1;
    const block = offset / BLOCK;
    if (block >= picker.blocksInPiece(index)) return -1;
    return index * picker.blocksPerPiece + block;
  }

  // ---------------------------------------------------------------- downloading (hot path)

  /** Tops up the peer's request queue. `now` when the caller has it (the per-block path). */
  requestBlocks(peer: PeerConnection, now?: number): void {
    const picker = this.picker;
    if (!picker || peer.closed || peer.peerChoking || !peer.amInterested || this.paused) return;
    if (this.pendingDiskBytes > MAX_PENDING_DISK_BYTES) return;
    let want = peer.queueTarget - peer.outstanding.size;
    // Refill in batches of an eighth of the queue: fewer picker calls, the pipe stays full.
    if (want <= 0 || (want < peer.queueTarget >> 3 && peer.outstanding.size > 0)) return;
    const limited = this.downLimiter.limited || this.host.downLimiter.limited;
    if (limited) {
      // Bandwidth is spent when a block is requested (libtorrent limits the socket; the effect is the same).
      now ??= Date.now();
      const allowed = Math.min(this.downLimiter.available(now), this.host.downLimiter.available(now));
      want = Math.min(want, Math.floor(allowed / BLOCK));
      if (want <= 0) {
        this.downThrottled = true;
        this.host.limiterWake();
        return;
      }
    }
    const out = this.pickOut;
    out.length = 0;
    const opts = peer.pickOptions;
    opts.sequential = this.sequential;
    opts.snubbed = peer.snubbed;
    // libtorrent's strict end-game: a busy block (a duplicate) only for a peer with nothing outstanding.
    opts.allowBusy = peer.outstanding.size === 0;
    const n = picker.pick(peer.pieces, want, out, opts);
    if (limited) {
      this.downLimiter.consume(n * BLOCK);
      this.host.downLimiter.consume(n * BLOCK);
    }
    const bpp = picker.blocksPerPiece;
    for (let i = 0; i < n; i++) {
      const id = out[i]!;
      const piece = (id / bpp) | 0;
      const block = id - piece * bpp;
      peer.outstanding.add(id);
      peer.request(piece, block * BLOCK, picker.blockLength(piece, block));
    }
    if (n > 0) peer.lastRequestAt = now ?? Date.now();
    else if (peer.outstanding.size === 0) this.updateInterest(peer);
  }

  private onBlock(peer: PeerConnection, index: number, offset: number, buf: Uint8Array): void {
    const c = this.host.counters;
    const len = buf.length;
    c.inc(M.ses_num_incoming_piece);
    const now = Date.now();
    peer.lastMessageAt = now;
    const id = this.blockId(index, offset);
    if (id < 0 || !peer.outstanding.delete(id)) {
      // Cancelled or given up on before it arrived (end-game, snubbing): waste. Beyond that, a block we never
      // asked for: a few are tolerated (a duplicate answer), a stream of them ends the connection.
      if (peer.stragglers > 0) peer.stragglers--;
      else if (++peer.unsolicitedBlocks > UNSOLICITED_BLOCK_TOLERANCE) {
        peer.protocolError(`sent ${peer.unsolicitedBlocks} blocks we never requested`);
        return;
      }
      c.inc(M.net_recv_redundant_bytes, len);
      this.totalRedundantBytes += len;
      return;
    }
    const picker = this.picker!;
    if (len !== picker.blockLength(index, offset / BLOCK)) {
      picker.abortRequest(id);
      peer.protocolError('block of the wrong length');
      return;
    }
    peer.lastBlockAt = now;
    peer.lastPayloadAt = now;
    peer.downloadedPayload += len;
    peer.downloadedInTick += len;
    peer.downloadedInRound += len;
    peer.onBlockReceived();
    peer.snubbed = false;
    c.inc(M.net_recv_payload_bytes, len);
    this.totalPayloadDownload += len;
    this.lastDownload = now;

    if (!picker.markReceived(id)) {
      c.inc(M.net_recv_redundant_bytes, len);
      c.inc(M.ses_waste_piece_end_game, len);
      this.totalRedundantBytes += len;
      this.requestBlocks(peer, now);
      return;
    }
    if (picker.requestCount(id) > 0) this.cancelElsewhere(peer, id, index, offset, len);

    let part = this.partial.get(index);
    if (!part) {
      part = { buf: this.allocPieceBuffer(), contributors: [] };
      this.partial.set(index, part);
    }
    // Not set(): V8 copies into shared memory with relaxed atomics, byte by byte when source and target
    // are not equally aligned (block data sits at any offset in a socket read): 5x slower than fill's memcpy.
    part.buf.fill(buf, offset, offset + len);
    if (!part.contributors.includes(peer)) part.contributors.push(peer);
    if (picker.isPieceComplete(index)) {
      this.partial.delete(index);
      this.verifyPiece(index, part);
    }
    this.requestBlocks(peer, now);
  }

  /** End-game: the block came from one peer, so the duplicate requests elsewhere are cancelled. */
  private cancelElsewhere(from: PeerConnection, id: number, index: number, offset: number, len: number): void {
    for (const p of this.peers) {
      if (p === from || !p.outstanding.delete(id)) continue;
      this.picker!.abortRequest(id);
      p.cancel(index, offset, len);
      this.host.counters.inc(M.ses_waste_piece_cancelled, len);
    }
  }

  private allocPieceBuffer(): Buffer {
    // Not zero-filled on reuse: every byte is overwritten by blocks before the piece is hashed.
    return this.host.bufferPool.alloc(this.info!.pieceLength);
  }

  private verifyPiece(index: number, part: PartialPiece): void {
    const info = this.info!;
    const size = this.layout!.pieceSize(index);
    const blocks = this.picker!.blocksInPiece(index);
    this.pendingDiskBytes += size;
    const buf = part.buf.subarray(0, size);
    const pool = this.host.bufferPool;
    const diskIo = this.host.diskIo;
    diskIo.hash(buf).then(
      (digest) => {
        this.host.counters.inc(M.disk_num_blocks_hashed, blocks);
        if (this.closed) {
          this.pendingDiskBytes -= size;
          return;
        }
        if (Buffer.compare(digest, info.pieceHashes[index]!) !== 0) {
          this.pendingDiskBytes -= size;
          pool.release(part.buf);
          this.pieceFailed(index, part.contributors, size);
          return;
        }
        this.storage!.writePiece(index, buf, (spans) => diskIo.write(buf, spans)).then(
          () => {
            this.pendingDiskBytes -= size;
            pool.release(part.buf);
            this.pieceVerified(index, part.contributors);
          },
          (e: Error) => this.diskJobFailed(index, part.buf, size, e),
        );
      },
      (e: Error) => this.diskJobFailed(index, part.buf, size, e),
    );
  }

  /** A hash or write job failed (no thread uses the buffer any more): the piece is wanted again, the torrent errs. */
  private diskJobFailed(index: number, buf: Buffer, size: number, e: Error): void {
    this.pendingDiskBytes -= size;
    this.host.bufferPool.release(buf);
    if (this.closed) return;
    this.picker?.pieceFailed(index);
    this.setError(e);
  }

  private pieceVerified(index: number, contributors: PeerConnection[]): void {
    if (this.closed) return;
    const c = this.host.counters;
    this.markHave(index);
    c.inc(M.ses_num_piece_passed);
    this.needSaveResume = true;
    for (const p of contributors) p.trust = Math.min(8, p.trust + 1);
    for (const p of this.peers) p.have(index);
    this.host.emit('piece_finished', { info_hash: this.infoHash, piece_index: index });
    if (this.picker!.isFinished()) this.onFinished();
    else if (this.pendingDiskBytes <= MAX_PENDING_DISK_BYTES) {
      // Peers may have idled on disk back-pressure.
      for (const p of this.peers) if (p.outstanding.size === 0) this.requestBlocks(p);
    }
  }

  private pieceFailed(index: number, contributors: PeerConnection[], size: number): void {
    const c = this.host.counters;
    this.picker!.pieceFailed(index);
    c.inc(M.ses_num_piece_failed);
    c.inc(M.net_recv_failed_bytes, size);
    this.totalFailedBytes += size;
    this.host.emit('hash_failed', { info_hash: this.infoHash, piece_index: index });
    // libtorrent's rule: -2 trust per failure; a peer that alone sent a bad piece, or whose trust fell to
    // -7, is banned.
    for (const p of contributors) {
      p.trust -= 2;
      p.onParole = true;
      if (contributors.length === 1 || p.trust <= -7) this.ban(p, 'sent data that failed the hash check');
    }
  }

  private ban(peer: PeerConnection, reason: string): void {
    // Pieces already in flight from a banned peer fail too; it is banned once.
    if (this.banned.has(`${peer.ip}:${peer.port}`)) return;
    this.banned.add(`${peer.ip}:${peer.port}`);
    if (peer.peerId) this.banned.add(peer.peerId);
    this.knownPeers.delete(`${peer.ip}:${peer.port}`);
    this.host.counters.inc(M.peer_banned_for_hash_failure);
    this.host.emit('peer_banned', { info_hash: this.infoHash, ip: peer.ip, port: peer.port, reason });
    peer.close(`banned: ${reason}`);
  }

  private onFinished(): void {
    this.completedTime ||= Math.floor(Date.now() / 1000);
    this.updateFinishedState();
    for (const p of [...this.peers]) {
      if (p.isSeed && this.isSeeding) p.close('both are seeds');
      else p.notInterested();
    }
    this.discovery?.completed();
    this.host.emit('torrent_finished', { info_hash: this.infoHash });
  }

  // ---------------------------------------------------------------- uploading

  /** A request from the peer (the codec checked its piece index against the piece count). */
  private onRequest(peer: PeerConnection, index: number, offset: number, length: number): void {
    const c = this.host.counters;
    const picker = this.picker;
    if (!picker) {
      // No metadata yet: nothing to serve, and nothing to check the request against.
      c.inc(M.peer_invalid_piece_requests);
      peer.refuseRequest(index, offset, length);
      return;
    }
    if (length === 0 || length > MAX_REQUEST_LENGTH || offset + length > this.layout!.pieceSize(index)) {
      // A request no honest client makes: libtorrent disconnects.
      c.inc(M.peer_invalid_piece_requests);
      peer.protocolError(`a request for ${length} bytes at ${offset} of piece ${index} (${this.layout!.pieceSize(index)} bytes)`);
      return;
    }
    if (!picker.have(index) || length > 2 * BLOCK) {
      c.inc(M.peer_invalid_piece_requests);
      peer.refuseRequest(index, offset, length);
      return;
    }
    if (peer.peerRequestCount > this.host.settings.max_allowed_in_request_queue) {
      c.inc(M.peer_max_piece_requests);
      peer.refuseRequest(index, offset, length);
      return;
    }
    c.inc(M.peer_piece_requests);
    if (this.upQueue.length > 0 || !this.uploadAllowed(length)) {
      this.upQueue.push({ peer, index, offset, length });
      this.host.limiterWake();
      return;
    }
    this.serve(peer, index, offset, length);
  }

  private uploadAllowed(length: number): boolean {
    if (!this.upLimiter.limited && !this.host.upLimiter.limited) return true;
    const now = Date.now();
    if (Math.min(this.upLimiter.available(now), this.host.upLimiter.available(now)) < length) return false;
    this.upLimiter.consume(length);
    this.host.upLimiter.consume(length);
    return true;
  }

  /** Bandwidth came back: serve queued uploads and re-request where downloads were held back. Returns true while work waits. */
  limiterTick(): boolean {
    while (this.upQueue.length > 0) {
      const q = this.upQueue[0]!;
      if (q.peer.closed || q.peer.amChoking) {
        this.upQueue.shift();
        continue;
      }
      if (!this.uploadAllowed(q.length)) break;
      this.upQueue.shift();
      this.serve(q.peer, q.index, q.offset, q.length);
    }
    if (this.downThrottled) {
      this.downThrottled = false;
      for (const p of this.peers) this.requestBlocks(p);
    }
    return this.upQueue.length > 0 || this.downThrottled;
  }

  /** Queued uploads and throttled downloads, for the net.limiter_* gauges. */
  limiterState(): { upQueue: number; upBytes: number; downThrottled: boolean } {
    let bytes = 0;
    for (const q of this.upQueue) bytes += q.length;
    return { upQueue: this.upQueue.length, upBytes: bytes, downThrottled: this.downThrottled };
  }

  /**
   * Reads a block and sends it, unless the peer's send queue (with the reads under way for it) is past
   * SEND_WATERMARK: then the request waits for the queue to drain (libtorrent's send_buffer_watermark), so
   * a peer that asks for much and reads slowly cannot pin more than that.
   */
  private serve(peer: PeerConnection, index: number, offset: number, length: number): void {
    if (this.sendCongested(peer)) {
      let waiting = this.sendWaiting.get(peer);
      if (!waiting) {
        waiting = [];
        this.sendWaiting.set(peer, waiting);
        peer.drained = () => {
          if (this.sendWaiting.has(peer)) this.serveWaiting(peer);
        };
      }
      waiting.push({ peer, index, offset, length });
      return;
    }
    peer.uploadReading += length;
    this.storage!.read(index, offset, length).then(
      (buf) => {
        peer.uploadReading -= length;
        // Not sent if the peer cancelled meanwhile, or we choked it.
        if (peer.sendBlock(index, offset, buf)) {
          this.totalPayloadUpload += buf.length;
          this.lastUpload = Date.now();
        }
        // Either the queue is below the watermark now, or a write filled it and its drain will call this.
        if (this.sendWaiting.has(peer)) this.serveWaiting(peer);
      },
      (e: Error) => {
        peer.uploadReading -= length;
        peer.refuseRequest(index, offset, length);
        if (!this.closed) this.setError(e);
      },
    );
  }

  private sendCongested(peer: PeerConnection): boolean {
    const watermark = Math.max(SEND_WATERMARK, 2 * peer.uploadRate);
    return peer.transport.writeQueued > watermark || peer.uploadReading > watermark;
  }

  /** The peer's send queue drained: the requests that waited for it are served, as far as the watermark allows. */
  private serveWaiting(peer: PeerConnection): void {
    const waiting = this.sendWaiting.get(peer);
    while (waiting && waiting.length > 0 && !peer.closed && !this.sendCongested(peer)) {
      const q = waiting.shift()!;
      if (peer.wantsBlock(q.index, q.offset, q.length)) this.serve(peer, q.index, q.offset, q.length);
    }
    if (waiting?.length === 0 || peer.closed) this.sendWaiting.delete(peer);
  }

  // ---------------------------------------------------------------- metadata (BEP 9)

  /** Starts fetching the metadata from `peer` if it offers it and fewer than MAX_METADATA_FETCHES copies are under way. */
  private fetchMetadata(peer: PeerConnection): void {
    if (this.info || peer.closed || this.metadataFetches.has(peer) || this.metadataFetches.size >= MAX_METADATA_FETCHES) return;
    const size = offeredMetadataSize(peer.peerExtendedHandshake);
    if (size === 0 || !peer.supports('ut_metadata')) return;
    const copy = new MetadataAssembler(size);
    this.metadataFetches.set(peer, copy);
    for (let i = 0; i < copy.numPieces && !peer.closed; i++) peer.sendMetadata(encodeMetadataRequest(i));
  }

  /** A fetch ended without metadata: another peer's turn. */
  private fetchMetadataElsewhere(): void {
    for (const p of this.peers) this.fetchMetadata(p);
  }

  private onMetadataMessage(peer: PeerConnection, payload: Uint8Array): void {
    let msg: MetadataMessage;
    try {
      msg = decodeMetadataMessage(payload);
    } catch (e) {
      peer.protocolError(`metadata: ${(e as Error).message}`);
      return;
    }
    if (msg.type === METADATA_REQUEST) {
      this.serveMetadata(peer, msg.piece);
      return;
    }
    const copy = this.metadataFetches.get(peer);
    if (!copy) return; // an answer to nothing we asked (or a fetch already over): ignored
    if (msg.type === METADATA_REJECT) {
      this.metadataFetches.delete(peer);
      this.fetchMetadataElsewhere();
      return;
    }
    if (msg.type !== METADATA_DATA) return;
    try {
      if (msg.totalSize !== copy.size) throw new Error(`total_size ${msg.totalSize}, not the ${copy.size} bytes offered`);
      copy.add(msg.piece, msg.data);
    } catch (e) {
      peer.protocolError(`metadata: ${(e as Error).message}`);
      return;
    }
    if (!copy.complete) return;
    this.metadataFetches.delete(peer);
    const info = copy.verified(this.infoHash);
    if (!info) {
      peer.protocolError('metadata: the info dictionary does not match the info-hash');
      return;
    }
    this.onMetadata(info);
  }

  /**
   * A peer asks for a piece of our metadata. Answered within the peer's MetadataRequestBudget (one copy and
   * a little more a minute) and counted against the upload rate limits; rejected beyond; a peer that keeps
   * asking regardless is disconnected (issue 9: 5,000 requests made us send 26 MB).
   */
  private serveMetadata(peer: PeerConnection, piece: number): void {
    const bytes = this.info?.infoBytes;
    const n = bytes ? metadataPieces(bytes.length) : 0;
    if (!bytes || piece >= n) {
      // Nothing to serve (a magnet itself), or a piece beyond it: one small reject per request, no amplification.
      peer.sendMetadata(encodeMetadataReject(piece));
      return;
    }
    const now = Date.now();
    let budget = this.metadataBudgets.get(peer);
    if (!budget) {
      budget = new MetadataRequestBudget(n, now);
      this.metadataBudgets.set(peer, budget);
    }
    // Under the rate limit a request is refused without spending the peer's budget (nor counting as a flood).
    if (!this.metadataUploadAllowed(now) || !budget.take(now)) {
      peer.sendMetadata(encodeMetadataReject(piece));
      if (budget.flooding) peer.protocolError(`metadata: more than ${MetadataRequestBudget.FLOOD_REJECTS} requests refused`);
      return;
    }
    const data = bytes.subarray(piece * METADATA_PIECE_SIZE, Math.min(bytes.length, (piece + 1) * METADATA_PIECE_SIZE));
    this.upLimiter.consume(data.length);
    this.host.upLimiter.consume(data.length);
    peer.sendMetadata(encodeMetadataData(piece, bytes.length, data));
  }

  /** Metadata goes out while the upload limits are not in debt (a piece may overdraw them, as a block does). */
  private metadataUploadAllowed(now: number): boolean {
    return Math.min(this.upLimiter.available(now), this.host.upLimiter.available(now)) > 0;
  }

  /** Called by the session for every connection of this torrent, before our handshakes go out. */
  useExtensions(peer: PeerConnection): void {
    this.discovery?.attachWire(peer, { ip: peer.ip, port: peer.port });
    // BEP 9: the size of the info dictionary we serve (the exact bytes we hashed).
    if (this.info) peer.extendedHandshake.metadata_size = this.info.infoBytes.length;
  }

  private onMetadata(infoBytes: Uint8Array): void {
    if (this.info || this.closed) return;
    try {
      const info = parseInfoDict(infoBytes);
      if (info.infoHash !== this.infoHash) throw new Error('metadata does not match the info-hash');
      // Other copies under way are not needed any more.
      this.metadataFetches.clear();
      this.setMetadata(info);
      this.discovery?.metadataReceived(info.announce);
      this.host.emit('metadata_received', { info_hash: this.infoHash, name: info.name });
      const peers = [...this.peers];
      void this.start().then(() => {
        for (const p of peers) {
          if (p.closed) continue;
          this.recount.get(p)?.();
          if (p.closed) continue;
          p.sendPieces(this.bitfield, this.picker!.numHave, this.picker!.numPieces);
          this.updateInterest(p);
        }
      });
    } catch (e) {
      this.host.emit('torrent_error', { info_hash: this.infoHash, error: `bad metadata from a peer: ${(e as Error).message}` });
    }
  }

  // ---------------------------------------------------------------- periodic work

  /** Once a second: rates, timeouts, snubbing, queue sizes, dialling. */
  tick(now: number, seconds: number): void {
    if (this.closed) return;
    const s = this.host.settings;
    const c = this.host.counters;
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
        this.abortAll(peer, true);
      }
      peer.maxOutQueue = s.max_out_request_queue;
      peer.updateQueueTarget(s.request_queue_time, BLOCK);
      if (peer.outstanding.size < peer.queueTarget) this.requestBlocks(peer);
    }
    this.downloadPayloadRate = down;
    this.uploadPayloadRate = up;
    this.downloadRate = downAll;
    this.uploadRate = upAll;
    if (!this.paused && !this.hasError) {
      this.activeSeconds += seconds;
      if (this.isFinished) this.finishedSeconds += seconds;
      if (this.isSeeding) this.seedingSeconds += seconds;
    }
    this.syncStorageCounters();
    this.connectToPeers();
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
      const flags = (p.amInterested ? 'i' : '') + (p.peerInterested ? 'I' : '') + (p.peerChoking ? 'c' : '') +
        (p.amChoking ? 'C' : '') + (p.snubbed ? 's' : '') + (p.optimistic ? 'o' : '') + (p.isSeed ? 'S' : '');
      return {
        ip: p.ip, port: p.port, client: p.client, peer_id: p.peerId, direction: p.direction, flags,
        progress: n ? have / n : 0, down_speed: Math.round(p.downloadRate), up_speed: Math.round(p.uploadRate),
        total_download: p.downloadedPayload, total_upload: p.uploadedPayload, num_pieces: have, queue: p.outstanding.size,
      };
    });
  }

  /** Bytes of wanted pieces we have, and of all pieces we have. */
  doneBytes(): { done: number; wantedDone: number; wanted: number } {
    const picker = this.picker;
    const layout = this.layout;
    if (!picker || !layout) return { done: 0, wantedDone: 0, wanted: 0 };
    let done = 0, wantedDone = 0, wanted = 0;
    const last = picker.numPieces - 1;
    const full = layout.pieceLength;
    const lastSize = layout.pieceSize(last);
    for (let i = 0; i <= last; i++) {
      const size = i === last ? lastSize : full;
      const w = picker.piecePriority(i) > 0;
      if (w) wanted += size;
      if (picker.have(i)) {
        done += size;
        if (w) wantedDone += size;
      }
    }
    return { done, wantedDone, wanted };
  }
}
