// Structure-aware mutations of bencoded bytes for the fuzz suites: the ways hostile input was found to hurt
// (negative and huge string lengths, deep nesting, truncation) plus bit flips and splices of real inputs.
import fc from 'fast-check';
import { SpritzleError } from '@spritzle/engine';

/** Seed for every fuzz suite: FUZZ_SEED=<n> replays a failure (fast-check prints the seed and path). */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed9);
/** Cases per entry point (issue 9: at least 10,000 per CI run). */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');

type Mutation = (b: Uint8Array) => Uint8Array;

/** Offsets of the length prefixes ("123:") of strings in `b`, found by a loose scan (the bytes may be broken). */
function lengthPrefixes(b: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i]! < 0x30 || b[i]! > 0x39) continue;
    let j = i;
    while (j < b.length && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
    if (b[j] === 0x3a && (i === 0 || !(b[i - 1]! >= 0x30 && b[i - 1]! <= 0x39))) out.push([i, j]);
    i = j;
  }
  return out;
}

function replace(b: Uint8Array, from: number, to: number, what: Uint8Array): Uint8Array {
  return Buffer.concat([b.subarray(0, from), what, b.subarray(to)]);
}

/** A replacement for a string's length: negative, huge, off by one, leading zeros, empty. */
const lengthText = fc.oneof(
  fc.constantFrom('-3', '-1', '-0', '-99999999', '99999999999999', '9'.repeat(30), '', '00', '4294967296', '18446744073709551616'),
  fc.integer({ min: -100, max: 100_000 }).map(String),
);

/** A small hostile token to insert. */
const hostileToken = fc.constantFrom('l-3:e', '-3:', 'i-0e', 'i00e', 'ie', 'i-e', `i${'9'.repeat(400)}e`, 'd', 'l', 'e', ':', '0:', '1:', 'de', 'le', 'd1:ae', 'd1:a', 'i1e1:x');

function mutation(splices: readonly Uint8Array[]): fc.Arbitrary<Mutation> {
  const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
  const pos = (b: Uint8Array, f: number): number => Math.floor(f * (b.length + 1));
  return fc.oneof(
    // A string length made negative, huge or wrong.
    fc.tuple(at, lengthText).map(([f, text]): Mutation => (b) => {
      const ps = lengthPrefixes(b);
      if (ps.length === 0) return b;
      const [s, e] = ps[Math.floor(f * ps.length)]!;
      return replace(b, s, e, enc(text));
    }),
    // Deep nesting around the whole input or a part of it.
    fc.tuple(at, fc.integer({ min: 1, max: 2000 }), fc.constantFrom('l', 'd1:a')).map(([f, n, open]): Mutation => (b) => {
      const p = pos(b, f);
      return Buffer.concat([b.subarray(0, p), enc(open.repeat(n)), b.subarray(p), enc('e'.repeat(n))]);
    }),
    // Truncation.
    at.map((f): Mutation => (b) => b.subarray(0, pos(b, f))),
    // Bit flips.
    fc.tuple(at, fc.integer({ min: 0, max: 7 })).map(([f, bit]): Mutation => (b) => {
      if (b.length === 0) return b;
      const c = new Uint8Array(b);
      c[Math.min(c.length - 1, pos(b, f))]! ^= 1 << bit;
      return c;
    }),
    // One byte set to a structural character.
    fc.tuple(at, fc.constantFrom(...'ilde:-0123456789'.split(''))).map(([f, ch]): Mutation => (b) => {
      if (b.length === 0) return enc(ch);
      const p = Math.min(b.length - 1, pos(b, f));
      return replace(b, p, p + 1, enc(ch));
    }),
    // A hostile token inserted.
    fc.tuple(at, hostileToken).map(([f, tok]): Mutation => (b) => replace(b, pos(b, f), pos(b, f), enc(tok))),
    // A splice: a slice of another real input put in place of a slice of this one.
    fc.tuple(at, at, fc.nat({ max: Math.max(0, splices.length - 1) }), at, at).map(([f1, f2, k, g1, g2]): Mutation => (b) => {
      const other = splices[k] ?? new Uint8Array(0);
      const [a1, a2] = [pos(b, f1), pos(b, f2)].sort((x, y) => x - y);
      const [o1, o2] = [pos(other, g1), pos(other, g2)].sort((x, y) => x - y);
      return replace(b, a1!, a2!, other.subarray(o1!, o2!));
    }),
    // A slice duplicated (repeated keys, doubled values).
    fc.tuple(at, at).map(([f1, f2]): Mutation => (b) => {
      const [a1, a2] = [pos(b, f1), pos(b, f2)].sort((x, y) => x - y);
      return replace(b, a2!, a2!, b.subarray(a1!, a2!));
    }),
  );
}

/** Real inputs mutated 1 to 4 times, or left alone now and then (the valid path must work too). */
export function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation(seeds), { minLength: 0, maxLength: 4 }))
    .map(([seed, ms]) => ms.reduce((b, m) => m(b), seed));
}

/** Any bencodable value (bencode 4's encode input): what valid inputs are made of. */
export const bencodable: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Random bytes drawn mostly from bencode's alphabet. */
export const bencodeish: fc.Arbitrary<Uint8Array> = fc.array(fc.constantFrom(...'ilde:-0123456789ab'.split('')), { maxLength: 200 })
  .map((cs) => enc(cs.join('')));

/** Runs `f`, returning what it threw; rethrows anything that is not a SpritzleError (a crash, for the fuzzers). */
export function typedOutcome<T>(f: () => T): T | SpritzleError {
  try {
    return f();
  } catch (e) {
    if (e instanceof SpritzleError) return e;
    throw new Error(`untyped error: ${(e as Error)?.stack ?? String(e)}`);
  }
}

/** The slowest call and the heap growth over a run: a hang and bloat detector, not a benchmark. */
export class CallMeter {
  slowestMs = 0;
  private readonly heapStart = process.memoryUsage().heapUsed;
  time<T>(f: () => T): T {
    const t0 = performance.now();
    try {
      return f();
    } finally {
      this.slowestMs = Math.max(this.slowestMs, performance.now() - t0);
    }
  }
  async timeAsync<T>(f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.slowestMs = Math.max(this.slowestMs, performance.now() - t0);
    }
  }
  heapGrowth(): number {
    return process.memoryUsage().heapUsed - this.heapStart;
  }
}

/** fast-check parameters shared by the suites (the seed is in fast-check's failure report). */
export const params = { seed: FUZZ_SEED, numRuns: FUZZ_RUNS } as const;
