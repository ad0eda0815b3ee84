/**
 * RC4, as MSE/PE uses it (RC4-drop1024: the first 1024 bytes of key stream are thrown away).
 *
 * Pure TypeScript on purpose: Node's OpenSSL 3 keeps `rc4` in the legacy provider, which a library
 * cannot switch on for its host process, and `@spritzle/engine` in a plain `node` must do MSE. The
 * state is one Uint8Array(256) and the loop is a tight byte loop that V8 compiles to machine code;
 * measured in bench/rc4.mjs against OpenSSL's rc4 (when the legacy provider is loaded).
 */
export class Rc4 {
  /** Int32Array rather than Uint8Array: measured faster for the word loop. */
  private readonly s = new Int32Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array, drop = 1024) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key must be 1-256 bytes');
    const s = this.s;
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
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 0xff;
      const t = s[i]!;
      j = (j + t) & 0xff;
      s[i] = s[j]!;
      s[j] = t;
    }
    this.i = i;
    this.j = j;
  }

  /** XORs the key stream into `data[start, end)` in place (encryption and decryption are the same). */
  apply(data: Uint8Array, start = 0, end = data.length): void {
    let k = start;
    // Bytes up to a 4-byte boundary, then whole words (a quarter of the loads and stores), then the tail.
    while (k < end && ((data.byteOffset + k) & 3) !== 0) this.applyBytes(data, k, ++k);
    const words = (end - k) >> 2;
    if (words >= 16 && LITTLE_ENDIAN) {
      this.applyWords(this.wordsOf(data.buffer as ArrayBuffer), (data.byteOffset + k) >> 2, words);
      k += words << 2;
    }
    this.applyBytes(data, k, end);
  }

  private viewBuffer: ArrayBuffer | null = null;
  private view = new Int32Array(0);

  /** An Int32Array over `buffer`, kept while reads keep coming in the same buffer (no allocation per read). */
  private wordsOf(buffer: ArrayBuffer): Int32Array {
    if (buffer !== this.viewBuffer) {
      this.viewBuffer = buffer;
      this.view = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    }
    return this.view;
  }

  private applyWords(w: Int32Array, from: number, count: number): void {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    const stop = from + count;
    for (let k = from; k < stop; k++) {
      let ks = 0;
      for (let b = 0; b < 32; b += 8) {
        i = (i + 1) & 0xff;
        const t = s[i]!;
        j = (j + t) & 0xff;
        const u = s[j]!;
        s[i] = u;
        s[j] = t;
        ks |= s[(t + u) & 0xff]! << b;
      }
      w[k] = w[k]! ^ ks;
    }
    this.i = i;
    this.j = j;
  }

  private applyBytes(data: Uint8Array, start: number, end: number): void {
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let k = start; k < end; k++) {
      i = (i + 1) & 0xff;
      const t = s[i]!;
      j = (j + t) & 0xff;
      const u = s[j]!;
      s[i] = u;
      s[j] = t;
      data[k] = data[k]! ^ s[(t + u) & 0xff]!;
    }
    this.i = i;
    this.j = j;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
