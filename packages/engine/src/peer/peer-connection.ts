import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import {
  WireDecoder, WireError, MSG, KEEP_ALIVE, encodeHandshake, encodeSimple,
  encodeBlockRef, encodeBitfield, encodeExtended, encodeHashMessage, writeIndex, writeBlockRef,
  type BufferBudget, type Handshake, type WireHandler,
} from '../wire/codec.js';
import { ExtensionRegistry, type ExtensionWire, type WireExtensionCtor } from '../wire/extensions.js';
import bencode from 'bencode';
import type { Encryption } from '../transport/mse.js';
import type { Transport, TransportSink } from '../transport/transport.js';
import type { PickOptions } from '../algo/piece-picker.js';

/** Outgoing batch buffer: 64 requests of 17 bytes, more than a queue refill usually sends. */
const BATCH_BYTES = 64 * 17;
/** BEP 3: a keep-alive when nothing else was sent for this long (peers time out after about two minutes). */
const KEEP_ALIVE_MS = 60_000;
/** Requests from the peer we remember (and may answer); the torrent refuses more per its settings. */
const MAX_PEER_REQUESTS = 2000;

let nextPeerId = 1;

/**
 * Piece message headers (13 bytes each) are cut from a slab shared by every connection instead of allocated
 * per block. A header stays referenced by its socket's write queue until it is written, so a slab is never
 * written twice: a full one is left to the GC (with the last header it holds) and a fresh one takes over.
 * Buffers, not Uint8Arrays: a stream write wraps a Uint8Array in a new Buffer first.
 */
const HEADER_SLAB_BYTES = 13 * 4096;
let headerSlab = Buffer.allocUnsafeSlow(HEADER_SLAB_BYTES);
let headerAt = 0;

/** A piece message's header (length, id, index, offset) for a block of `length` bytes, from the slab. */
function pieceHeader(index: number, offset: number, length: number): Buffer {
  if (headerAt + 13 > HEADER_SLAB_BYTES) {
    headerSlab = Buffer.allocUnsafeSlow(HEADER_SLAB_BYTES);
    headerAt = 0;
  }
  const h = headerSlab.subarray(headerAt, headerAt + 13);
  headerAt += 13;
  h.writeUInt32BE(9 + length, 0);
  h[4] = MSG.piece;
  h.writeUInt32BE(index, 5);
  h.writeUInt32BE(offset, 9);
  return h;
}

export type Direction = 'incoming' | 'outgoing';

/** The peer's pieces: a bit per piece (MSB first, as on the wire), or all of them (have all). */
export class PeerPieces {
  private bits: Uint8Array = new Uint8Array(0);
  all = false;

  get(i: number): boolean {
    if (this.all) return true;
    const byte = i >> 3;
    return byte < this.bits.length && (this.bits[byte]! & (128 >> (i & 7))) !== 0;
  }

  set(i: number): void {
    const byte = i >> 3;
    if (byte >= this.bits.length) {
      const bigger = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      bigger.set(this.bits);
      this.bits = bigger;
    }
    this.bits[byte]! |= 128 >> (i & 7);
  }

  /** A bitfield message's bits (copied). */
  assign(bits: Uint8Array): void {
    // Uint8Array's slice copies; a Buffer's (a socket read) would be a view of memory the next read overwrites.
    this.bits = Uint8Array.prototype.slice.call(bits);
    this.all = false;
  }

  /** The highest piece index set plus one (to check haves and bitfields that came before the piece count). */
  extent(): number {
    if (this.all) return 0;
    for (let b = this.bits.length - 1; b >= 0; b--) {
      const v = this.bits[b]!;
      if (v === 0) continue;
      for (let bit = 7; bit >= 0; bit--) if (v & (1 << bit)) return b * 8 + (7 - bit) + 1;
    }
    return 0;
  }
}

/** What the torrent hears from a peer (set by Torrent.attachPeer); views are valid only during the call. */
export interface PeerListener {
  bitfield(): void;
  haveAll(): void;
  haveNone(): void;
  have(index: number): void;
  choke(): void;
  unchoke(): void;
  interested(): void;
  notInterested(): void;
  request(index: number, offset: number, length: number): void;
  piece(index: number, offset: number, block: Uint8Array): void;
  reject(index: number, offset: number, length: number): void;
  extendedHandshake(hs: Record<string, unknown>): void;
  metadata(payload: Uint8Array): void;
  /** BEP 52 hash messages (only on a v2 connection); `root` and `hashes` are views valid during the call. */
  hashRequest(root: Uint8Array, base: number, index: number, count: number, proofLayers: number): void;
  hashes(root: Uint8Array, base: number, index: number, count: number, proofLayers: number, hashes: Uint8Array): void;
  hashReject(root: Uint8Array, base: number, index: number, count: number, proofLayers: number): void;
}

function noop(): void {}

const IDLE: PeerListener = {
  bitfield: noop, haveAll: noop, haveNone: noop, have: noop, choke: noop, unchoke: noop, interested: noop,
  notInterested: noop, request: noop, piece: noop, reject: noop, extendedHandshake: noop, metadata: noop,
  hashRequest: noop, hashes: noop, hashReject: noop,
};

/**
 * One peer connection: the wire codec (wire/codec.ts) over a transport, the protocol state of both sides
 * (choke, interest, the peer's pieces, its requests, extensions) and the per-peer figures the torrent and
 * choker need (rates, queue depth, outstanding requests, timestamps). It decides nothing about pieces
 * itself; the torrent does. A protocol violation ends the connection, counted in peer.invalid_arg_peers.
 */
export class PeerConnection implements ExtensionWire, WireHandler, TransportSink {
  readonly id = nextPeerId++;
  readonly connectedAt = Date.now();
  /** Remote peer id, hex, once the handshake arrived. */
  peerId = '';
  /** Client name from the extended handshake's `v`. */
  client = '';
  /** How the connection is carried: plaintext BitTorrent, or MSE with an RC4 or a plaintext payload (set once joined). */
  encryption: Encryption = 'none';
  closed = false;
  closeReason = '';
  /** The port the peer accepts connections on: ours to dial for outgoing, its extended handshake's `p` for incoming. */
  listenPort = 0;

  // Protocol state.
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  /** Both sides set the fast-extension bit (BEP 6). */
  hasFast = false;
  /**
   * The connection speaks BitTorrent v2 (BEP 52): it was made with a v2 torrent's (truncated) v2 hash, or a
   * hybrid's v1 connection was upgraded. Only then are hash messages allowed (as libtorrent rules).
   */
  v2 = false;
  readonly pieces = new PeerPieces();
  /** A bitfield, have all or have none arrived (only one may). */
  private piecesAnnounced = false;
  private handshakeSent = false;
  private extendedSent = false;
  private peerHandshake: Handshake | null = null;
  private readonly extensions = new ExtensionRegistry();
  /** The peer's requests not yet answered, as (index, offset, length) triples. */
  private readonly peerRequests: number[] = [];
  private readonly decoder: WireDecoder;

  // Our view of the peer.
  /** Block ids requested from this peer and not yet answered. */
  readonly outstanding = new Set<number>();
  /** Reused for every pick from this peer (no allocation per pick); exclude keeps end-game duplicates off this peer. */
  readonly pickOptions: PickOptions = {
    sequential: false, snubbed: false, allowBusy: false, exclude: (id: number): boolean => this.outstanding.has(id), reason: undefined,
  };
  /** Requests we gave up on without a cancel (choke, snub): their blocks may still come and are not a violation. */
  stragglers = 0;
  /** Blocks that came without a request (see Torrent.onBlock). */
  unsolicitedBlocks = 0;
  /** Bytes of blocks being read from disk for this peer (not yet in the send queue). */
  uploadReading = 0;
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
  lastSentAt = Date.now();
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
  /** Protocol + payload bytes per second, from the transport's own counters. */
  downloadRateAll = 0;
  uploadRateAll = 0;
  private lastBytesRead = 0;
  private lastBytesWritten = 0;
  private prevTickRate = 0;
  /** Requests and haves waiting to leave in one write (see request()). */
  private batch: Uint8Array | null = null;
  private batchLength = 0;
  private readonly closeListeners: (() => void)[] = [];

  /** The torrent's side (set by Torrent.attachPeer). */
  listener: PeerListener = IDLE;
  /** Set by the session: the peer's handshake arrived (before any message after it is read). */
  handshakeReceived: (h: Handshake) => void = noop;
  /** Set by the torrent: the send queue shrank (uploads held back by its watermark may go on). */
  drained: () => void = noop;
  /** Set by the owner: called once when the connection ends for any reason. */
  onClose?: (peer: PeerConnection) => void;

  constructor(
    readonly transport: Transport,
    readonly direction: Direction,
    private readonly counters: Counters,
    /** The session's cap on partial messages held by all its connections (none: this connection's own cap only). */
    budget: BufferBudget | null = null,
  ) {
    this.ip = transport.remoteAddress;
    this.port = transport.remotePort;
    if (direction === 'outgoing') this.listenPort = this.port;
    this.decoder = new WireDecoder(this, budget);
    this.extensions.registerName('ut_metadata');
    transport.attach(this);
  }

  readonly ip: string;
  readonly port: number;

  // ---------------------------------------------------------------- transport → codec

  /** TransportSink: one read, decoded at once (the view is not kept). */
  onData(data: Uint8Array): void {
    if (this.closed) return;
    try {
      this.decoder.feed(data);
    } catch (e) {
      this.violation(e);
    }
  }

  private violation(e: unknown): void {
    // libtorrent counts errors on encrypted connections apart (peer.error_encrypted_peers, peer.error_rc4_peers).
    if (this.encryption !== 'none') this.counters.inc(M.peer_error_encrypted_peers);
    if (this.encryption === 'rc4') this.counters.inc(M.peer_error_rc4_peers);
    if (!(e instanceof WireError)) {
      // A fault of ours while handling the peer's message: that connection ends, the session goes on.
      this.counters.inc(M.peer_error_peers);
      this.close(`internal error handling a message: ${(e as Error)?.message ?? String(e)}`);
      return;
    }
    if (e.kind === 'memory') this.counters.inc(M.peer_no_memory_peers);
    else if (e.kind === 'protocol') this.counters.inc(M.peer_invalid_arg_peers);
    this.close(e.message);
  }

  /** The torrent's piece count is known: indices and bitfields are checked against it from now on. */
  setPieceCount(n: number): void {
    this.decoder.setPieceCount(n);
    const extent = this.pieces.extent();
    if (extent > n) this.protocolError(`HAVE or bitfield for piece ${extent - 1} of a torrent of ${n} pieces`);
  }

  /** Ends the connection for a protocol violation found above the codec (the torrent's checks). */
  protocolError(reason: string): void {
    if (this.closed) return;
    this.counters.inc(M.peer_invalid_arg_peers);
    this.close(reason);
  }

  // ---------------------------------------------------------------- WireHandler: incoming messages, counted

  onHandshake(h: Handshake): void {
    this.peerHandshake = h;
    this.hasFast = h.fast; // we always offer it
    this.lastMessageAt = Date.now();
    // An outgoing connection sent its handshake already: the extended one follows before anything else.
    this.afterHandshakes();
    this.handshakeReceived(h);
  }

  onKeepAlive(): void {
    this.lastMessageAt = Date.now();
  }

  onChoke(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_choke);
    this.peerChoking = true;
    this.listener.choke();
  }

  onUnchoke(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_unchoke);
    this.peerChoking = false;
    this.listener.unchoke();
  }

  onInterested(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_interested);
    this.peerInterested = true;
    this.listener.interested();
  }

  onNotInterested(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_not_interested);
    this.peerInterested = false;
    this.listener.notInterested();
  }

  onHave(index: number): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_have);
    if (this.pieces.get(index)) return;
    this.pieces.set(index);
    this.listener.have(index);
  }

  onBitfield(bits: Uint8Array): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_bitfield);
    this.announcePieces('bitfield');
    if (this.closed) return;
    this.pieces.assign(bits);
    this.listener.bitfield();
  }

  onHaveAll(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_have_all);
    if (!this.requireFast('have all')) return;
    this.announcePieces('have all');
    if (this.closed) return;
    this.pieces.all = true;
    this.listener.haveAll();
  }

  onHaveNone(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_have_none);
    if (!this.requireFast('have none')) return;
    this.announcePieces('have none');
    if (!this.closed) this.listener.haveNone();
  }

  onRequest(index: number, offset: number, length: number): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_request);
    if (this.amChoking) {
      // Sent before our choke arrived, or a peer ignoring it: rejected with the fast extension, else dropped.
      this.counters.inc(M.peer_choked_piece_requests);
      this.sendReject(index, offset, length);
      return;
    }
    if (this.peerRequests.length >= MAX_PEER_REQUESTS * 3) return this.protocolError(`more than ${MAX_PEER_REQUESTS} requests outstanding`);
    this.peerRequests.push(index, offset, length);
    this.listener.request(index, offset, length);
  }

  onPiece(index: number, offset: number, block: Uint8Array): void {
    // Counted (ses.num_incoming_piece) by the torrent on its hot path together with the payload.
    this.listener.piece(index, offset, block);
  }

  onCancel(index: number, offset: number, length: number): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_cancel);
    this.forgetPeerRequest(this.findPeerRequest(index, offset, length));
  }

  onPort(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_dht_port);
  }

  onSuggest(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_suggest);
  }

  onReject(index: number, offset: number, length: number): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_reject);
    if (!this.requireFast('reject')) return;
    this.listener.reject(index, offset, length);
  }

  onAllowedFast(): void {
    this.seen();
    this.counters.inc(M.ses_num_incoming_allowed_fast);
  }

  onHashRequest(root: Uint8Array, base: number, index: number, count: number, proofLayers: number): void {
    this.seen();
    if (!this.requireV2('hash request')) return;
    this.listener.hashRequest(root, base, index, count, proofLayers);
  }

  onHashes(root: Uint8Array, base: number, index: number, count: number, proofLayers: number, hashes: Uint8Array): void {
    this.seen();
    if (!this.requireV2('hashes')) return;
    this.listener.hashes(root, base, index, count, proofLayers, hashes);
  }

  onHashReject(root: Uint8Array, base: number, index: number, count: number, proofLayers: number): void {
    this.seen();
    if (!this.requireV2('hash reject')) return;
    this.listener.hashReject(root, base, index, count, proofLayers);
  }

  private requireV2(what: string): boolean {
    if (this.v2) return true;
    this.protocolError(`${what} on a connection that does not speak BitTorrent v2`);
    return false;
  }

  /** BEP 52: asks for hashes (the torrent decides which), answers with hashes, or refuses a request. */
  sendHashMessage(id: number, root: Uint8Array, base: number, index: number, count: number, proofLayers: number, hashes?: Uint8Array): void {
    if (this.closed) return;
    this.flushBatch();
    this.send(encodeHashMessage(id, root, base, index, count, proofLayers, hashes));
    this.counters.inc(id === MSG.hashRequest ? M.ses_num_outgoing_hash_request : id === MSG.hashes ? M.ses_num_outgoing_hashes : M.ses_num_outgoing_hash_reject);
  }

  onExtended(id: number, payload: Uint8Array): void {
    this.seen();
    const c = this.counters;
    c.inc(M.ses_num_incoming_extended);
    if (id === 0) {
      c.inc(M.ses_num_incoming_ext_handshake);
      const hs = this.extensions.onHandshake(payload);
      if (typeof hs.reqq === 'number' && hs.reqq > 0) this.peerReqq = Math.min(hs.reqq, 100000);
      if (hs.v instanceof Uint8Array) this.client = new TextDecoder().decode(hs.v.subarray(0, 256)).slice(0, 64);
      if (typeof hs.p === 'number' && hs.p > 0 && hs.p < 65536) this.listenPort = hs.p;
      this.listener.extendedHandshake(hs);
      return;
    }
    if (id === this.extensions.localId('ut_metadata')) {
      c.inc(M.ses_num_incoming_metadata);
      this.listener.metadata(payload);
      return;
    }
    if (id === this.extensions.localId('ut_pex')) c.inc(M.ses_num_incoming_pex);
    this.extensions.dispatch(id, payload);
  }

  private seen(): void {
    this.lastMessageAt = Date.now();
  }

  private requireFast(what: string): boolean {
    if (this.hasFast) return true;
    // BEP 6: a peer that sends a fast-extension message without having negotiated it MUST be disconnected.
    this.protocolError(`${what} without the fast extension`);
    return false;
  }

  private announcePieces(what: string): void {
    if (this.piecesAnnounced) this.protocolError(`a second bitfield (${what})`);
    this.piecesAnnounced = true;
  }

  private findPeerRequest(index: number, offset: number, length: number): number {
    const r = this.peerRequests;
    for (let i = 0; i < r.length; i += 3) if (r[i] === index && r[i + 1] === offset && r[i + 2] === length) return i;
    return -1;
  }

  /**
   * Drops the request at `i` (none when -1). splice, not copyWithin: V8's splice moves the array's backing
   * store in one memmove, copyWithin element by element (300x slower on 6,000 entries, measured).
   */
  private forgetPeerRequest(i: number): void {
    if (i >= 0) this.peerRequests.splice(i, 3);
  }

  /** The peer still wants this block (not cancelled, not dropped by our choke). */
  wantsBlock(index: number, offset: number, length: number): boolean {
    return this.findPeerRequest(index, offset, length) >= 0;
  }

  /** Requests from the peer waiting for an answer. */
  get peerRequestCount(): number {
    return this.peerRequests.length / 3;
  }

  // ---------------------------------------------------------------- handshakes

  /** Sends our handshake (an outgoing connection at once; an incoming one after the peer's matched a torrent). */
  sendHandshake(infoHash: Uint8Array, peerId: Uint8Array, v2 = false): void {
    if (this.closed || this.handshakeSent) return;
    this.handshakeSent = true;
    this.send(encodeHandshake({ infoHash, peerId, dht: false, fast: true, extended: true, v2 }));
    this.afterHandshakes();
  }

  /** Both handshakes done: the fast extension is settled and our extended handshake goes out. */
  private afterHandshakes(): void {
    const peer = this.peerHandshake;
    if (!peer || !this.handshakeSent || this.extendedSent) return;
    this.extendedSent = true;
    if (peer.extended) {
      this.send(encodeExtended(0, this.extensions.encodeHandshake()));
      this.counters.inc(M.ses_num_outgoing_ext_handshake);
      this.counters.inc(M.ses_num_outgoing_extended);
    }
  }

  // ---------------------------------------------------------------- ExtensionWire (ut_pex)

  get extendedHandshake(): Record<string, unknown> {
    return this.extensions.extendedHandshake;
  }

  get peerExtendedHandshake(): Record<string, unknown> {
    return this.extensions.peerExtendedHandshake;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  use(ctor: WireExtensionCtor): void {
    this.extensions.register(new ctor(this));
  }

  once(_event: 'close', fn: () => void): void {
    this.closeListeners.push(fn);
  }

  sendExtended(name: string, payload: Uint8Array): boolean {
    const id = this.extensions.remoteId(name);
    if (id === 0 || this.closed) return false;
    this.flushBatch();
    this.send(encodeExtended(id, payload));
    this.counters.inc(M.ses_num_outgoing_extended);
    return true;
  }

  /** ExtensionWire's send: `msg` bencoded unless it is bytes. Throws if the peer does not speak `name`. */
  extended(name: string, msg: unknown): void {
    const payload = msg instanceof Uint8Array ? msg : bencode.encode(msg);
    if (!this.sendExtended(name, payload) && !this.closed) throw new Error(`the peer does not support ${name}`);
  }

  /** Whether the peer's extended handshake offered `name`. */
  supports(name: string): boolean {
    return this.extensions.remoteId(name) !== 0;
  }

  // ---------------------------------------------------------------- outgoing messages, each counted (ses.num_outgoing_*)

  private send(data: Uint8Array): void {
    this.lastSentAt = Date.now();
    this.transport.write(data);
  }

  choke(): void {
    if (this.amChoking || this.closed) return;
    this.flushBatch();
    this.amChoking = true;
    this.send(encodeSimple(MSG.choke));
    // BEP 6: with the fast extension, pending requests are rejected explicitly; without, the choke drops them.
    const r = this.peerRequests;
    if (this.hasFast) for (let i = 0; i < r.length; i += 3) this.sendReject(r[i]!, r[i + 1]!, r[i + 2]!);
    r.length = 0;
    this.unchokedAt = 0;
    this.optimistic = false;
    this.counters.inc(M.ses_num_outgoing_choke);
  }

  unchoke(now: number, optimistic: boolean): void {
    if (this.closed) return;
    this.optimistic = optimistic;
    if (optimistic) this.lastOptimisticAt = now;
    if (!this.amChoking) return;
    this.flushBatch();
    this.amChoking = false;
    this.send(encodeSimple(MSG.unchoke));
    this.unchokedAt = now;
    this.uploadedSinceUnchoke = 0;
    this.counters.inc(M.ses_num_outgoing_unchoke);
  }

  interested(): void {
    if (this.amInterested || this.closed) return;
    this.flushBatch();
    this.amInterested = true;
    this.send(encodeSimple(MSG.interested));
    this.counters.inc(M.ses_num_outgoing_interested);
  }

  notInterested(): void {
    if (!this.amInterested || this.closed) return;
    this.flushBatch();
    this.amInterested = false;
    this.send(encodeSimple(MSG.notInterested));
    this.counters.inc(M.ses_num_outgoing_not_interested);
  }

  /** Batched with requests (see request()): one write per verified piece and peer would add up. */
  have(piece: number): void {
    if (this.closed) return;
    const batch = this.batchRoom(9);
    writeIndex(batch, this.batchLength, MSG.have, piece);
    this.batchLength += 9;
    this.counters.inc(M.ses_num_outgoing_have);
  }

  /** Our pieces at connection start: have_all/have_none where the fast extension allows, else a bitfield. */
  sendPieces(bitfield: Uint8Array, numHave: number, numPieces: number): void {
    if (this.closed) return;
    if (this.hasFast && numHave === numPieces) {
      this.send(encodeSimple(MSG.haveAll));
      this.counters.inc(M.ses_num_outgoing_have_all);
    } else if (this.hasFast && numHave === 0) {
      this.send(encodeSimple(MSG.haveNone));
      this.counters.inc(M.ses_num_outgoing_have_none);
    } else if (numHave > 0) {
      this.send(encodeBitfield(bitfield));
      this.counters.inc(M.ses_num_outgoing_bitfield);
    }
  }

  /**
   * Queues a request. Requests and haves are batched: a batch leaves as one buffer (one write) at the end of
   * the current job. Callers check that the peer is not choking us and track what is outstanding.
   */
  request(piece: number, offset: number, length: number): void {
    if (this.closed) return;
    const batch = this.batchRoom(17);
    writeBlockRef(batch, this.batchLength, MSG.request, piece, offset, length);
    this.batchLength += 17;
    this.counters.inc(M.ses_num_outgoing_request);
  }

  /** The batch buffer with room for `n` more bytes (the full one is sent first). */
  private batchRoom(n: number): Uint8Array {
    if (this.batch && this.batchLength + n > this.batch.length) this.flushBatch();
    if (!this.batch) {
      this.batch = new Uint8Array(BATCH_BYTES);
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
    if (n > 0 && !this.closed) this.send(batch.subarray(0, n));
  };

  cancel(piece: number, offset: number, length: number): void {
    if (this.closed) return;
    this.flushBatch();
    this.send(encodeBlockRef(MSG.cancel, piece, offset, length));
    this.stragglers++;
    this.counters.inc(M.ses_num_outgoing_cancel);
  }

  /** Refuses one of the peer's requests: forgotten, and a reject sent where the fast extension allows. */
  refuseRequest(index: number, offset: number, length: number): void {
    this.forgetPeerRequest(this.findPeerRequest(index, offset, length));
    this.sendReject(index, offset, length);
  }

  private sendReject(index: number, offset: number, length: number): void {
    if (this.closed || !this.hasFast) return;
    this.flushBatch();
    this.send(encodeBlockRef(MSG.reject, index, offset, length));
    this.counters.inc(M.ses_num_outgoing_reject);
  }

  /**
   * Answers one of the peer's requests with `block`, unless the peer cancelled it (or we choked) meanwhile.
   * The header and the block leave in one write without copying the block. True if it was sent.
   */
  sendBlock(index: number, offset: number, block: Uint8Array): boolean {
    const i = this.findPeerRequest(index, offset, block.length);
    if (i < 0 || this.closed) return false;
    this.forgetPeerRequest(i);
    this.flushBatch();
    const t = this.transport;
    t.cork();
    const now = Date.now();
    this.lastSentAt = now;
    t.write(pieceHeader(index, offset, block.length));
    t.write(block, this.blockFlushed);
    t.uncork();
    this.accountUpload(block.length, now);
    return true;
  }

  private accountUpload(n: number, now = Date.now()): void {
    this.uploadedPayload += n;
    this.uploadedInTick += n;
    this.uploadedSinceUnchoke += n;
    this.lastPayloadAt = now;
    this.counters.inc(M.ses_num_outgoing_piece);
    this.counters.inc(M.net_sent_payload_bytes, n);
  }

  /** Sends a BEP 9 message (already encoded) to the peer's ut_metadata id; false if it does not speak it. */
  sendMetadata(payload: Uint8Array): boolean {
    const sent = this.sendExtended('ut_metadata', payload);
    if (sent) this.counters.inc(M.ses_num_outgoing_metadata);
    return sent;
  }

  /** Moves the transport's byte counts since the last call into net.recv_bytes / net.sent_bytes. */
  private flushTransportBytes(): { read: number; written: number } {
    const read = this.transport.bytesRead - this.lastBytesRead;
    const written = this.transport.bytesWritten - this.lastBytesWritten;
    this.lastBytesRead += read;
    this.lastBytesWritten += written;
    this.counters.inc(M.net_recv_bytes, read);
    this.counters.inc(M.net_sent_bytes, written);
    return { read, written };
  }

  /** Called by the torrent once a second: rates, byte counters, keep-alive. */
  tick(seconds: number, now = Date.now()): void {
    const { read, written } = this.flushTransportBytes();
    // Half-life of one tick: reacts within two seconds, smooth enough for queue sizing and display.
    this.downloadRate = (this.downloadRate + this.downloadedInTick / seconds) / 2;
    this.uploadRate = (this.uploadRate + this.uploadedInTick / seconds) / 2;
    this.downloadRateAll = (this.downloadRateAll + read / seconds) / 2;
    this.uploadRateAll = (this.uploadRateAll + written / seconds) / 2;
    this.downloadedInTick = 0;
    this.uploadedInTick = 0;
    if (now - this.lastSentAt >= KEEP_ALIVE_MS && !this.closed) {
      this.flushBatch();
      this.send(KEEP_ALIVE);
    }
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

  /** A block left the send queue: room for what waits on the watermark (see Torrent.serve). */
  private readonly blockFlushed = (): void => {
    if (!this.closed) this.drained();
  };

  /** TransportSink: the send queue drained. */
  onDrain(): void {
    if (!this.closed) this.drained();
  }

  /** TransportSink: the transport ended. */
  onClosed(reason: string): void {
    this.markClosed(reason);
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason ||= reason;
    this.decoder.stop();
    this.flushTransportBytes();
    this.transport.close(this.closeReason);
    this.peerRequests.length = 0;
    for (const fn of this.closeListeners.splice(0)) fn();
    this.onClose?.(this);
  }
}
