/**
 * Bencode decoding that outside bytes cannot turn against us.
 *
 * The bencode package (4.0.1, the newest) accepts a negative string length and walks backwards, so
 * `l-3:e` loops until the heap is gone; it also has no depth or size limits. Every byte that comes
 * from outside (peers, DHT datagrams, trackers, .torrent files, resume files) goes through
 * `checkBencode` (a scan that allocates nothing, to guard a third-party decoder) or `bdecode`
 * (our decoder, same output shape as bencode 4's `decode`) first.
 * Limits follow libtorrent's bdecode: depth 100, at most 2,000,000 tokens.
 */
import { SpritzleError } from '../errors.js';

/** A decoded bencode value: integers as numbers, strings as bytes, lists, dictionaries. */
export type BValue = number | Uint8Array | BValue[] | BDict;
/** A decoded bencode dictionary (keys as latin1 strings). */
export interface BDict { [key: string]: BValue }

/** Bounds on what bdecode and checkBencode accept (libtorrent's bdecode limits). */
export interface BencodeLimits {
  /** Deepest nesting of lists and dictionaries (libtorrent: 100). */
  maxDepth?: number;
  /** Most values in the whole input (libtorrent's token_limit: 2,000,000). */
  maxTokens?: number;
  /** Refuse bytes after the first complete value (default: ignore them, as bencode 4 does). */
  strictEnd?: boolean;
}

const DEFAULTS: Required<BencodeLimits> = { maxDepth: 100, maxTokens: 2_000_000, strictEnd: false };

const I = 0x69, L = 0x6c, D = 0x64, E = 0x65, COLON = 0x3a, MINUS = 0x2d, ZERO = 0x30, NINE = 0x39;
/** Longest integer we read (i...e): 2^63 has 19 digits; more is not a number anyone means. */
const MAX_INT_DIGITS = 20;
/** Longest string-length prefix: 10^15 bytes is more than any input can hold. */
const MAX_LEN_DIGITS = 15;

/** Bytes that are not bencode within the limits: code invalid_bencode, with the offset where decoding stopped. */
export class BencodeError extends SpritzleError {
  /** Byte offset where decoding stopped. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('invalid_bencode', `invalid bencode at byte ${offset}: ${message}`);
    this.name = 'BencodeError';
    this.offset = offset;
  }
}

/**
 * Scans one bencoded value starting at `start` without building it. Returns the offset just past
 * the value; throws BencodeError when the bytes are not valid bencode within the limits.
 */
export function checkBencode(data: Uint8Array, limits?: BencodeLimits, start = 0): number {
  const lim = limits ? { ...DEFAULTS, ...limits } : DEFAULTS;
  const end = data.length;
  let pos = start;
  let depth = 0;
  let tokens = 0;
  // A stack of container kinds (true = dict) and, for dicts, whether a key is expected next.
  const isDict: boolean[] = [];
  const wantKey: boolean[] = [];
  do {
    if (pos >= end) throw new BencodeError('truncated', pos);
    if (++tokens > lim.maxTokens) throw new BencodeError(`more than ${lim.maxTokens} values`, pos);
    const c = data[pos]!;
    const inDict = depth > 0 && isDict[depth - 1]!;
    if (c === E && depth > 0) {
      if (inDict && !wantKey[depth - 1]) throw new BencodeError('dictionary key without a value', pos);
      pos++;
      depth--;
      tokens--; // an end marker is not a value
    } else if (inDict && wantKey[depth - 1]) {
      if (c < ZERO || c > NINE) throw new BencodeError('dictionary key is not a string', pos);
      pos = skipString(data, pos);
      wantKey[depth - 1] = false;
      continue;
    } else if (c === I) {
      pos = skipInt(data, pos);
    } else if (c === L || c === D) {
      if (depth >= lim.maxDepth) throw new BencodeError(`nested deeper than ${lim.maxDepth}`, pos);
      isDict[depth] = c === D;
      wantKey[depth] = true;
      depth++;
      pos++;
      continue; // a container is open; its key/value state is set
    } else if (c >= ZERO && c <= NINE) {
      pos = skipString(data, pos);
    } else {
      throw new BencodeError(`unexpected byte 0x${c.toString(16)}`, pos);
    }
    if (depth > 0 && isDict[depth - 1]) wantKey[depth - 1] = true;
  } while (depth > 0);
  if (lim.strictEnd && pos !== end) throw new BencodeError('trailing bytes after the value', pos);
  return pos;
}

function skipInt(data: Uint8Array, pos: number): number {
  const start = pos;
  pos++; // 'i'
  if (data[pos] === MINUS) pos++;
  const digits = pos;
  while (pos < data.length && data[pos]! >= ZERO && data[pos]! <= NINE) pos++;
  const n = pos - digits;
  if (n === 0) throw new BencodeError('integer without digits', start);
  if (n > MAX_INT_DIGITS) throw new BencodeError('integer too long', start);
  if (data[pos] !== E) throw new BencodeError(pos >= data.length ? 'truncated' : 'integer not closed by e', pos);
  if (data[digits - 1] === MINUS && n === 1 && data[digits] === ZERO) throw new BencodeError('negative zero', start);
  return pos + 1;
}

/** Checks the string at `pos` (length prefix and content); returns the offset just past it. */
function skipString(data: Uint8Array, pos: number): number {
  const start = pos;
  let len = 0;
  while (pos < data.length && data[pos]! >= ZERO && data[pos]! <= NINE) {
    len = len * 10 + (data[pos]! - ZERO);
    pos++;
  }
  if (pos === start) throw new BencodeError('string length without digits', start);
  if (pos - start > MAX_LEN_DIGITS) throw new BencodeError('string length too long', start);
  if (data[pos] !== COLON) throw new BencodeError(pos >= data.length ? 'truncated' : 'string length not followed by ":"', pos);
  pos++;
  if (len > data.length - pos) throw new BencodeError(`string of ${len} bytes runs past the end`, start);
  return pos + len;
}

const utf8 = new TextDecoder('utf-8');

/** Reads a checked string's length prefix at r.pos; leaves r.pos on its first content byte. */
function contentLength(data: Uint8Array, r: { pos: number }): number {
  let len = 0;
  let pos = r.pos;
  for (let c = data[pos]!; c !== COLON; c = data[++pos]!) len = len * 10 + (c - ZERO);
  r.pos = pos + 1;
  return len;
}

/** A dictionary key as bencode 4 gives it: UTF-8 text, or hex when the bytes are not (all) UTF-8. */
function readKey(data: Uint8Array, r: { pos: number }): string {
  const len = contentLength(data, r);
  const at = r.pos;
  r.pos = at + len;
  // Almost every key is short ASCII: built directly (a subarray and a TextDecoder call per key cost more).
  if (len <= 64) {
    let t = '';
    for (let i = at; i < at + len; i++) {
      const b = data[i]!;
      if (b >= 0x80) return utf8Key(data.subarray(at, at + len));
      t += String.fromCharCode(b);
    }
    return t;
  }
  return utf8Key(data.subarray(at, at + len));
}

function utf8Key(bytes: Uint8Array): string {
  const t = utf8.decode(bytes);
  return t.includes('\uFFFD') ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') : t;
}

/**
 * Decodes one bencoded value: strings as Uint8Array views into a copy of the input, integers as
 * numbers, lists as arrays, dictionaries as objects with UTF-8 keys (hex when not UTF-8), the shape
 * bencode 4's `decode` returns. Validates first, so no input can make it loop or allocate more than
 * a bounded multiple of its own size.
 */
export function bdecode(data: Uint8Array, limits?: BencodeLimits): BValue {
  if (!(data instanceof Uint8Array)) throw new BencodeError('not bytes', 0);
  checkBencode(data, limits);
  const copy = new Uint8Array(data); // values must not alias a buffer the caller reuses
  const r = { pos: 0 };
  return readValue(copy, r);
}

function readValue(data: Uint8Array, r: { pos: number }): BValue {
  const c = data[r.pos]!;
  if (c === I) {
    const start = r.pos + 1;
    const end = data.indexOf(E, start);
    r.pos = end + 1;
    return readInt(data, start, end);
  }
  if (c === L) {
    r.pos++;
    const out: BValue[] = [];
    while (data[r.pos] !== E) out.push(readValue(data, r));
    r.pos++;
    return out;
  }
  if (c === D) {
    r.pos++;
    const out: BDict = {};
    while (data[r.pos] !== E) {
      const key = readKey(data, r);
      const value = readValue(data, r);
      // defineProperty: a key named "__proto__" is data, never the object's prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    r.pos++;
    return out;
  }
  return readString(data, r);
}

/** The integer between `start` and `end` (checked: an optional "-" and 1 to 20 digits). */
function readInt(data: Uint8Array, start: number, end: number): number {
  const neg = data[start] === MINUS;
  const from = neg ? start + 1 : start;
  // Summed digit by digit as bencode 4 does (so beyond 2^53 both round the same way).
  let n = 0;
  for (let i = from; i < end; i++) n = n * 10 + (data[i]! - ZERO);
  return neg ? -n : n;
}

function readString(data: Uint8Array, r: { pos: number }): Uint8Array {
  const len = contentLength(data, r);
  const at = r.pos;
  r.pos = at + len;
  return data.subarray(at, at + len);
}
