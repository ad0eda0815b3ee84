import { checkBencode } from '@spritzle/engine';

/**
 * The two things a start must know of a torrent's resume data before handing it to the session (whose
 * torrent it is, where its files are), read without decoding the rest: the info dictionary in it is most
 * of its bytes and the session decodes it anyway. With 50,000 torrents a full decode here cost a tenth of
 * the start-up.
 */
export interface ResumePeek {
  infoHash: string;
  savePath: string;
}

const D = 0x64, E = 0x65, I = 0x69, MINUS = 0x2d, ZERO = 0x30, NINE = 0x39, COLON = 0x3a;
/** Lists and dictionaries (the info dict, trackers, peers) are skipped by checkBencode within these limits. */
const LIMITS = { maxDepth: 100, maxTokens: 2_000_000 };
/** Longest length prefix read: 10^15 bytes is more than any input holds. */
const MAX_LENGTH_DIGITS = 15;

/** Where a string's bytes are. */
interface Span {
  start: number;
  end: number;
}

/** The bencoded string at `pos` (its bytes' bounds), read here: most values of resume data are strings or integers. */
function stringAt(b: Uint8Array, pos: number): Span {
  let len = 0;
  let i = pos;
  for (; i < b.length && b[i]! >= ZERO && b[i]! <= NINE; i++) {
    if (i - pos >= MAX_LENGTH_DIGITS) throw new Error(`a string length too long at byte ${pos}`);
    len = len * 10 + (b[i]! - ZERO);
  }
  if (i === pos || b[i] !== COLON) throw new Error(`a string was expected at byte ${pos}`);
  const start = i + 1;
  if (start + len > b.length) throw new Error(`a string runs past the end at byte ${pos}`);
  return { start, end: start + len };
}

/** The offset after the value at `pos`. */
function skipValue(b: Uint8Array, pos: number): number {
  const c = b[pos];
  if (c === undefined) throw new Error('truncated');
  if (c >= ZERO && c <= NINE) return stringAt(b, pos).end;
  if (c === I) {
    let i = pos + 1;
    if (b[i] === MINUS) i++;
    const first = i;
    while (i < b.length && b[i]! >= ZERO && b[i]! <= NINE) i++;
    if (i === first || b[i] !== E) throw new Error(`an integer was expected at byte ${pos}`);
    return i + 1;
  }
  return checkBencode(b, LIMITS, pos);
}

/**
 * `info-hash` and `save_path` of resume data (the keys of the engine's resume format), or an error when the
 * bytes are not a dictionary holding both as strings. Everything else is left for decodeResumeData.
 */
export function peekResume(bytes: Uint8Array): ResumePeek {
  if (bytes[0] !== D) throw new Error('not a dictionary');
  const text = (r: Span, enc: 'latin1' | 'utf8' | 'hex'): string =>
    Buffer.from(bytes.buffer, bytes.byteOffset + r.start, r.end - r.start).toString(enc);
  let pos = 1;
  let infoHash: Span | undefined;
  let savePath: Span | undefined;
  while (pos < bytes.length && bytes[pos] !== E) {
    const key = stringAt(bytes, pos);
    // Both names are 9 bytes long: no other key is turned into a string.
    const k = key.end - key.start === 9 ? text(key, 'latin1') : '';
    if (k === 'info-hash' || k === 'save_path') {
      const v = stringAt(bytes, key.end);
      if (k === 'info-hash') infoHash = v;
      else savePath = v;
      pos = v.end;
    } else {
      pos = skipValue(bytes, key.end);
    }
  }
  if (bytes[pos] !== E) throw new Error('truncated');
  if (!infoHash || infoHash.end - infoHash.start !== 20) throw new Error('info-hash is missing');
  if (!savePath || savePath.end === savePath.start) throw new Error('save_path is missing');
  return { infoHash: text(infoHash, 'hex'), savePath: text(savePath, 'utf8') };
}
