import { crc32 } from 'node:zlib';

/**
 * The byte layout of the state journal and its snapshot (pure: bytes in, entries out and back).
 *
 * A file starts with a 16-byte header: an 8-byte magic naming its kind, the generation (u32 LE) and a
 * CRC-32 of those 12 bytes. Then frames, one per entry: payload length (u32 LE), CRC-32 of the payload
 * (u32 LE), payload. A payload is an op byte (1 put, 2 delete), the key's length (u8), the key (ASCII)
 * and, for a put, the value. A crash while appending leaves at most one torn frame at the end of a file:
 * its length runs past the end or its checksum fails, and reading stops there.
 */

export const JOURNAL_MAGIC = 'SPZJRNL1';
export const SNAPSHOT_MAGIC = 'SPZSNAP1';
export const HEADER_BYTES = 16;
const FRAME_HEAD = 8;
const PUT = 1;
const DEL = 2;
/** No entry is larger: a resume record holds at most a resume file and a .torrent (~31 MB together). */
export const MAX_PAYLOAD = 64 * 1024 * 1024;

/** One change: `value` null deletes `key`. */
export interface JournalEntry {
  key: string;
  value: Uint8Array | null;
}

export function encodeHeader(magic: string, gen: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(magic, 0, 8, 'latin1');
  b.writeUInt32LE(gen >>> 0, 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

/** The generation in a header of kind `magic`, or null when the bytes are not such a header. */
export function decodeHeader(bytes: Uint8Array, magic: string): number | null {
  if (bytes.length < HEADER_BYTES) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (b.toString('latin1', 0, 8) !== magic) return null;
  if (b.readUInt32LE(12) !== crc32(b.subarray(0, 12))) return null;
  return b.readUInt32LE(8);
}

/** One entry as a frame, ready to append. */
export function encodeFrame(e: JournalEntry): Buffer {
  const keyLen = Buffer.byteLength(e.key, 'latin1');
  if (keyLen === 0 || keyLen > 255) throw new RangeError(`journal key must be 1-255 bytes, not ${keyLen}`);
  const payloadLen = 2 + keyLen + (e.value?.length ?? 0);
  if (payloadLen > MAX_PAYLOAD) throw new RangeError(`journal entry of ${payloadLen} bytes is larger than ${MAX_PAYLOAD}`);
  const b = Buffer.allocUnsafe(FRAME_HEAD + payloadLen);
  b.writeUInt32LE(payloadLen, 0);
  b[FRAME_HEAD] = e.value ? PUT : DEL;
  b[FRAME_HEAD + 1] = keyLen;
  b.write(e.key, FRAME_HEAD + 2, keyLen, 'latin1');
  if (e.value) b.set(e.value, FRAME_HEAD + 2 + keyLen);
  b.writeUInt32LE(crc32(b.subarray(FRAME_HEAD)), 4);
  return b;
}

/** The key a frame (as encodeFrame made it) is about. */
export function frameKey(frame: Uint8Array): string {
  return Buffer.from(frame.buffer, frame.byteOffset + FRAME_HEAD + 2, frame[FRAME_HEAD + 1]!).toString('latin1');
}

/** A put frame's value (a view into the frame), or null for a delete. */
export function frameValue(frame: Uint8Array): Uint8Array | null {
  if (frame[FRAME_HEAD] !== PUT) return null;
  return frame.subarray(FRAME_HEAD + 2 + frame[FRAME_HEAD + 1]!);
}

export interface ParsedFrames {
  /** Each good frame in file order, as its entry and its own bytes (a copy: the file buffer can go). */
  frames: { entry: JournalEntry; bytes: Buffer }[];
  /** The end of the last good frame. */
  end: number;
  /** What was wrong where reading first found damage (a torn tail, a changed byte), else null. */
  damage: string | null;
  /** Bytes skipped over as damaged. */
  skipped: number;
  /** Payload bytes checksummed while looking for the next good frame after damage (bounded by the file's size). */
  resyncChecksummed: number;
}

/** The payload length of a frame whose head checks out at `off` (its checksum not yet), or 0. */
function payloadAt(b: Buffer, off: number): number {
  if (b.length - off < FRAME_HEAD + 3) return 0;
  const len = b.readUInt32LE(off);
  if (len < 3 || len > MAX_PAYLOAD || b.length - off - FRAME_HEAD < len) return 0;
  const op = b[off + FRAME_HEAD];
  const keyLen = b[off + FRAME_HEAD + 1]!;
  if ((op !== PUT && op !== DEL) || keyLen === 0 || 2 + keyLen > len || (op === DEL && 2 + keyLen !== len)) return 0;
  return len;
}

function checksumOk(b: Buffer, off: number, len: number): boolean {
  return crc32(b.subarray(off + FRAME_HEAD, off + FRAME_HEAD + len)) === b.readUInt32LE(off + 4);
}

/**
 * While looking for the next good frame, at most this many times the file's size is checksummed. Without a
 * bound, a damaged stretch whose every few bytes read as a plausible frame head (a run of 01 01 01 00) costs
 * the checksum of a long payload at each offset: the square of the file's size, hours at start for a
 * damaged snapshot of a few MB. Real damage rarely passes the head checks, so the bound costs it nothing.
 */
const RESYNC_CHECKSUM_FACTOR = 2;

export function parseFrames(bytes: Uint8Array, start = HEADER_BYTES): ParsedFrames {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: ParsedFrames = { frames: [], end: start, damage: null, skipped: 0, resyncChecksummed: 0 };
  let budget = RESYNC_CHECKSUM_FACTOR * b.length;
  let off = start;
  while (off < b.length) {
    let len = payloadAt(b, off);
    let size = len > 0 && checksumOk(b, off, len) ? FRAME_HEAD + len : 0;
    if (size === 0) {
      const from = off;
      while (++off < b.length) {
        len = payloadAt(b, off);
        if (len === 0 || len > budget) continue;
        budget -= len;
        out.resyncChecksummed += len;
        if (checksumOk(b, off, len)) {
          size = FRAME_HEAD + len;
          break;
        }
      }
      out.damage ??= `${off >= b.length ? 'a torn or damaged frame' : 'a damaged frame'} at byte ${from}`;
      out.skipped += off - from;
      if (size === 0) break;
    }
    const own = Buffer.from(b.subarray(off, off + size));
    const keyLen = own[FRAME_HEAD + 1]!;
    const key = own.toString('latin1', FRAME_HEAD + 2, FRAME_HEAD + 2 + keyLen);
    out.frames.push({ entry: { key, value: own[FRAME_HEAD] === PUT ? own.subarray(FRAME_HEAD + 2 + keyLen) : null }, bytes: own });
    off += size;
    out.end = off;
  }
  return out;
}
