/**
 * BEP 9 (ut_metadata): the info dictionary exchanged in 16 KiB pieces over the extension protocol. The
 * message codec, the assembly of a peer's pieces (checked against the info-hash) and the budget of requests
 * we answer per peer are pure; the torrent does the I/O (see torrent.ts, "metadata").
 */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { bdecode, checkBencode, type BDict } from '../metainfo/bencode.js';
import { MAX_METADATA_SIZE, WireError } from './codec.js';

export const METADATA_PIECE_SIZE = 16384;
export const METADATA_REQUEST = 0;
export const METADATA_DATA = 1;
export const METADATA_REJECT = 2;

/** The largest info dictionary we fetch or accept: the one metainfo.ts loads (codec.ts re-exports it). */
export { MAX_METADATA_SIZE };

export interface MetadataMessage {
  type: number;
  piece: number;
  /** total_size of a data message (0 otherwise). */
  totalSize: number;
  /** The piece's bytes after the dictionary of a data message (a view). */
  data: Uint8Array;
}

export function encodeMetadataRequest(piece: number): Uint8Array {
  return bencode.encode({ msg_type: METADATA_REQUEST, piece });
}

export function encodeMetadataReject(piece: number): Uint8Array {
  return bencode.encode({ msg_type: METADATA_REJECT, piece });
}

/** A data message: the dictionary, then the piece's bytes. */
export function encodeMetadataData(piece: number, totalSize: number, data: Uint8Array): Uint8Array {
  const head = bencode.encode({ msg_type: METADATA_DATA, piece, total_size: totalSize });
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/** Reads a ut_metadata message (with bdecode only); anything malformed is a WireError. */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  let end: number;
  let d: unknown;
  try {
    end = checkBencode(payload);
    d = bdecode(payload.subarray(0, end));
  } catch {
    throw new WireError('a ut_metadata message that is not bencoded');
  }
  if (typeof d !== 'object' || d === null || d instanceof Uint8Array || Array.isArray(d)) throw new WireError('a ut_metadata message that is not a dictionary');
  const { msg_type: type, piece, total_size: total } = d as BDict;
  if (typeof type !== 'number' || typeof piece !== 'number' || !Number.isSafeInteger(piece) || piece < 0) {
    throw new WireError('a ut_metadata message without msg_type and piece');
  }
  const totalSize = typeof total === 'number' && Number.isSafeInteger(total) && total > 0 ? total : 0;
  return { type, piece, totalSize, data: payload.subarray(end) };
}

export function metadataPieces(size: number): number {
  return Math.ceil(size / METADATA_PIECE_SIZE);
}

/** The metadata_size a peer offers in its extended handshake, if usable: 0 if absent or out of bounds. */
export function offeredMetadataSize(hs: Record<string, unknown>): number {
  const size = hs.metadata_size;
  return typeof size === 'number' && Number.isSafeInteger(size) && size > 0 && size <= MAX_METADATA_SIZE ? size : 0;
}

/** One peer's copy of the metadata, piece by piece. */
export class MetadataAssembler {
  private readonly buf: Uint8Array;
  private readonly have: boolean[];
  private missing: number;

  constructor(readonly size: number) {
    if (size <= 0 || size > MAX_METADATA_SIZE) throw new WireError(`metadata of ${size} bytes (the limit is ${MAX_METADATA_SIZE})`);
    this.buf = new Uint8Array(size);
    this.have = new Array<boolean>(metadataPieces(size)).fill(false);
    this.missing = this.have.length;
  }

  get numPieces(): number {
    return this.have.length;
  }

  /** Stores a piece (copied); throws WireError for a piece that is not one of ours or has the wrong length. */
  add(piece: number, data: Uint8Array): void {
    if (piece >= this.have.length) throw new WireError(`ut_metadata piece ${piece} of ${this.have.length}`);
    const want = Math.min(METADATA_PIECE_SIZE, this.size - piece * METADATA_PIECE_SIZE);
    if (data.length !== want) throw new WireError(`ut_metadata piece ${piece} of ${data.length} bytes (${want} expected)`);
    if (this.have[piece]) return;
    this.buf.set(data, piece * METADATA_PIECE_SIZE);
    this.have[piece] = true;
    this.missing--;
  }

  get complete(): boolean {
    return this.missing === 0;
  }

  /** The assembled bytes, unverified (for a check off the event loop), or null until complete. */
  get assembled(): Uint8Array | null {
    return this.complete ? this.buf : null;
  }

  /**
   * The assembled info dictionary if it is the torrent's: its SHA-1 is `infoHash` (hex), or (BEP 52) its
   * SHA-256 is `v2` (64 hex, a btmh magnet's) or, with no v2 hash given, starts with `infoHash`; null otherwise.
   */
  verified(infoHash: string, v2?: string): Uint8Array | null {
    if (!this.complete) return null;
    if (createHash('sha1').update(this.buf).digest('hex') === infoHash) return this.buf;
    const h2 = createHash('sha256').update(this.buf).digest('hex');
    return (v2 !== undefined ? h2 === v2 : h2.slice(0, 40) === infoHash) ? this.buf : null;
  }
}

/**
 * How many metadata requests we answer from one peer (issue 9, section 6): one full copy plus a few pieces
 * a minute; beyond that we reject (as libtorrent does), and a peer that goes on asking regardless is
 * flooding us and is disconnected.
 */
export class MetadataRequestBudget {
  static readonly EXTRA_PIECES = 2;
  static readonly REFILL_PER_MINUTE = 4;
  /** Rejected requests beyond which the peer is a flood. */
  static readonly FLOOD_REJECTS = 64;
  private tokens: number;
  private last: number;
  private readonly cap: number;
  rejected = 0;

  constructor(numPieces: number, now: number) {
    this.cap = numPieces + MetadataRequestBudget.EXTRA_PIECES;
    this.tokens = this.cap;
    this.last = now;
  }

  /** True if a request may be answered now (and spends it); false if it is to be rejected. */
  take(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.cap, this.tokens + (elapsed * MetadataRequestBudget.REFILL_PER_MINUTE) / 60_000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.rejected++;
    return false;
  }

  get flooding(): boolean {
    return this.rejected > MetadataRequestBudget.FLOOD_REJECTS;
  }
}
