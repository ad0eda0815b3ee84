import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Rc4 } from '../../../packages/engine/src/transport/rc4.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** RC4 as the textbook writes it, one byte at a time: the reference the fast paths are held to. */
function referenceRc4(key: Uint8Array, drop: number, data: Uint8Array): Uint8Array {
  const s = Array.from({ length: 256 }, (_, k) => k);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  const out = new Uint8Array(data.length);
  let i = 0;
  j = 0;
  for (let k = -drop; k < data.length; k++) {
    i = (i + 1) & 255;
    j = (j + s[i]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
    if (k >= 0) out[k] = data[k]! ^ s[(s[i]! + s[j]!) & 255]!;
  }
  return out;
}

describe('RC4', () => {
  it('matches the published test vectors (no drop)', () => {
    const enc = (key: string, text: string): string => {
      const d = ascii(text);
      new Rc4(ascii(key), 0).apply(d);
      return hex(d);
    };
    expect(enc('Key', 'Plaintext')).toBe('bbf316e8d940af0ad3');
    expect(enc('Wiki', 'pedia')).toBe('1021bf0420');
    expect(enc('Secret', 'Attack at dawn')).toBe('45a01f645fc35b383552544b9bf5');
  });

  it('drops the first 1024 bytes of key stream by default (RC4-drop1024, as MSE uses it)', () => {
    const key = ascii('0123456789abcdefghij');
    const data = new Uint8Array(64).fill(7);
    const d = data.slice();
    new Rc4(key).apply(d);
    expect(hex(d)).toBe(hex(referenceRc4(key, 1024, data)));
  });

  it('gives the reference stream whatever the split of the data and its alignment in memory', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.array(fc.nat({ max: 600 }), { maxLength: 6 }),
        fc.nat({ max: 7 }),
        (key, data, cuts, shift) => {
          // The data sits at an arbitrary byte offset of a larger buffer (as reads in a shared buffer do).
          const backing = new Uint8Array(data.length + 8);
          const view = backing.subarray(shift, shift + data.length);
          view.set(data);
          const rc4 = new Rc4(key);
          const points = [...new Set([0, ...cuts.filter((c) => c <= data.length), data.length])].sort((a, b) => a - b);
          for (let k = 1; k < points.length; k++) rc4.apply(view, points[k - 1], points[k]);
          expect(hex(view)).toBe(hex(referenceRc4(key, 1024, data)));
        },
      ),
      { seed: 1201, numRuns: 300 },
    );
  });

  it('gives the reference stream over data larger than its WebAssembly window, and for short and long calls mixed', () => {
    const key = ascii('a longer key for a longer stream');
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const d = data.slice();
    const rc4 = new Rc4(key);
    rc4.apply(d, 0, 5); // a message header (JavaScript)
    rc4.apply(d, 5, 200_005); // a long read (WebAssembly, two windows)
    rc4.apply(d, 200_005); // the rest
    expect(hex(d)).toBe(hex(referenceRc4(key, 1024, data)));
  });

  it('decrypts what it encrypted (the same key stream applied twice)', () => {
    const key = ascii('k');
    const data = ascii('the same bytes back');
    const d = data.slice();
    new Rc4(key).apply(d);
    new Rc4(key).apply(d);
    expect(hex(d)).toBe(hex(data));
  });

  it('writes the stream into another buffer at an offset, leaving the source as it was (WebAssembly and JavaScript alike)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.nat({ max: 2000 }),
        fc.nat({ max: 9 }),
        fc.boolean(),
        (key, data, cut, at, useWasm) => {
          const src = data.slice();
          const dst = new Uint8Array(at + data.length + 3).fill(0xee);
          const rc4 = new Rc4(key, 1024, useWasm);
          const mid = Math.min(cut, data.length);
          rc4.applyTo(src, 0, mid, dst, at);
          rc4.applyTo(src, mid, data.length, dst, at + mid);
          expect(hex(src)).toBe(hex(data));
          expect(hex(dst.subarray(at, at + data.length))).toBe(hex(referenceRc4(key, 1024, data)));
          expect([...dst.subarray(0, at), ...dst.subarray(at + data.length)].every((b) => b === 0xee)).toBe(true);
        },
      ),
      { seed: 1202, numRuns: 300 },
    );
  });
});
