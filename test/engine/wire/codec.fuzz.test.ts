// Property tests of the wire codec (issue 10, "Hardening"): for any stream, however the reads cut it, the
// decoder yields the same messages and the same verdict, throws nothing but its own WireError, holds no more
// than one capped message, and ends. Over 100,000 generated cases per run; the seed is printed on failure
// (FUZZ_SEED=<seed> reproduces a run).
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  WireDecoder, WireError, MessageCollector, BufferBudget, encodeMessage, encodeHandshake, MAX_MESSAGE_LENGTH, MAX_PIECES,
  type WireMessage,
} from '../../../packages/engine/src/wire/codec.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff);
const CAP = 4 + MAX_MESSAGE_LENGTH;
const run = (prop: fc.IProperty<never> | fc.IProperty<unknown[]>, numRuns: number): void => {
  try {
    fc.assert(prop as fc.IProperty<unknown[]>, { seed: SEED, numRuns });
  } catch (e) {
    throw new Error(`codec fuzz failed with FUZZ_SEED=${SEED}\n${(e as Error).message}`);
  }
};

const HANDSHAKE = encodeHandshake({ infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), dht: true, fast: true, extended: true });

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const index = fc.integer({ min: 0, max: MAX_PIECES - 1 });
const message: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.constantFrom<WireMessage>(
    { type: 'keepAlive' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'notInterested' },
    { type: 'haveAll' }, { type: 'haveNone' },
  ),
  fc.record({ type: fc.constantFrom('have' as const, 'suggest' as const, 'allowedFast' as const), index }),
  fc.record({ type: fc.constant('bitfield' as const), bits: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ type: fc.constantFrom('request' as const, 'cancel' as const, 'reject' as const), index, offset: u32, length: u32 }),
  fc.record({ type: fc.constant('piece' as const), index, offset: u32, block: fc.uint8Array({ maxLength: 100 }) }),
  fc.record({ type: fc.constant('port' as const), port: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ type: fc.constant('extended' as const), id: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 200 }) }),
);

/** Read boundaries: sorted positions inside a stream of `n` bytes. */
const cutsOf = fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 12 });
function reads(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (bytes.length ? c % (bytes.length + 1) : 0)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** What a decode produced, as one string (cheap to compare): the messages re-encoded, then the verdict. */
type Outcome = string;

/**
 * Decodes `parts` as successive reads (each copied into a scratch buffer that is overwritten afterwards, as a
 * shared socket buffer is). Checks on the way: only WireError escapes, the carry never exceeds the cap.
 */
function decode(parts: Uint8Array[], pieces: number, handshake: boolean): Outcome {
  const c = new MessageCollector();
  const budget = new BufferBudget(Infinity);
  const d = new WireDecoder(c, budget, { handshake });
  if (pieces > 0) d.setPieceCount(pieces);
  let error: string | null = null;
  for (const p of parts) {
    const scratch = Uint8Array.from(p);
    try {
      d.feed(scratch);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      error = e.message;
      break;
    } finally {
      scratch.fill(0xee);
    }
    if (d.buffered > CAP || budget.held > CAP) throw new Error(`holds ${d.buffered} bytes`);
  }
  return Buffer.from(concat(c.messages.map(encodeMessage))).toString('latin1') + '|' + (error ?? 'ok');
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A frame a hostile peer might send: a small length prefix, any id, a payload that may not match the length. */
const frame = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 25 }), fc.uint8Array({ maxLength: 40 }))
  .map(([len, id, payload]) => Uint8Array.from([0, 0, 0, len, id, ...payload]));
const hostileStream = fc.array(fc.oneof(message.map(encodeMessage), frame, fc.uint8Array({ maxLength: 16 })), { maxLength: 12 }).map(concat);

/** A valid stream, then damaged: bits flipped, cut short, pieces of it repeated or dropped. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), len: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(bytes);
  for (const m of ms) {
    if (b.length === 0) break;
    if (m.kind === 'flip') b[m.at % b.length]! ^= 1 << m.bit;
    else if (m.kind === 'truncate') b = b.subarray(0, m.at % b.length);
    else if (m.kind === 'drop') { const at = m.at % b.length; b = concat([b.subarray(0, at), b.subarray(at + m.len)]); }
    else { const from = m.from % b.length; const to = m.to % b.length; b = concat([b.subarray(0, to), b.subarray(from, from + m.len), b.subarray(to)]); }
  }
  return b;
}

describe('wire codec properties (seed printed on failure)', () => {
  it('encodes and decodes any sequence of messages, whatever the read boundaries (20,000 cases)', () => {
    run(fc.property(fc.array(message, { maxLength: 20 }), cutsOf, (msgs, cuts) => {
      const bytes = concat([HANDSHAKE, ...msgs.map(encodeMessage)]);
      expect(decode(reads(bytes, cuts), 0, true)).toBe(Buffer.from(bytes).toString('latin1') + '|ok');
    }), 20_000);
  });

  it('hostile streams: the same messages and verdict whatever the read boundaries, only WireError (40,000 cases)', () => {
    run(fc.property(hostileStream, cutsOf, fc.integer({ min: 0, max: 300 }), fc.boolean(), (body, cuts, pieces, withHandshake) => {
      const bytes = withHandshake ? concat([HANDSHAKE, body]) : body;
      const whole = decode([bytes], pieces, withHandshake);
      expect(decode(reads(bytes, cuts), pieces, withHandshake)).toBe(whole);
      expect(decode(reads(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]), pieces, withHandshake)).toBe(whole);
    }), 40_000);
  });

  it('damaged valid streams (bit flips, truncations, splices): the same guarantees (30,000 cases)', () => {
    run(fc.property(fc.array(message, { maxLength: 10 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), cutsOf, fc.integer({ min: 0, max: 300 }),
      (msgs, ms, cuts, pieces) => {
        const bytes = mutate(concat([HANDSHAKE, ...msgs.map(encodeMessage)]), ms);
        expect(decode(reads(bytes, cuts), pieces, true)).toBe(decode([bytes], pieces, true));
      }), 30_000);
  });

  it('random bytes, one byte per read or all at once (15,000 cases)', () => {
    run(fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withHandshake) => {
      const all = withHandshake ? concat([HANDSHAKE, bytes]) : bytes;
      const bytewise = Array.from(all, (_, i) => all.subarray(i, i + 1));
      expect(decode(bytewise, 0, withHandshake)).toBe(decode([all], 0, withHandshake));
    }), 15_000);
  });

  it('a length prefix anywhere up to 2^32 - 1 is refused or buffered within the cap (5,000 cases)', () => {
    run(fc.property(u32, fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 3000 }), (len, id, have) => {
      const head = Uint8Array.from([len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255, id]);
      const got = decode([head, new Uint8Array(have)], 0, false);
      if (len > MAX_MESSAGE_LENGTH) expect(got).toMatch(/exceeds the limit/);
    }), 5_000);
  });
});
