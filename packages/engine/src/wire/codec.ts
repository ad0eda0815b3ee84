/**
 * The peer wire protocol, bytes in → messages out and messages → bytes, with no socket: BEP 3 (handshake
 * and every message), BEP 6 (fast extension), BEP 10 (the extended message; its payloads are read by
 * wire/extensions.ts). Everything a peer sends is checked here against what BEP 3/6/10 allow and against
 * hard length caps, so a hostile peer costs at most one capped message of memory and ends with a WireError
 * (a reason a user can read), never a hang or another exception.
 */
import { SpritzleError } from '../errors.js';
import { BLOCK_SIZE } from '../block-size.js';
// One limit for the metadata we fetch and the metadata we load: a larger copy would be fetched to be refused.
import { MAX_METADATA_SIZE } from '../metainfo/metainfo.js';

export const PROTOCOL = 'BitTorrent protocol';
export const HANDSHAKE_LENGTH = 68;
/** The block size we request and serve (BEP 3's de-facto 16 KiB). */
export { BLOCK_SIZE };
/** Largest block a peer may ask of us (libtorrent refuses requests above 128 KiB as invalid). */
export const MAX_REQUEST_LENGTH = 128 * 1024;

/** Message ids (BEP 3, BEP 6, BEP 10). */
export const MSG = {
  choke: 0, unchoke: 1, interested: 2, notInterested: 3, have: 4, bitfield: 5, request: 6, piece: 7,
  cancel: 8, port: 9, suggest: 13, haveAll: 14, haveNone: 15, reject: 16, allowedFast: 17, extended: 20,
} as const;

/**
 * Length caps, in bytes of a message body (id + payload, the length prefix excluded). A cap is checked when
 * the length prefix arrives (the largest of them) and again when the id is known (the cap of that message),
 * so nothing beyond a cap is ever buffered.
 * - piece: 9 + one 16 KiB block: we never request more, so a larger block is never one we asked for.
 * - bitfield: one bit per piece. Once the piece count is known, exactly ceil(pieces / 8) bytes; before
 *   (a magnet), at most what the largest metadata we accept can describe (20 bytes of hash per piece).
 * - extended: 64 KiB: a ut_metadata piece is 16 KiB plus a small dictionary; handshakes and PEX are a few KiB.
 */
export { MAX_METADATA_SIZE };
/** The most pieces an info dictionary we load can describe (20 bytes of hash each). */
export const MAX_PIECES = Math.floor(MAX_METADATA_SIZE / 20);
export const MAX_PIECE_MESSAGE = 9 + BLOCK_SIZE;
export const MAX_BITFIELD_MESSAGE = 1 + Math.ceil(MAX_PIECES / 8);
export const MAX_EXTENDED_MESSAGE = 64 * 1024;
/** The largest message body of any kind: the most one peer can make us buffer. */
export const MAX_MESSAGE_LENGTH = Math.max(MAX_PIECE_MESSAGE, MAX_BITFIELD_MESSAGE, MAX_EXTENDED_MESSAGE);

/** A peer broke the protocol: the connection ends with this reason. */
export class WireError extends SpritzleError {
  /** 'protocol': a malformed or illegal message; 'memory': a buffer cap was reached; 'encrypted': an MSE/PE handshake. */
  readonly kind: 'protocol' | 'memory' | 'encrypted';
  constructor(message: string, kind: 'protocol' | 'memory' | 'encrypted' = 'protocol') {
    super('peer_protocol_error', message);
    this.name = 'WireError';
    this.kind = kind;
  }
}

export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Reserved bits: BEP 5 (DHT port message), BEP 6 (fast extension), BEP 10 (extension protocol). */
  dht: boolean;
  fast: boolean;
  extended: boolean;
}

const PROTOCOL_BYTES = new TextEncoder().encode(PROTOCOL);

export function encodeHandshake(h: Handshake): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = 19;
  out.set(PROTOCOL_BYTES, 1);
  if (h.extended) out[25] = 0x10;
  if (h.fast) out[27] = 0x04;
  if (h.dht) out[27] |= 0x01;
  out.set(h.infoHash.subarray(0, 20), 28);
  out.set(h.peerId.subarray(0, 20), 48);
  return out;
}

/** Reads a 68-byte handshake at `at` (copies what it keeps). */
export function decodeHandshake(buf: Uint8Array, at = 0): Handshake {
  if (buf[at] !== 19) throw new WireError(`not a plain BitTorrent handshake (an encrypted connection? those are not supported yet)`, 'encrypted');
  for (let i = 0; i < 19; i++) {
    if (buf[at + 1 + i] !== PROTOCOL_BYTES[i]) throw new WireError('not a BitTorrent handshake (protocol string)');
  }
  return {
    infoHash: buf.slice(at + 28, at + 48),
    peerId: buf.slice(at + 48, at + 68),
    extended: (buf[at + 25]! & 0x10) !== 0,
    fast: (buf[at + 27]! & 0x04) !== 0,
    dht: (buf[at + 27]! & 0x01) !== 0,
  };
}

/**
 * What the decoder calls, one method per message. Byte views (bitfield, block, extended payload) are valid
 * only during the call: they may point into a read buffer that the next read overwrites.
 */
export interface WireHandler {
  onHandshake(h: Handshake): void;
  onKeepAlive(): void;
  onChoke(): void;
  onUnchoke(): void;
  onInterested(): void;
  onNotInterested(): void;
  onHave(index: number): void;
  onBitfield(bits: Uint8Array): void;
  onRequest(index: number, offset: number, length: number): void;
  onPiece(index: number, offset: number, block: Uint8Array): void;
  onCancel(index: number, offset: number, length: number): void;
  onPort(port: number): void;
  onSuggest(index: number): void;
  onHaveAll(): void;
  onHaveNone(): void;
  onReject(index: number, offset: number, length: number): void;
  onAllowedFast(index: number): void;
  onExtended(id: number, payload: Uint8Array): void;
}

/** Bytes of partial messages held across peers (a session-wide cap on what peers can pin). */
export class BufferBudget {
  held = 0;
  constructor(readonly max: number) {}
}

const EMPTY = new Uint8Array(0);
/** Room for one block message, the usual message cut by the end of a read. */
export const CARRY_SIZE = 4 + MAX_PIECE_MESSAGE;

/**
 * The decoder for one connection. Whole messages are dispatched straight from each read; a message cut by
 * the end of a read is completed in one per-connection buffer (`carry`), so a steady stream of blocks
 * allocates nothing. `feed` throws only WireError; after one, or after stop(), it ignores further input.
 */
export class WireDecoder {
  private carry = EMPTY;
  private carryLen = 0;
  private stopped = false;
  private awaitingHandshake: boolean;
  /** 0 until the torrent's piece count is known; then indices and bitfields are checked against it. */
  private numPieces = 0;
  private maxBitfield = MAX_BITFIELD_MESSAGE;

  constructor(
    private readonly handler: WireHandler,
    private readonly budget: BufferBudget | null = null,
    options: { handshake?: boolean } = {},
  ) {
    this.awaitingHandshake = options.handshake ?? true;
  }

  /** The torrent's piece count: indices beyond it and a bitfield of another size are violations. */
  setPieceCount(n: number): void {
    this.numPieces = n;
    this.maxBitfield = 1 + Math.ceil(n / 8);
  }

  /** Ends decoding (the connection closed): the rest of the current read and later ones are ignored. */
  stop(): void {
    this.stopped = true;
    this.release();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Bytes held for a message cut by a read boundary. */
  get buffered(): number {
    return this.carry.length;
  }

  feed(data: Uint8Array): void {
    if (this.stopped) return;
    try {
      this.feedInner(data);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  private feedInner(data: Uint8Array): void {
    let pos = 0;
    if (this.carryLen > 0 || this.awaitingHandshake) {
      pos = this.fillCarry(data);
      if (this.carryLen > 0 || this.stopped) return;
    }
    const end = data.length;
    while (end - pos >= 4 && !this.stopped) {
      const len = u32(data, pos);
      if (len > MAX_MESSAGE_LENGTH) throw tooLong(len);
      if (end - pos - 4 < len) {
        if (end - pos > 4) this.checkLength(data[pos + 4]!, len);
        break;
      }
      this.dispatch(data, pos + 4, len);
      pos += 4 + len;
    }
    if (pos < end && !this.stopped) {
      const tail = end - pos;
      // Room for the whole message once its id (and so its cap) is known; until then, the usual size.
      this.ensureCarry(tail > 4 ? 4 + u32(data, pos) : 5);
      this.carry.set(data.subarray(pos), 0);
      this.carryLen = tail;
    }
  }

  /** Adds the start of `data` to the cut message (or the handshake); dispatches it once whole. Returns bytes used. */
  private fillCarry(data: Uint8Array): number {
    let pos = 0;
    if (this.awaitingHandshake) {
      if (this.carryLen === 0 && data.length > 0 && data[0] !== 19) decodeHandshake(data, 0); // throws
      this.ensureCarry(HANDSHAKE_LENGTH);
      const n = Math.min(HANDSHAKE_LENGTH - this.carryLen, data.length);
      this.carry.set(data.subarray(0, n), this.carryLen);
      this.carryLen += n;
      if (this.carryLen < HANDSHAKE_LENGTH) return n;
      this.carryLen = 0;
      this.awaitingHandshake = false;
      this.handler.onHandshake(decodeHandshake(this.carry, 0));
      return n;
    }
    if (this.carryLen < 4) {
      const n = Math.min(4 - this.carryLen, data.length);
      this.carry.set(data.subarray(0, n), this.carryLen);
      this.carryLen += n;
      pos = n;
      if (this.carryLen < 4) return pos;
    }
    const len = u32(this.carry, 0);
    if (len > MAX_MESSAGE_LENGTH) throw tooLong(len);
    if (len > 0 && this.carryLen === 4) {
      // The id decides the cap: read it before making room for the body.
      if (pos >= data.length) return pos;
      this.carry[4] = data[pos++]!;
      this.carryLen = 5;
    }
    if (len > 0) this.checkLength(this.carry[4]!, len);
    const total = 4 + len;
    this.ensureCarry(total);
    const n = Math.min(total - this.carryLen, data.length - pos);
    this.carry.set(data.subarray(pos, pos + n), this.carryLen);
    this.carryLen += n;
    pos += n;
    if (this.carryLen < total) return pos;
    this.carryLen = 0;
    const msg = this.carry;
    // A big message (a bitfield, an extended message) does not keep its big buffer for the connection's life.
    if (msg.length > CARRY_SIZE) this.release();
    this.dispatch(msg, 4, len);
    return pos;
  }

  /** The carry holds at least `need` bytes (its content kept), within the session's budget. */
  private ensureCarry(need: number): void {
    if (this.carry.length >= need) return;
    const size = Math.max(need, CARRY_SIZE);
    const b = this.budget;
    if (b) {
      if (b.held - this.carry.length + size > b.max) {
        throw new WireError(`peers hold ${b.held} bytes of partial messages; the session's cap is ${b.max}`, 'memory');
      }
      b.held += size - this.carry.length;
    }
    const bigger = new Uint8Array(size);
    if (this.carryLen > 0) bigger.set(this.carry.subarray(0, this.carryLen));
    this.carry = bigger;
  }

  private release(): void {
    if (this.budget) this.budget.held -= this.carry.length;
    this.carry = EMPTY;
    this.carryLen = 0;
  }

  /** The length of a message whose id is known, checked before its body is buffered. */
  private checkLength(id: number, len: number): void {
    if (id === MSG.piece) {
      if (len > MAX_PIECE_MESSAGE) throw new WireError(`a block of ${len - 9} bytes (blocks are at most ${BLOCK_SIZE})`);
    } else if (id === MSG.bitfield) {
      if (len > this.maxBitfield) throw new WireError(`a bitfield of ${len - 1} bytes for ${this.numPieces || 'at most ' + MAX_PIECES} pieces`);
    } else if (len > MAX_EXTENDED_MESSAGE) {
      throw new WireError(`message ${id} of ${len} bytes exceeds the limit of ${MAX_EXTENDED_MESSAGE}`);
    }
  }

  /** One whole message: body at buf[at], len bytes. */
  private dispatch(buf: Uint8Array, at: number, len: number): void {
    const h = this.handler;
    if (len === 0) {
      h.onKeepAlive();
      return;
    }
    const id = buf[at]!;
    this.checkLength(id, len);
    if (id === MSG.piece) {
      // The hot path first.
      if (len < 9) throw bad('piece', len);
      const index = u32(buf, at + 1);
      this.checkIndex(index, 'piece');
      h.onPiece(index, u32(buf, at + 5), buf.subarray(at + 9, at + len));
      return;
    }
    switch (id) {
      case MSG.choke: exact(len, 1, 'choke'); h.onChoke(); return;
      case MSG.unchoke: exact(len, 1, 'unchoke'); h.onUnchoke(); return;
      case MSG.interested: exact(len, 1, 'interested'); h.onInterested(); return;
      case MSG.notInterested: exact(len, 1, 'not interested'); h.onNotInterested(); return;
      case MSG.haveAll: exact(len, 1, 'have all'); h.onHaveAll(); return;
      case MSG.haveNone: exact(len, 1, 'have none'); h.onHaveNone(); return;
      case MSG.have: exact(len, 5, 'have'); h.onHave(this.index(buf, at, 'have')); return;
      case MSG.suggest: exact(len, 5, 'suggest'); h.onSuggest(this.index(buf, at, 'suggest')); return;
      case MSG.allowedFast: exact(len, 5, 'allowed fast'); h.onAllowedFast(this.index(buf, at, 'allowed fast')); return;
      case MSG.request: exact(len, 13, 'request'); h.onRequest(this.index(buf, at, 'request'), u32(buf, at + 5), u32(buf, at + 9)); return;
      case MSG.cancel: exact(len, 13, 'cancel'); h.onCancel(this.index(buf, at, 'cancel'), u32(buf, at + 5), u32(buf, at + 9)); return;
      case MSG.reject: exact(len, 13, 'reject'); h.onReject(this.index(buf, at, 'reject'), u32(buf, at + 5), u32(buf, at + 9)); return;
      case MSG.port: exact(len, 3, 'port'); h.onPort((buf[at + 1]! << 8) | buf[at + 2]!); return;
      case MSG.bitfield: this.bitfield(buf.subarray(at + 1, at + len)); return;
      case MSG.extended:
        if (len < 2) throw bad('extended', len);
        h.onExtended(buf[at + 1]!, buf.subarray(at + 2, at + len));
        return;
      default:
        // Unknown ids (BEP 52's hash messages among them) are skipped, as most clients do.
        return;
    }
  }

  private bitfield(bits: Uint8Array): void {
    const n = this.numPieces;
    if (n > 0) {
      if (bits.length !== Math.ceil(n / 8)) throw new WireError(`a bitfield of ${bits.length} bytes for ${n} pieces (${Math.ceil(n / 8)} expected)`);
      if (n % 8 !== 0 && (bits[bits.length - 1]! & (0xff >> (n % 8))) !== 0) throw new WireError('a bitfield with spare bits set');
    }
    this.handler.onBitfield(bits);
  }

  private index(buf: Uint8Array, at: number, what: string): number {
    const i = u32(buf, at + 1);
    this.checkIndex(i, what);
    return i;
  }

  private checkIndex(i: number, what: string): void {
    const n = this.numPieces || MAX_PIECES;
    if (i >= n) throw new WireError(`${what} for piece ${i} of a torrent of ${this.numPieces ? n + ' pieces' : 'unknown size'}`);
  }
}

function exact(len: number, want: number, what: string): void {
  if (len !== want) throw bad(what, len);
}

function bad(what: string, len: number): WireError {
  return new WireError(`a ${what} message of ${len} bytes`);
}

function tooLong(len: number): WireError {
  return new WireError(`message of ${len} bytes exceeds the limit of ${MAX_MESSAGE_LENGTH}`);
}

export function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function put32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = (n >>> 16) & 255;
  b[at + 2] = (n >>> 8) & 255;
  b[at + 3] = n & 255;
}

// ------------------------------------------------------------------ encoding

export const KEEP_ALIVE = new Uint8Array(4);

/** A message with no payload (choke, unchoke, interested, not interested, have all, have none). */
export function encodeSimple(id: number): Uint8Array {
  return Uint8Array.of(0, 0, 0, 1, id);
}

/** have, suggest, allowed fast: a piece index. */
export function encodeIndex(id: number, index: number): Uint8Array {
  const b = new Uint8Array(9);
  writeIndex(b, 0, id, index);
  return b;
}

export function writeIndex(b: Uint8Array, at: number, id: number, index: number): void {
  put32(b, at, 5);
  b[at + 4] = id;
  put32(b, at + 5, index);
}

/** request, cancel, reject: index, offset, length. */
export function encodeBlockRef(id: number, index: number, offset: number, length: number): Uint8Array {
  const b = new Uint8Array(17);
  writeBlockRef(b, 0, id, index, offset, length);
  return b;
}

export function writeBlockRef(b: Uint8Array, at: number, id: number, index: number, offset: number, length: number): void {
  put32(b, at, 13);
  b[at + 4] = id;
  put32(b, at + 5, index);
  put32(b, at + 9, offset);
  put32(b, at + 13, length);
}

export function encodeBitfield(bits: Uint8Array): Uint8Array {
  const b = new Uint8Array(5 + bits.length);
  put32(b, 0, 1 + bits.length);
  b[4] = MSG.bitfield;
  b.set(bits, 5);
  return b;
}

/** The 13 bytes before a block (the block itself is written after it, not copied). */
export function encodePieceHeader(index: number, offset: number, blockLength: number): Uint8Array {
  const b = new Uint8Array(13);
  put32(b, 0, 9 + blockLength);
  b[4] = MSG.piece;
  put32(b, 5, index);
  put32(b, 9, offset);
  return b;
}

export function encodePort(port: number): Uint8Array {
  return Uint8Array.of(0, 0, 0, 3, MSG.port, (port >>> 8) & 255, port & 255);
}

export function encodeExtended(id: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(6 + payload.length);
  put32(b, 0, 2 + payload.length);
  b[4] = MSG.extended;
  b[5] = id;
  b.set(payload, 6);
  return b;
}

/** Every message as a value: for tests, tools and anything off the hot path (which uses the functions above). */
export type WireMessage =
  | { type: 'handshake'; handshake: Handshake }
  | { type: 'keepAlive' | 'choke' | 'unchoke' | 'interested' | 'notInterested' | 'haveAll' | 'haveNone' }
  | { type: 'have' | 'suggest' | 'allowedFast'; index: number }
  | { type: 'bitfield'; bits: Uint8Array }
  | { type: 'request' | 'cancel' | 'reject'; index: number; offset: number; length: number }
  | { type: 'piece'; index: number; offset: number; block: Uint8Array }
  | { type: 'port'; port: number }
  | { type: 'extended'; id: number; payload: Uint8Array };

const SIMPLE_IDS = { choke: MSG.choke, unchoke: MSG.unchoke, interested: MSG.interested, notInterested: MSG.notInterested, haveAll: MSG.haveAll, haveNone: MSG.haveNone } as const;
const INDEX_IDS = { have: MSG.have, suggest: MSG.suggest, allowedFast: MSG.allowedFast } as const;
const BLOCK_REF_IDS = { request: MSG.request, cancel: MSG.cancel, reject: MSG.reject } as const;

export function encodeMessage(m: WireMessage): Uint8Array {
  switch (m.type) {
    case 'handshake': return encodeHandshake(m.handshake);
    case 'keepAlive': return KEEP_ALIVE.slice();
    case 'choke': case 'unchoke': case 'interested': case 'notInterested': case 'haveAll': case 'haveNone':
      return encodeSimple(SIMPLE_IDS[m.type]);
    case 'have': case 'suggest': case 'allowedFast': return encodeIndex(INDEX_IDS[m.type], m.index);
    case 'request': case 'cancel': case 'reject': return encodeBlockRef(BLOCK_REF_IDS[m.type], m.index, m.offset, m.length);
    case 'bitfield': return encodeBitfield(m.bits);
    case 'piece': {
      const head = encodePieceHeader(m.index, m.offset, m.block.length);
      const out = new Uint8Array(head.length + m.block.length);
      out.set(head, 0);
      out.set(m.block, head.length);
      return out;
    }
    case 'port': return encodePort(m.port);
    case 'extended': return encodeExtended(m.id, m.payload);
  }
}

/** A WireHandler that turns what it hears into WireMessage values (byte views copied). */
export class MessageCollector implements WireHandler {
  readonly messages: WireMessage[] = [];
  onHandshake(handshake: Handshake): void { this.messages.push({ type: 'handshake', handshake }); }
  onKeepAlive(): void { this.messages.push({ type: 'keepAlive' }); }
  onChoke(): void { this.messages.push({ type: 'choke' }); }
  onUnchoke(): void { this.messages.push({ type: 'unchoke' }); }
  onInterested(): void { this.messages.push({ type: 'interested' }); }
  onNotInterested(): void { this.messages.push({ type: 'notInterested' }); }
  onHave(index: number): void { this.messages.push({ type: 'have', index }); }
  onBitfield(bits: Uint8Array): void { this.messages.push({ type: 'bitfield', bits: Uint8Array.prototype.slice.call(bits) }); }
  onRequest(index: number, offset: number, length: number): void { this.messages.push({ type: 'request', index, offset, length }); }
  onPiece(index: number, offset: number, block: Uint8Array): void { this.messages.push({ type: 'piece', index, offset, block: Uint8Array.prototype.slice.call(block) }); }
  onCancel(index: number, offset: number, length: number): void { this.messages.push({ type: 'cancel', index, offset, length }); }
  onPort(port: number): void { this.messages.push({ type: 'port', port }); }
  onSuggest(index: number): void { this.messages.push({ type: 'suggest', index }); }
  onHaveAll(): void { this.messages.push({ type: 'haveAll' }); }
  onHaveNone(): void { this.messages.push({ type: 'haveNone' }); }
  onReject(index: number, offset: number, length: number): void { this.messages.push({ type: 'reject', index, offset, length }); }
  onAllowedFast(index: number): void { this.messages.push({ type: 'allowedFast', index }); }
  onExtended(id: number, payload: Uint8Array): void { this.messages.push({ type: 'extended', id, payload: Uint8Array.prototype.slice.call(payload) }); }
}
