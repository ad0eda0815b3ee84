/**
 * RC4, as MSE/PE uses it (RC4-drop1024: the first 1024 bytes of key stream are thrown away).
 *
 * Node's OpenSSL 3 keeps `rc4` in the legacy provider, which a library cannot switch on for its host
 * process, and `@spritzle/engine` in a plain `node` must do MSE. So the engine carries its own: a small
 * hand-written WebAssembly function (below, with its source). Measured by bench/rc4.mjs on this project's
 * loaded 2-core machine, per CPU-second: the loop alone about 740 MiB; Rc4.apply with its copies in and out
 * of WebAssembly memory about 580-620; the same loop in JavaScript (every S-box access bounds-checked) about
 * 200; OpenSSL's rc4 through createCipheriv under --openssl-legacy-provider about 620-660. OpenSSL is not
 * used where it is available: its 5-10 % edge on the cipher is ~0.1 CPU-s per GiB, and its update() allocates
 * its output on every call, i.e. per message sent. Short inputs (single messages) stay in JavaScript, where a
 * call into WebAssembly and the copies would cost more than they save. Nothing is allocated per call.
 */

/*
 * The WebAssembly module (RC4_WASM below is its binary, made from this text by wabt's wat2wasm). Memory:
 * bytes 0-255 the S-box, 256 and 257 the indices i and j, data at 1024. One instance serves every Rc4:
 * each call copies the stream's state in and out (258 bytes). Eight bytes of key stream are gathered into
 * one 64-bit word and XORed into the data with one load and one store (the byte-at-a-time loop's loads and
 * stores of the data were a fifth of its time); the last n mod 8 bytes go one at a time.
 *
 * (module
 *   (memory (export "mem") 2)
 *   (func (export "rc4") (param $p i32) (param $n i32)
 *     (local $end i32) (local $i i32) (local $j i32) (local $t i32) (local $u i32) (local $end8 i32) (local $k i64)
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     (local.set $end8 (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -8))))
 *     (local.set $i (i32.load8_u offset=256 (i32.const 0)))
 *     (local.set $j (i32.load8_u offset=257 (i32.const 0)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $p) (local.get $end8)))
 *       (local.set $k (i64.const 0))
 *       ;; eight times, with SHIFT = 0, 8, ..., 56: one byte of key stream into $k
 *       (local.set $t (i32.load8_u (local.tee $i (i32.and (i32.add (local.get $i) (i32.const 1)) (i32.const 255)))))
 *       (local.set $u (i32.load8_u (local.tee $j (i32.and (i32.add (local.get $j) (local.get $t)) (i32.const 255)))))
 *       (i32.store8 (local.get $i) (local.get $u))
 *       (i32.store8 (local.get $j) (local.get $t))
 *       (local.set $k (i64.or (local.get $k) (i64.shl (i64.extend_i32_u
 *         (i32.load8_u (i32.and (i32.add (local.get $t) (local.get $u)) (i32.const 255)))) (i64.const SHIFT))))
 *       ;; then (little-endian: byte 0 of the word is the first byte of data)
 *       (i64.store (local.get $p) (i64.xor (i64.load (local.get $p)) (local.get $k)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 8)))
 *       (br 0)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
 *       (local.set $t (i32.load8_u (local.tee $i (i32.and (i32.add (local.get $i) (i32.const 1)) (i32.const 255)))))
 *       (local.set $u (i32.load8_u (local.tee $j (i32.and (i32.add (local.get $j) (local.get $t)) (i32.const 255)))))
 *       (i32.store8 (local.get $i) (local.get $u))
 *       (i32.store8 (local.get $j) (local.get $t))
 *       (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p))
 *         (i32.load8_u (i32.and (i32.add (local.get $t) (local.get $u)) (i32.const 255)))))
 *       (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *       (br 0)))
 *     (i32.store8 offset=256 (i32.const 0) (local.get $i))
 *     (i32.store8 offset=257 (i32.const 0) (local.get $j))))
 */
const RC4_WASM =
  'AGFzbQEAAAABBgFgAn9/AAMCAQAFAwEAAgcNAgNtZW0CAANyYzQAAArUBQHRBQIGfwF+IAAgAWohAiAAIAFBeHFqIQdBAC0AgAIhA0EALQCBAiEEAkAD' +
  'QCAAIAdPDQFCACEIIANBAWpB/wFxIgMtAAAhBSAEIAVqQf8BcSIELQAAIQYgAyAGOgAAIAQgBToAACAIIAUgBmpB/wFxLQAArUIAhoQhCCADQQFqQf8B' +
  'cSIDLQAAIQUgBCAFakH/AXEiBC0AACEGIAMgBjoAACAEIAU6AAAgCCAFIAZqQf8BcS0AAK1CCIaEIQggA0EBakH/AXEiAy0AACEFIAQgBWpB/wFxIgQt' +
  'AAAhBiADIAY6AAAgBCAFOgAAIAggBSAGakH/AXEtAACtQhCGhCEIIANBAWpB/wFxIgMtAAAhBSAEIAVqQf8BcSIELQAAIQYgAyAGOgAAIAQgBToAACAI' +
  'IAUgBmpB/wFxLQAArUIYhoQhCCADQQFqQf8BcSIDLQAAIQUgBCAFakH/AXEiBC0AACEGIAMgBjoAACAEIAU6AAAgCCAFIAZqQf8BcS0AAK1CIIaEIQgg' +
  'A0EBakH/AXEiAy0AACEFIAQgBWpB/wFxIgQtAAAhBiADIAY6AAAgBCAFOgAAIAggBSAGakH/AXEtAACtQiiGhCEIIANBAWpB/wFxIgMtAAAhBSAEIAVq' +
  'Qf8BcSIELQAAIQYgAyAGOgAAIAQgBToAACAIIAUgBmpB/wFxLQAArUIwhoQhCCADQQFqQf8BcSIDLQAAIQUgBCAFakH/AXEiBC0AACEGIAMgBjoAACAE' +
  'IAU6AAAgCCAFIAZqQf8BcS0AAK1COIaEIQggACAAKQMAIAiFNwMAIABBCGohAAwACwsCQANAIAAgAk8NASADQQFqQf8BcSIDLQAAIQUgBCAFakH/AXEi' +
  'BC0AACEGIAMgBjoAACAEIAU6AAAgACAALQAAIAUgBmpB/wFxLQAAczoAACAAQQFqIQAMAAsLQQAgAzoAgAJBACAEOgCBAgs=';

const STATE_BYTES = 258;
const DATA_AT = 1024;
/** Bytes of data per call: what fits in the module's two pages after the data offset. */
const WINDOW = 2 * 65536 - DATA_AT;
/** Below this many bytes JavaScript is cheaper than copying the state into WebAssembly and back. */
const WASM_MIN = 256;

interface Rc4Wasm {
  rc4(p: number, n: number): void;
  memory: Uint8Array;
  /** The same memory as a Buffer: its copy() moves bytes out without making a view. */
  memoryBuffer: Buffer;
}

/** The part of the WebAssembly global used here (the engine compiles without the DOM library that types it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { rc4: (p: number, n: number) => void; mem: { buffer: ArrayBuffer } } };
};

let wasm: Rc4Wasm | null | undefined;

/** The shared instance, made on first use (synchronously: the module is tiny); null where WebAssembly is missing. */
function rc4Wasm(): Rc4Wasm | null {
  if (wasm !== undefined) return wasm;
  try {
    const bytes = Buffer.from(RC4_WASM, 'base64');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const exports = instance.exports;
    wasm = { rc4: exports.rc4, memory: new Uint8Array(exports.mem.buffer), memoryBuffer: Buffer.from(exports.mem.buffer) };
  } catch {
    wasm = null;
  }
  return wasm;
}

export class Rc4 {
  /** S-box, then i and j (the layout the WebAssembly function uses). */
  private readonly state = new Uint8Array(STATE_BYTES);
  private readonly wasm = rc4Wasm();

  /** `useWasm` false: JavaScript only (for comparison in bench/rc4.mjs). */
  constructor(key: Uint8Array, drop = 1024, private readonly useWasm = true) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key must be 1-256 bytes');
    const s = this.state;
    for (let k = 0; k < 256; k++) s[k] = k;
    let j = 0;
    for (let k = 0; k < 256; k++) {
      const t = s[k]!;
      j = (j + t + key[k % key.length]!) & 0xff;
      s[k] = s[j]!;
      s[j] = t;
    }
    this.skip(drop);
  }

  /** Advances the key stream by `n` bytes without output. */
  skip(n: number): void {
    const s = this.state;
    let i = s[256]!;
    let j = s[257]!;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 0xff;
      const t = s[i]!;
      j = (j + t) & 0xff;
      s[i] = s[j]!;
      s[j] = t;
    }
    s[256] = i;
    s[257] = j;
  }

  /** XORs the key stream into `data[start, end)` in place (encryption and decryption are the same). */
  apply(data: Uint8Array, start = 0, end = data.length): void {
    this.applyTo(data, start, end, data, start);
  }

  /**
   * Writes `src[start, end)` XOR the key stream to `dst` from `at` (`src` is left as it is unless it is
   * `dst`): encryption straight into a send buffer, without a copy of the plaintext first.
   */
  applyTo(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): void {
    const w = this.useWasm ? this.wasm : null;
    if (!w || end - start < WASM_MIN) {
      this.applyJs(src, start, end, dst, at);
      return;
    }
    const mem = w.memory;
    mem.set(this.state, 0);
    for (let from = start; from < end; from += WINDOW) {
      const n = Math.min(WINDOW, end - from);
      // The whole array (the usual call) is copied in without a view; a part needs one.
      mem.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), DATA_AT);
      w.rc4(DATA_AT, n);
      w.memoryBuffer.copy(dst, at + (from - start), DATA_AT, DATA_AT + n);
    }
    w.memoryBuffer.copy(this.state, 0, 0, STATE_BYTES);
  }

  private applyJs(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): void {
    const s = this.state;
    let i = s[256]!;
    let j = s[257]!;
    for (let k = start, o = at; k < end; k++, o++) {
      i = (i + 1) & 0xff;
      const t = s[i]!;
      j = (j + t) & 0xff;
      const u = s[j]!;
      s[i] = u;
      s[j] = t;
      dst[o] = src[k]! ^ s[(t + u) & 0xff]!;
    }
    s[256] = i;
    s[257] = j;
  }
}
