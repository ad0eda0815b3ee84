import type { Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import type { Counters } from './counters.js';
import { M } from './counters.js';

/** Largest message a peer may send: bounds memory against a hostile length prefix. */
const MAX_MESSAGE_LENGTH = 2 * 1024 * 1024;
/** Outgoing batch buffer: 64 requests of 17 bytes, more than a queue refill usually sends. */
const BATCH_BYTES = 64 * 17;
/** Bytes read from one socket before yielding to the event loop (see onRead). */
const READ_BUDGET = 512 * 1024;

let nextPeerId = 1;

export type Direction = 'incoming' | 'outgoing';

/**
 * One peer connection: a TCP socket with a bittorrent-protocol Wire on it, plus the per-peer state the
 * torrent and choker need (rates, queue depth, outstanding requests, timestamps). It decides nothing
 * about pieces itself; the torrent does.
 */
export class PeerConnection {
  readonly id = nextPeerId++;
  readonly wire: Wire;
  readonly connectedAt = Date.now();
  /** Remote peer id, hex, once the handshake arrived. */
  peerId = '';
  /** Client name from the extended handshake's `v`. */
  client = '';
  closed = false;
  closeReason = '';
  /** The port the peer accepts connections on: ours to dial for outgoing, its extended handshake's `p` for incoming. */
  listenPort = 0;

  // Our view of the peer.
  /** Block ids requested from this peer and not yet answered. */
  readonly outstanding = new Set<number>();
  /** Reused for every pick from this peer (no allocation per pick); exclude keeps end-game duplicates off this peer. */
  readonly pickOptions = { sequential: false, snubbed: false, allowBusy: false, exclude: (id: number): boolean => this.outstanding.has(id) };
  /** Target number of outstanding requests (libtorrent's desired queue size). */
  queueTarget = 4;
  slowStart = true;
  snubbed = false;
  /** Most requests the peer accepts (its extended handshake's `reqq`). */
  peerReqq = 250;
  /** Our max_out_request_queue setting, copied when the peer joins a torrent. */
  maxOutQueue = 500;
  isSeed = false;
  /** libtorrent's trust points: +1 per passed piece it helped with, -2 per failed one. */
  trust = 0;
  /** A peer that handed us a piece that failed its hash check; its blocks are not mixed with others'. */
  onParole = false;

  // Timing (ms).
  lastMessageAt = Date.now();
  lastBlockAt = 0;
  lastRequestAt = 0;
  lastPayloadAt = Date.now();
  unchokedAt = 0;
  lastOptimisticAt = 0;
  optimistic = false;

  // Byte accounting. *InTick are reset by the session tick, rates are bytes/s smoothed over ticks.
  downloadedPayload = 0;
  uploadedPayload = 0;
  downloadedInTick = 0;
  uploadedInTick = 0;
  downloadedInRound = 0;
  uploadedSinceUnchoke = 0;
  downloadRate = 0;
  uploadRate = 0;
  /** Protocol + payload bytes per second, from the socket's own counters. */
  downloadRateAll = 0;
  uploadRateAll = 0;
  private lastBytesRead = 0;
  private lastBytesWritten = 0;
  private prevTickRate = 0;
  /** Requests and haves waiting to leave in one write (see request()). */
  private batch: Buffer | null = null;
  private batchLength = 0;

  constructor(
    readonly socket: Socket,
    readonly direction: Direction,
    readonly ip: string,
    readonly port: number,
    private readonly counters: Counters,
    /** True when the socket was opened with `onread` (see ReadSink): data comes through onRead, not a pipe. */
    sharedReads = false,
  ) {
    this.wire = new Wire(direction === 'incoming' ? 'tcpIncoming' : 'tcpOutgoing');
    // The library formats a debug line per message even when debugging is off; skip that unless asked for.
    if (!process.env.DEBUG) (this.wire as unknown as { _debug: () => void })._debug = noop;
    this.wire.on('piece', (index: number, offset: number, block: Uint8Array) => this.onPiece(index, offset, block));
    if (direction === 'outgoing') this.listenPort = port;
    this.guardMessageLength();
    this.installFraming();
    // Messages are handed over as views of buffers that are reused (carry, the shared read buffer).
    this.keepNoViews();
    socket.setNoDelay(true);
    if (sharedReads) {
      socket.on('end', () => this.close('connection closed'));
    } else {
      socket.pipe(this.wire as never);
      // Streamed sockets (incoming) yield the same way as shared reads (see onRead).
      socket.on('data', (d: Uint8Array) => {
        if (this.tookTurn(d.length)) socket.pause();
      });
    }
    this.wire.pipe(socket);
    this.wire.setKeepAlive(true);
    this.wire.on('close', () => this.markClosed('connection closed'));
    socket.on('error', (e: NodeJS.ErrnoException) => this.markClosed(e.code ?? e.message));
    socket.on('close', () => this.markClosed(this.closeReason || 'connection closed'));
    this.countIncoming();
  }

  /** Rejects a message whose length prefix exceeds what any sane peer sends, before buffering it. */
  private guardMessageLength(): void {
    const wire = this.wire as unknown as { _onMessageLength: (b: Uint8Array) => void };
    const original = wire._onMessageLength;
    const self = this;
    wire._onMessageLength = function (this: unknown, b: Uint8Array): void {
      const len = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
      if (len > MAX_MESSAGE_LENGTH) {
        self.tooLong(len);
        // Parse nothing more from this peer (the rest of the chunk would be read as more lengths).
        (this as WireParser)._parse(Number.MAX_VALUE, noop);
        return;
      }
      original.call(this, b);
    };
  }

  /**
   * Message framing. bittorrent-protocol's parser concatenates the unparsed tail with every socket chunk
   * and makes two views per message stage; at hundreds of MiB/s that allocation drives the GC. So once the
   * handshake is done we frame messages ourselves: whole messages are dispatched straight from the chunk
   * (blocks to onPiece, everything else to the library's own dispatcher, exactly as its parser would call
   * it), and a message cut by the end of a chunk is assembled in one reusable per-peer buffer (`carry`).
   * The handshake, and any encrypted wire, stay with the library's parser.
   */
  private installFraming(): void {
    const wire = this.wire as unknown as WireParser;
    const original = wire._write;
    const self = this;
    wire._write = function (this: WireParser, data: Uint8Array, cb: (err: null) => void): void {
      if (self.framing) self.feed(data);
      else {
        original.call(this, data, noop);
        if (!this._encryptor && !this._cryptoSyncPattern && !this._pePending && (this._parser === this._onMessageLength || this._parser === this._onMessage)) {
          self.takeOverFraming();
        }
      }
      cb(null);
    };
  }

  private framing = false;
  /** The start of a message cut by the end of a chunk: carryLen bytes of it. */
  private carry = EMPTY;
  private carryLen = 0;

  /** Handshake done: whatever the library buffered of the next message moves to `carry`. */
  private takeOverFraming(): void {
    const w = this.wire as unknown as WireParser;
    const buffered = w._bufferSize > 0 ? w._buffer[0]!.subarray(0, w._bufferSize) : EMPTY;
    if (w._parser === w._onMessage) {
      // The library has read the length prefix and waits for the body.
      const len = w._parserSize;
      this.carry = new Uint8Array(Math.max(4 + len, CARRY_SIZE));
      this.carry[0] = len >>> 24;
      this.carry[1] = (len >>> 16) & 255;
      this.carry[2] = (len >>> 8) & 255;
      this.carry[3] = len & 255;
      this.carry.set(buffered, 4);
      this.carryLen = 4 + buffered.length;
    } else if (buffered.length > 0) {
      this.carry = new Uint8Array(CARRY_SIZE);
      this.carry.set(buffered, 0);
      this.carryLen = buffered.length;
    }
    w._buffer = [];
    w._bufferSize = 0;
    w._parse(4, w._onMessageLength);
    this.framing = true;
  }

  private feed(data: Uint8Array): void {
    let pos = 0;
    if (this.carryLen > 0) {
      pos = this.fillCarry(data);
      if (this.carryLen > 0) return;
    }
    const end = data.length;
    while (end - pos >= 4 && !this.closed) {
      const len = u32(data, pos);
      if (len > MAX_MESSAGE_LENGTH) {
        this.tooLong(len);
        return;
      }
      if (end - pos - 4 < len) break;
      this.dispatch(data, pos + 4, len);
      pos += 4 + len;
    }
    if (pos < end && !this.closed) {
      const tail = end - pos;
      const need = tail >= 4 ? 4 + u32(data, pos) : 4;
      if (this.carry.length < need) this.carry = new Uint8Array(Math.max(need, CARRY_SIZE));
      this.carry.set(data.subarray(pos), 0);
      this.carryLen = tail;
    }
  }

  /** Adds the start of `data` to the cut message; dispatches it once whole. Returns the bytes used. */
  private fillCarry(data: Uint8Array): number {
    let pos = 0;
    if (this.carryLen < 4) {
      const n = Math.min(4 - this.carryLen, data.length);
      this.carry.set(data.subarray(0, n), this.carryLen);
      this.carryLen += n;
      pos = n;
      if (this.carryLen < 4) return pos;
    }
    const len = u32(this.carry, 0);
    if (len > MAX_MESSAGE_LENGTH) {
      this.carryLen = 0;
      this.tooLong(len);
      return data.length;
    }
    const total = 4 + len;
    if (this.carry.length < total) {
      const bigger = new Uint8Array(total);
      bigger.set(this.carry.subarray(0, this.carryLen));
      this.carry = bigger;
    }
    const n = Math.min(total - this.carryLen, data.length - pos);
    this.carry.set(data.subarray(pos, pos + n), this.carryLen);
    this.carryLen += n;
    pos += n;
    if (this.carryLen < total) return pos;
    this.carryLen = 0;
    const msg = this.carry;
    // A hostile or unusual peer's big message does not pin a big buffer for the connection's lifetime.
    if (msg.length > CARRY_SIZE * 4) this.carry = EMPTY;
    this.dispatch(msg, 4, len);
    return pos;
  }

  /** One whole message (body at buf[body], len bytes), in a buffer that is reused after the call. */
  private dispatch(buf: Uint8Array, body: number, len: number): void {
    const w = this.wire as unknown as WireParser;
    if (len === 0) w._onKeepAlive();
    else if (buf[body] === 7 && len >= 9) this.onPiece(u32(buf, body + 1), u32(buf, body + 5), buf.subarray(body + 9, body + len));
    else w._onMessage(buf.subarray(body, body + len));
  }

  private tooLong(len: number): void {
    this.counters.inc(M.peer_invalid_arg_peers);
    this.close(`message of ${len} bytes exceeds the limit`);
  }

  /**
   * Socket data read into one shared buffer (no allocation per read): parsed at once, synchronously. The
   * parser then holds views into a buffer the next read overwrites, so the few places that keep bytes past
   * the call (the peer's bitfield, extension messages, an unfinished message) get copies.
   *
   * Returns false once READ_BUDGET bytes were taken since reading last resumed: the socket then pauses
   * until the loop's next turn. libuv reads a ready socket up to 32 times in a row (8 MiB with our buffer)
   * before it looks at anything else, so a fast peer would otherwise hold off API requests and every
   * other peer for tens of milliseconds.
   */
  onRead(data: Uint8Array): boolean {
    if (this.closed) return true;
    const w = this.wire as unknown as WireParser;
    w._write(data, noop);
    if (w._bufferSize > 0) w._buffer = [Uint8Array.from(w._buffer[0]!)];
    return !this.tookTurn(data.length);
  }

  /** Counts bytes read; true (and a resume scheduled for the next turn) once the budget is spent. */
  private tookTurn(n: number): boolean {
    this.readInTurn += n;
    if (this.readInTurn < READ_BUDGET || this.closed) return false;
    this.readInTurn = 0;
    setImmediate(this.resumeReading);
    return true;
  }

  private readInTurn = 0;
  private readonly resumeReading = (): void => {
    if (!this.closed) this.socket.resume();
  };

  private keepNoViews(): void {
    const w = this.wire as unknown as { _onBitField(b: Uint8Array): void; _onExtended(ext: number, b: Uint8Array): void };
    const onBitField = w._onBitField;
    const onExtended = w._onExtended;
    // Uint8Array's slice copies; a Buffer's slice would be one more view of the reused memory.
    w._onBitField = function (this: unknown, b: Uint8Array): void {
      onBitField.call(this, copyOf(b));
    };
    w._onExtended = function (this: unknown, ext: number, b: Uint8Array): void {
      onExtended.call(this, ext, copyOf(b));
    };
  }

  /** Counts incoming messages by type, libtorrent's ses.num_incoming_* names. */
  private countIncoming(): void {
    const c = this.counters;
    const w = this.wire;
    const seen = (): void => {
      this.lastMessageAt = Date.now();
    };
    w.on('keep-alive', seen);
    w.on('choke', () => { seen(); if (!this.closed) c.inc(M.ses_num_incoming_choke); });
    w.on('unchoke', () => { seen(); c.inc(M.ses_num_incoming_unchoke); });
    w.on('interested', () => { seen(); c.inc(M.ses_num_incoming_interested); });
    w.on('uninterested', () => { seen(); if (!this.closed) c.inc(M.ses_num_incoming_not_interested); });
    w.on('have', () => { seen(); c.inc(M.ses_num_incoming_have); });
    w.on('bitfield', () => { seen(); c.inc(M.ses_num_incoming_bitfield); });
    w.on('request', () => { seen(); c.inc(M.ses_num_incoming_request); });
    w.on('cancel', () => { seen(); c.inc(M.ses_num_incoming_cancel); });
    w.on('reject', () => { seen(); c.inc(M.ses_num_incoming_reject); });
    w.on('have-all', () => { seen(); c.inc(M.ses_num_incoming_have_all); });
    w.on('have-none', () => { seen(); c.inc(M.ses_num_incoming_have_none); });
    w.on('allowed-fast', () => { seen(); c.inc(M.ses_num_incoming_allowed_fast); });
    w.on('suggest', () => { seen(); c.inc(M.ses_num_incoming_suggest); });
    w.on('port', () => { seen(); c.inc(M.ses_num_incoming_dht_port); });
    w.on('extended', (ext: string | number) => {
      seen();
      c.inc(M.ses_num_incoming_extended);
      if (ext === 'handshake') c.inc(M.ses_num_incoming_ext_handshake);
      else if (ext === 'ut_metadata') c.inc(M.ses_num_incoming_metadata);
      else if (ext === 'ut_pex') c.inc(M.ses_num_incoming_pex);
    });
    // 'piece' is counted by the torrent on its hot path together with the payload.
  }

  // Outgoing messages, each counted (ses.num_outgoing_*).
  choke(): void {
    if (this.wire.amChoking || this.closed) return;
    this.flushBatch();
    this.wire.choke();
    this.unchokedAt = 0;
    this.optimistic = false;
    this.counters.inc(M.ses_num_outgoing_choke);
  }

  unchoke(now: number, optimistic: boolean): void {
    if (this.closed) return;
    this.optimistic = optimistic;
    if (optimistic) this.lastOptimisticAt = now;
    if (!this.wire.amChoking) return;
    this.flushBatch();
    this.wire.unchoke();
    this.unchokedAt = now;
    this.uploadedSinceUnchoke = 0;
    this.counters.inc(M.ses_num_outgoing_unchoke);
  }

  interested(): void {
    if (this.wire.amInterested || this.closed) return;
    this.flushBatch();
    this.wire.interested();
    this.counters.inc(M.ses_num_outgoing_interested);
  }

  notInterested(): void {
    if (!this.wire.amInterested || this.closed) return;
    this.flushBatch();
    this.wire.uninterested();
    this.counters.inc(M.ses_num_outgoing_not_interested);
  }

  /** Batched with requests (see request()): one write per verified piece and peer would add up. */
  have(piece: number): void {
    if (this.closed) return;
    const batch = this.batchRoom(9);
    const at = this.batchLength;
    batch.writeUInt32BE(5, at);
    batch[at + 4] = 4;
    batch.writeUInt32BE(piece, at + 5);
    this.batchLength = at + 9;
    this.counters.inc(M.ses_num_outgoing_have);
  }

  /** Our pieces at connection start: have_all/have_none where the fast extension allows, else a bitfield. */
  sendPieces(bitfield: Uint8Array, numHave: number, numPieces: number): void {
    if (this.closed) return;
    if (this.wire.hasFast && numHave === numPieces) {
      this.wire.haveAll();
      this.counters.inc(M.ses_num_outgoing_have_all);
    } else if (this.wire.hasFast && numHave === 0) {
      this.wire.haveNone();
      this.counters.inc(M.ses_num_outgoing_have_none);
    } else if (numHave > 0) {
      this.wire.bitfield(bitfield);
      this.counters.inc(M.ses_num_outgoing_bitfield);
    }
  }

  /**
   * Queues a request. Requests and haves are batched: a batch leaves as one buffer (one write) at the end of
   * the current job. We track outstanding requests ourselves, so the library's per-request bookkeeping is
   * skipped. Callers check that the peer is not choking us.
   */
  request(piece: number, offset: number, length: number): void {
    if (this.closed) return;
    const batch = this.batchRoom(17);
    const at = this.batchLength;
    batch.writeUInt32BE(13, at);
    batch[at + 4] = 6;
    batch.writeUInt32BE(piece, at + 5);
    batch.writeUInt32BE(offset, at + 9);
    batch.writeUInt32BE(length, at + 13);
    this.batchLength = at + 17;
    this.counters.inc(M.ses_num_outgoing_request);
  }

  /** The batch buffer with room for `n` more bytes (the full one is sent first). */
  private batchRoom(n: number): Buffer {
    if (this.batch && this.batchLength + n > this.batch.length) this.flushBatch();
    if (!this.batch) {
      this.batch = Buffer.allocUnsafe(BATCH_BYTES);
      this.batchLength = 0;
      queueMicrotask(this.flushBatch);
    }
    return this.batch;
  }

  /** Sends the batched messages; also called before any other message so the peer sees them in order. */
  readonly flushBatch = (): void => {
    const batch = this.batch;
    if (!batch) return;
    const n = this.batchLength;
    this.batch = null;
    this.batchLength = 0;
    if (n > 0 && !this.closed) (this.wire as unknown as WireParser)._push(batch.subarray(0, n));
  };

  cancel(piece: number, offset: number, length: number): void {
    if (this.closed) return;
    this.flushBatch();
    this.wire.cancel(piece, offset, length);
    this.counters.inc(M.ses_num_outgoing_cancel);
  }

  reject(piece: number, offset: number, length: number): void {
    if (this.closed || !this.wire.hasFast) return;
    this.flushBatch();
    this.wire.reject(piece, offset, length);
    this.counters.inc(M.ses_num_outgoing_reject);
  }

  /** A block went out (bittorrent-protocol sent it from the request's respond callback). */
  accountUpload(n: number): void {
    this.uploadedPayload += n;
    this.uploadedInTick += n;
    this.uploadedSinceUnchoke += n;
    this.lastPayloadAt = Date.now();
    this.counters.inc(M.ses_num_outgoing_piece);
    this.counters.inc(M.net_sent_payload_bytes, n);
  }

  /** Moves the socket's byte counts since the last call into net.recv_bytes / net.sent_bytes. */
  private flushSocketBytes(): { read: number; written: number } {
    const read = this.socket.bytesRead - this.lastBytesRead;
    const written = this.socket.bytesWritten - this.lastBytesWritten;
    this.lastBytesRead += read;
    this.lastBytesWritten += written;
    this.counters.inc(M.net_recv_bytes, read);
    this.counters.inc(M.net_sent_bytes, written);
    return { read, written };
  }

  /** Called by the torrent once a second: rates and byte counters. */
  tick(seconds: number): void {
    const { read, written } = this.flushSocketBytes();
    // Half-life of one tick: reacts within two seconds, smooth enough for queue sizing and display.
    this.downloadRate = (this.downloadRate + this.downloadedInTick / seconds) / 2;
    this.uploadRate = (this.uploadRate + this.uploadedInTick / seconds) / 2;
    this.downloadRateAll = (this.downloadRateAll + read / seconds) / 2;
    this.uploadRateAll = (this.uploadRateAll + written / seconds) / 2;
    this.downloadedInTick = 0;
    this.uploadedInTick = 0;
  }

  /**
   * libtorrent's update_desired_queue_size: enough requests to cover request_queue_time seconds at the
   * measured rate; slow start (+1 per block) until the rate stops growing.
   */
  updateQueueTarget(requestQueueTime: number, blockSize: number): void {
    const cap = this.queueCap;
    if (this.snubbed) {
      this.queueTarget = 1;
      return;
    }
    if (this.slowStart) {
      const rate = this.downloadRate;
      if (this.lastBlockAt > 0 && this.prevTickRate > 0 && rate < this.prevTickRate * 1.1) this.slowStart = false;
      this.prevTickRate = rate;
      if (this.slowStart) return;
    }
    const target = Math.ceil((this.downloadRate * requestQueueTime) / blockSize);
    this.queueTarget = Math.max(2, Math.min(cap, target));
  }

  /** Requests we may have outstanding: ours and the peer's limit. */
  get queueCap(): number {
    return Math.max(2, Math.min(this.maxOutQueue, this.peerReqq));
  }

  /** Slow start: one more outstanding request per block received, up to the cap. */
  onBlockReceived(): void {
    if (!this.slowStart) return;
    if (this.queueTarget < this.queueCap) this.queueTarget++;
    else this.slowStart = false;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.markClosed(reason);
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason ||= reason;
    this.flushSocketBytes();
    // The library would go on parsing the rest of the current chunk (before our framing takes over).
    (this.wire as unknown as WireParser)._parse(Number.MAX_VALUE, noop);
    this.wire.setKeepAlive(false);
    this.wire.destroy();
    this.socket.destroy();
    this.onClose?.(this);
  }

  /** Set by the torrent: every block the peer sends (a view valid only during the call). */
  onPiece: (index: number, offset: number, block: Uint8Array) => void = noop;

  /** Set by the torrent: counts the peer's pieces once metadata (and so the piece count) is known. */
  recountPieces?: () => void;

  /** Set by the owner: called once when the connection ends for any reason. */
  onClose?: (peer: PeerConnection) => void;
}

function noop(): void {}

const EMPTY = new Uint8Array(0);
/** Room for one block message (16 KiB + 13 bytes of header), the usual message cut by a chunk's end. */
const CARRY_SIZE = 16 * 1024 + 13;

function copyOf(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** The parser state of bittorrent-protocol 5's Wire that our framing relies on. */
interface WireParser {
  _write(data: Uint8Array, cb: (err: null) => void): void;
  _push(data: Uint8Array): void;
  _parse(size: number, parser: (buf: Uint8Array) => void): void;
  _onMessageLength(buf: Uint8Array): void;
  _onMessage(buf: Uint8Array): void;
  _onKeepAlive(): void;
  _parser(buf: Uint8Array): void;
  _parserSize: number;
  _buffer: Uint8Array[];
  _bufferSize: number;
  _encryptor: unknown;
  _cryptoSyncPattern: unknown;
  _pePending: boolean;
}
