import type { PiecePicker } from '../algo/piece-picker.js';
import { RateLimiter } from '../algo/bandwidth.js';
import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import type { SessionSettings } from '../session/settings.js';
import type { FileLayout } from '../storage/file-layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { MAX_REQUEST_LENGTH } from '../wire/codec.js';
import { ReadCache } from '../disk/read-cache.js';
import { BLOCK_SIZE } from '../block-size.js';
import { isUtp } from '../transport/utp/connection.js';

/**
 * Bytes queued to send to one peer, and apart from them bytes being read from disk for it, above which its
 * requests wait: libtorrent's send_buffer_watermark (500 KiB there, raised to half a second of the peer's
 * upload rate). Here 4 MiB or two seconds of the rate: below that the upload to a fast peer on loopback
 * slowed measurably; a peer that asks for much and reads nothing pins at most twice this (was 64 MiB:
 * 2,000 requests of 32 KiB).
 */
const SEND_WATERMARK = 4 * 1024 * 1024;

interface QueuedUpload {
  peer: PeerConnection;
  index: number;
  offset: number;
  length: number;
}

/** What uploads need of their torrent (picker, layout and storage are null until the metadata is known). */
export interface UploadTorrent {
  readonly picker: PiecePicker | null;
  readonly layout: FileLayout | null;
  readonly storage: TorrentStorage | null;
  readonly closed: boolean;
  /** A block went out. */
  uploaded(index: number, offset: number, bytes: number): void;
  /** Reading a block failed: the torrent errs. */
  readFailed(e: Error): void;
}

/** What uploads need of the session. */
export interface UploadHost {
  readonly counters: Counters;
  readonly settings: Readonly<SessionSettings>;
  readonly upLimiter: RateLimiter;
  /** The TCP peer class's upload limit (mixed_mode_algorithm): TCP peers' blocks pass it too; none in tests. */
  readonly tcpUpLimiter?: RateLimiter;
  limiterWake(): void;
  /** The session's read cache; without one (tests) the torrent keeps one of its own. */
  readonly readCache?: ReadCache;
}

/**
 * Serving the peers' requests: checked (libtorrent's rules for invalid requests), held for upload
 * bandwidth (this torrent's limit and the session's, and for TCP peers the TCP class's), and held while the
 * peer's send queue is past the watermark; then read from storage and sent.
 */
export class Uploads {
  /** This torrent's upload_limit. */
  readonly limiter = new RateLimiter();
  /**
   * Requests waiting for upload bandwidth: uTP peers' and TCP peers' apart, so that TCP peers held by their
   * class's limit do not hold up uTP peers behind them (a peer's requests stay in order within its queue).
   */
  private readonly queue: QueuedUpload[] = [];
  private readonly tcpQueue: QueuedUpload[] = [];
  private readonly tcpLimiter: RateLimiter;
  /** Requests waiting for their peer's send queue to drain (see serve). */
  private readonly sendWaiting = new Map<PeerConnection, QueuedUpload[]>();

  private readonly cache: ReadCache;

  constructor(private readonly torrent: UploadTorrent, private readonly host: UploadHost) {
    this.cache = host.readCache ?? new ReadCache();
    this.tcpLimiter = host.tcpUpLimiter ?? new RateLimiter();
  }

  /** The torrent closed: its pieces leave the read cache. */
  close(): void {
    this.cache.drop(this);
  }

  /** A request from the peer (the codec checked its piece index against the piece count). */
  request(peer: PeerConnection, index: number, offset: number, length: number): void {
    const c = this.host.counters;
    const picker = this.torrent.picker;
    const layout = this.torrent.layout;
    if (!picker || !layout) {
      // No metadata yet: nothing to serve, and nothing to check the request against.
      c.inc(M.peer_invalid_piece_requests);
      peer.refuseRequest(index, offset, length);
      return;
    }
    if (length === 0 || length > MAX_REQUEST_LENGTH || offset + length > layout.pieceSize(index)) {
      // A request no honest client makes: libtorrent disconnects.
      c.inc(M.peer_invalid_piece_requests);
      peer.protocolError(`a request for ${length} bytes at ${offset} of piece ${index} (${layout.pieceSize(index)} bytes)`);
      return;
    }
    if (!picker.have(index) || length > 2 * BLOCK_SIZE) {
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
    const waiting = this.queue.length > 0 || this.tcpQueue.length > 0;
    if (!waiting && !this.limiter.limited && !this.host.upLimiter.limited && !this.tcpLimiter.limited) {
      this.serve(peer, index, offset, length);
      return;
    }
    const tcp = !isUtp(peer.transport);
    const queue = tcp ? this.tcpQueue : this.queue;
    if (queue.length > 0 || !this.allowed(length, tcp)) {
      queue.push({ peer, index, offset, length });
      this.host.limiterWake();
      return;
    }
    this.serve(peer, index, offset, length);
  }

  /** Spends `length` of the upload limits (the TCP class's too for a TCP peer) if they allow it now. */
  private allowed(length: number, tcp: boolean): boolean {
    const tcpLimited = tcp && this.tcpLimiter.limited;
    if (!this.limiter.limited && !this.host.upLimiter.limited && !tcpLimited) return true;
    const now = Date.now();
    let available = Math.min(this.limiter.available(now), this.host.upLimiter.available(now));
    if (tcpLimited) available = Math.min(available, this.tcpLimiter.available(now));
    if (available < length) return false;
    this.limiter.consume(length);
    this.host.upLimiter.consume(length);
    if (tcpLimited) this.tcpLimiter.consume(length);
    return true;
  }

  /** Whether both upload limits are out of debt (metadata may overdraw them, as a block does). */
  notInDebt(now: number): boolean {
    return Math.min(this.limiter.available(now), this.host.upLimiter.available(now)) > 0;
  }

  /** Spends upload bandwidth sent outside blocks (metadata). */
  consume(bytes: number): void {
    this.limiter.consume(bytes);
    this.host.upLimiter.consume(bytes);
  }

  /**
   * Bandwidth came back: serve queued requests, the two queues in turn (neither starves the other under the
   * limits they share). Returns true while some still wait.
   */
  limiterTick(): boolean {
    let utp = true;
    let tcp = true;
    while (utp || tcp) {
      if (utp) utp = this.serveHead(this.queue, false);
      if (tcp) tcp = this.serveHead(this.tcpQueue, true);
    }
    return this.queue.length > 0 || this.tcpQueue.length > 0;
  }

  /** Serves or drops the queue's first request; false when the queue is empty or its head must wait. */
  private serveHead(queue: QueuedUpload[], tcp: boolean): boolean {
    const q = queue[0];
    if (q === undefined) return false;
    if (q.peer.closed || q.peer.amChoking) {
      queue.shift();
      return true;
    }
    if (!this.allowed(q.length, tcp)) return false;
    queue.shift();
    this.serve(q.peer, q.index, q.offset, q.length);
    return true;
  }

  /** Requests waiting for bandwidth and their bytes, for the net.limiter_* gauges. */
  queued(): { requests: number; bytes: number } {
    let bytes = 0;
    for (const q of this.queue) bytes += q.length;
    for (const q of this.tcpQueue) bytes += q.length;
    return { requests: this.queue.length + this.tcpQueue.length, bytes };
  }

  /** The peer left: nothing waits for its send queue any more. */
  peerLeft(peer: PeerConnection): void {
    this.sendWaiting.delete(peer);
  }

  /**
   * Sends a block (from the read cache, reading its piece first if needed), unless the peer's send queue (with the reads under way for it) is past
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
    const size = this.torrent.layout!.pieceSize(index);
    if (size > this.cache.maxPiece) {
      this.readBlock(peer, index, offset, length);
      return;
    }
    // The piece is read whole on its first request and its other blocks are sent from memory.
    let entry = this.cache.get(this, index);
    if (entry?.data) {
      this.send(peer, index, offset, entry.block(offset, length));
      return;
    }
    if (!entry) {
      const storage = this.torrent.storage!;
      entry = this.cache.load(this, index, size, () => storage.read(index, 0, size));
    }
    const piece = entry;
    peer.uploadReading += length;
    piece.waiting.push(() => {
      peer.uploadReading -= length;
      if (piece.error) this.readError(peer, index, offset, length, piece.error);
      else this.send(peer, index, offset, piece.block(offset, length));
      // Either the queue is below the watermark now, or a write filled it and its drain will call this.
      if (this.sendWaiting.has(peer)) this.serveWaiting(peer);
    });
  }

  /** A block of a piece too big to read whole: read on its own. */
  private readBlock(peer: PeerConnection, index: number, offset: number, length: number): void {
    peer.uploadReading += length;
    this.torrent.storage!.read(index, offset, length).then(
      (buf) => {
        peer.uploadReading -= length;
        this.send(peer, index, offset, buf);
        if (this.sendWaiting.has(peer)) this.serveWaiting(peer);
      },
      (e: Error) => {
        peer.uploadReading -= length;
        this.readError(peer, index, offset, length, e);
      },
    );
  }

  /** Sent unless the peer cancelled meanwhile, or we choked it. */
  private send(peer: PeerConnection, index: number, offset: number, block: Uint8Array): void {
    if (peer.sendBlock(index, offset, block)) this.torrent.uploaded(index, offset, block.length);
  }

  private readError(peer: PeerConnection, index: number, offset: number, length: number, e: Error): void {
    peer.refuseRequest(index, offset, length);
    if (!this.torrent.closed) this.torrent.readFailed(e);
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
}
