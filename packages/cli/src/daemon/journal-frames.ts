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
  /** Where the good frames end: the offset to append at, or to cut the file at. */
  end: number;
  /** Why reading stopped before the end of the bytes (a torn or damaged frame), else null. */
  damage: string | null;
}

/** Reads the frames of `bytes` from `start` (just after the header) up to the first torn or damaged one. */
export function parseFrames(bytes: Uint8Array, start = HEADER_BYTES): ParsedFrames {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const frames: ParsedFrames['frames'] = [];
  let off = start;
  const stop = (why: string): ParsedFrames => ({ frames, end: off, damage: `${why} at byte ${off}` });
  while (off < b.length) {
    if (b.length - off < FRAME_HEAD) return stop('a torn frame header');
    const len = b.readUInt32LE(off);
    if (len < 3 || len > MAX_PAYLOAD) return stop(`a frame length of ${len}`);
    if (b.length - off - FRAME_HEAD < len) return stop('a torn frame');
    const payload = b.subarray(off + FRAME_HEAD, off + FRAME_HEAD + len);
    if (crc32(payload) !== b.readUInt32LE(off + 4)) return stop('a frame whose checksum fails');
    const op = payload[0];
    const keyLen = payload[1]!;
    if ((op !== PUT && op !== DEL) || keyLen === 0 || 2 + keyLen > len || (op === DEL && 2 + keyLen !== len)) return stop('a malformed frame');
    const own = Buffer.from(b.subarray(off, off + FRAME_HEAD + len));
    const key = own.toString('latin1', FRAME_HEAD + 2, FRAME_HEAD + 2 + keyLen);
    const value = op === PUT ? own.subarray(FRAME_HEAD + 2 + keyLen) : null;
    frames.push({ entry: { key, value }, bytes: own });
    off += FRAME_HEAD + len;
  }
  return { frames, end: off, damage: null };
}
