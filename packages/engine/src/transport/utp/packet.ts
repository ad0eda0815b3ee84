/**
 * uTP (BEP 29) packets: the 20-byte header, the extension chain, the selective-ACK bitmask, and 16-bit
 * sequence arithmetic. Parsing fills a caller-owned PacketHeader (one per socket manager), so reading a
 * datagram allocates nothing.
 *
 *   0       4       8               16              24              32
 *   +-------+-------+---------------+---------------+---------------+
 *   | type  | ver   | extension     | connection_id                 |
 *   | timestamp_microseconds                                        |
 *   | timestamp_difference_microseconds                             |
 *   | wnd_size                                                      |
 *   | seq_nr                        | ack_nr                        |
 */

export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;
export const UTP_VERSION = 1;
export const HEADER_SIZE = 20;
/** Extension type of the selective ACK (BEP 29); 0 ends the chain. */
export const EXT_SACK = 1;
/**
 * The longest SACK bitmask we send: 2048 packets past ack_nr + 1, a whole reordering ring. It must cover
 * everything held out of order: the sender counts an unacked packet as in flight while our advertised
 * window already excludes it, and counted twice, the window can shut on the very resend that would fill
 * the gap (libtorrent sizes its SACK to its reorder buffer's span too).
 */
export const MAX_SACK_BYTES = 256;
/** The largest control packet (ST_STATE with the longest SACK). */
export const MAX_CONTROL_SIZE = HEADER_SIZE + 2 + MAX_SACK_BYTES;

export const SEQ_MASK = 0xffff;

export class PacketHeader {
  type = 0;
  connId = 0;
  timestamp = 0;
  timestampDiff = 0;
  wnd = 0;
  seq = 0;
  ack = 0;
  /** Offset of the SACK bitmask in the datagram, or -1 if it has none. */
  sackAt = -1;
  sackLen = 0;
  /** Offset of the payload (after the extension chain). */
  payloadAt = HEADER_SIZE;
}

/**
 * True when the first byte says "uTP version 1, a known type": how a shared UDP socket tells uTP from
 * the DHT (whose bencoded datagrams start with 'd', 0x64, which is type 6 and so never uTP).
 */
export function looksLikeUtp(buf: Uint8Array): boolean {
  const b = buf[0];
  return buf.length >= HEADER_SIZE && b !== undefined && (b & 0x0f) === UTP_VERSION && b >> 4 <= ST_SYN;
}

/**
 * Parses a datagram into `out`. False if it is not a well-formed uTP v1 packet: short, unknown type or
 * version, or an extension chain running past the end. A SACK may have any length: BEP 29 says a multiple
 * of 4, but libtorrent sends as many bytes as its reorder buffer spans; an empty one is no SACK.
 */
export function parsePacket(buf: Uint8Array, out: PacketHeader): boolean {
  if (!looksLikeUtp(buf)) return false;
  out.type = buf[0]! >> 4;
  out.connId = (buf[2]! << 8) | buf[3]!;
  out.timestamp = readU32(buf, 4);
  out.timestampDiff = readU32(buf, 8);
  out.wnd = readU32(buf, 12);
  out.seq = (buf[16]! << 8) | buf[17]!;
  out.ack = (buf[18]! << 8) | buf[19]!;
  out.sackAt = -1;
  out.sackLen = 0;
  let ext = buf[1]!;
  let at = HEADER_SIZE;
  while (ext !== 0) {
    if (at + 2 > buf.length) return false;
    const next = buf[at]!;
    const len = buf[at + 1]!;
    if (at + 2 + len > buf.length) return false;
    if (ext === EXT_SACK && len > 0) {
      out.sackAt = at + 2;
      out.sackLen = len;
    }
    at += 2 + len;
    ext = next;
  }
  out.payloadAt = at;
  return true;
}

/** Writes a header (no extension) at the start of `buf`. */
export function writeHeader(
  buf: Uint8Array, type: number, connId: number, timestamp: number, timestampDiff: number,
  wnd: number, seq: number, ack: number, extension = 0,
): void {
  buf[0] = (type << 4) | UTP_VERSION;
  buf[1] = extension;
  buf[2] = (connId >> 8) & 0xff;
  buf[3] = connId & 0xff;
  writeU32(buf, 4, timestamp);
  writeU32(buf, 8, timestampDiff);
  writeU32(buf, 12, wnd);
  buf[16] = (seq >> 8) & 0xff;
  buf[17] = seq & 0xff;
  buf[18] = (ack >> 8) & 0xff;
  buf[19] = ack & 0xff;
}

/** Rewrites the fields that change when a stored packet is sent again. */
export function restampHeader(buf: Uint8Array, timestamp: number, timestampDiff: number, wnd: number, ack: number): void {
  writeU32(buf, 4, timestamp);
  writeU32(buf, 8, timestampDiff);
  writeU32(buf, 12, wnd);
  buf[18] = (ack >> 8) & 0xff;
  buf[19] = ack & 0xff;
}

export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v >>> 24) & 0xff;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

/** a - b as a signed distance on the 16-bit sequence circle (-32768..32767). */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & SEQ_MASK) << 16) >> 16;
}

/** True if `a` comes before `b` on the 16-bit circle. */
export function seqLess(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

/** a - b on the 32-bit microsecond clock, as a signed number (the clocks wrap every 71 minutes). */
export function timeDiff32(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Whether the SACK bitmask at `sackAt` marks packet `ack + 2 + i` as received. Bit 0 of byte 0 is
 * ack + 2; within a byte, the least significant bit is the lowest sequence number.
 */
export function sackHas(buf: Uint8Array, sackAt: number, i: number): boolean {
  return (buf[sackAt + (i >> 3)]! & (1 << (i & 7))) !== 0;
}
