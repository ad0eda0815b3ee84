/**
 * The MSE/PE handshake (Vuze's "Message Stream Encryption", as libtorrent and Transmission speak it), as a
 * state machine with no socket: bytes in, bytes to send out, and at the end the negotiated method with its
 * RC4 streams. The transport (mse.ts) moves the bytes.
 *
 *   1 A→B  Ya, PadA
 *   2 B→A  Yb, PadB
 *   3 A→B  HASH('req1',S), HASH('req2',SKEY)^HASH('req3',S), E(VC, crypto_provide, len(PadC), PadC, len(IA)), E(IA)
 *   4 B→A  E(VC, crypto_select, len(PadD), PadD), then the payload (RC4 or plaintext)
 *
 * Y: 96-byte Diffie-Hellman public keys on the 768-bit prime below, g = 2, 160-bit private keys; S the shared
 * secret; SKEY the torrent's info-hash; HASH is SHA-1; E is RC4-drop1024 keyed HASH('keyA',S,SKEY) from A
 * and HASH('keyB',S,SKEY) from B; VC is 8 zero bytes; pads are 0-512 bytes. Neither side knows the other's
 * pad length, so B finds step 3 by scanning for HASH('req1',S) and A finds step 4 by scanning for E(VC).
 */
import { createDiffieHellman, createHash, randomBytes, type DiffieHellman } from 'node:crypto';
import { Rc4 } from './rc4.js';

export const MSE_PRIME = Buffer.from(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
  'hex',
);
export const KEY_LENGTH = 96;
/** crypto_provide / crypto_select bits. */
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;
export const MAX_PAD = 512;
/** Bytes after Y within which the other side's sync marker must have ended (pad + marker). */
const REQ1_WINDOW = MAX_PAD + 20; // with Ya's 96: the spec's 628
const VC_WINDOW = MAX_PAD + 8;

export type MseMethod = 'rc4' | 'plaintext';

/** A handshake that failed: `message` says why, for the peer's disconnect reason. */
export class MseError extends Error {
  override name = 'MseError';
}

/** One side's Diffie-Hellman key pair. */
export interface DhKeyPair {
  readonly publicKey: Uint8Array; // KEY_LENGTH bytes, big-endian
  /** S from the other side's public key; throws if that key is not a valid element of the group. */
  secret(otherPublic: Uint8Array): Uint8Array;
}

/**
 * Key pairs from one shared DiffieHellman object: creating one checks the prime (~40 ms here), while
 * setting a 160-bit private key and exponentiating takes ~0.1 ms. Every use sets its own private key
 * first and nothing yields in between, so sharing it is safe.
 */
let sharedDh: DiffieHellman | null = null;
export function generateDhKeyPair(privateKey: Uint8Array = randomBytes(20)): DhKeyPair {
  const dh = (sharedDh ??= createDiffieHellman(MSE_PRIME, 2));
  const x = Buffer.from(privateKey);
  dh.setPrivateKey(x);
  const publicKey = leftPad(dh.generateKeys());
  return {
    publicKey,
    secret(other) {
      dh.setPrivateKey(x);
      try {
        return leftPad(dh.computeSecret(other));
      } catch {
        throw new MseError('invalid Diffie-Hellman key from the peer');
      }
    },
  };
}

function leftPad(b: Uint8Array): Uint8Array {
  if (b.length === KEY_LENGTH) return new Uint8Array(b);
  const out = new Uint8Array(KEY_LENGTH);
  out.set(b, KEY_LENGTH - b.length);
  return out;
}

function sha1(...parts: (string | Uint8Array)[]): Uint8Array {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HASH('req2', SKEY): what an incoming connection's obfuscated hash reveals; the session maps it to a torrent. */
export function skeyHash(skey: Uint8Array): Uint8Array {
  return sha1('req2', skey);
}

export interface MseInitiatorOptions {
  role: 'initiator';
  /** The torrent's info-hash (v1, or v2 truncated to 20 bytes). */
  skey: Uint8Array;
  /** Bits of CRYPTO_PLAINTEXT / CRYPTO_RC4 we accept. */
  cryptoProvide: number;
  /**
   * The initial payload sent inside step 3 (the BitTorrent handshake; at most 65535 bytes), asked for then,
   * and only when RC4 alone is offered (see sendsInitialPayload); otherwise the owner sends it after step 4.
   */
  initialPayload(): Uint8Array;
}

export interface MseResponderOptions {
  role: 'responder';
  /** The SKEY whose HASH('req2', SKEY) this is (one of the session's torrents), or null. */
  findSkey(req2: Uint8Array): Uint8Array | null;
  /** The method for the peer's crypto_provide bits: CRYPTO_RC4, CRYPTO_PLAINTEXT, or 0 for none acceptable. */
  select(cryptoProvide: number): number;
}

export type MseOptions = MseInitiatorOptions | MseResponderOptions;

export interface MseResult {
  method: MseMethod;
  skey: Uint8Array;
  /** RC4 streams for the payload (null for plaintext). */
  encrypt: Rc4 | null;
  decrypt: Rc4 | null;
  /** Payload bytes received with the handshake, already decrypted (the responder's IA first). */
  payload: Uint8Array;
}

type State =
  | 'readY' // 96 bytes of the other side's public key
  | 'syncReq1' // B: scanning for HASH('req1', S)
  | 'readSkey' // B: HASH('req2',SKEY)^HASH('req3',S)
  | 'readProvide' // B: E(VC, crypto_provide, len(PadC))
  | 'readPadC' // B: E(PadC, len(IA))
  | 'readIa' // B: E(IA)
  | 'syncVc' // A: scanning for E(VC)
  | 'readSelect' // A: E(crypto_select, len(PadD))
  | 'readPadD' // A: E(PadD)
  | 'done'
  | 'failed';

export interface MseHandshakeDeps {
  keys?: DhKeyPair;
  /** Pad lengths and pad bytes (random by default; fixed in tests that record streams). */
  padLength?(): number;
}

/**
 * One side of a handshake. `start()` gives the first bytes to send; `receive()` takes bytes as they come
 * (split anywhere) and returns the bytes to send in reply; it throws MseError when the peer breaks the
 * protocol, after which the connection is dropped. `result` is set once the handshake is done.
 */
export class MseHandshake {
  private state: State = 'readY';
  private store = new Uint8Array(1024);
  private head = 0;
  private tail = 0;
  private readonly keys: DhKeyPair;
  private readonly padLength: () => number;
  private secretS: Uint8Array | null = null;
  private skey: Uint8Array | null = null;
  private encryptor: Rc4 | null = null;
  private decryptor: Rc4 | null = null;
  private scanned = 0;
  private marker: Uint8Array | null = null;
  private need = 0;
  private cryptoField = 0;
  private ia: Uint8Array = new Uint8Array(0);
  result: MseResult | null = null;

  constructor(private readonly options: MseOptions, deps: MseHandshakeDeps = {}) {
    this.keys = deps.keys ?? generateDhKeyPair();
    this.padLength = deps.padLength ?? (() => randomBytes(2).readUInt16BE() % (MAX_PAD + 1));
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The other side's public key has come (it speaks MSE, whatever happens next). */
  get gotPublicKey(): boolean {
    return this.secretS !== null;
  }

  /** The first bytes to send: Ya + PadA from the initiator; nothing from the responder, who waits for Ya. */
  start(): Uint8Array | null {
    return this.options.role === 'initiator' ? this.publicKeyAndPad() : null;
  }

  receive(data: Uint8Array): Uint8Array[] {
    if (this.state === 'done' || this.state === 'failed') throw new MseError('handshake already over');
    this.append(data);
    const out: Uint8Array[] = [];
    try {
      while (this.step(out));
    } catch (e) {
      this.state = 'failed';
      this.store = new Uint8Array(0);
      this.head = this.tail = 0;
      throw e;
    }
    return out;
  }

  /** Appends into a buffer that doubles (a peer dripping a byte at a time costs no quadratic copying). */
  private append(data: Uint8Array): void {
    const len = this.tail - this.head;
    if (this.tail + data.length > this.store.length) {
      if (this.store.length >= len + data.length) {
        this.store.copyWithin(0, this.head, this.tail);
      } else {
        const grown = new Uint8Array(Math.max(2 * this.store.length, len + data.length));
        grown.set(this.store.subarray(this.head, this.tail));
        this.store = grown;
      }
      this.head = 0;
      this.tail = len;
    }
    this.store.set(data, this.tail);
    this.tail += data.length;
  }

  private get buffered(): number {
    return this.tail - this.head;
  }

  private consume(n: number): Uint8Array {
    const head = this.store.subarray(this.head, this.head + n);
    this.head += n;
    return head;
  }

  private publicKeyAndPad(): Uint8Array {
    const pad = this.padLength();
    const out = new Uint8Array(KEY_LENGTH + pad);
    out.set(this.keys.publicKey);
    out.set(randomBytes(pad), KEY_LENGTH);
    return out;
  }

  /** One step of the machine; false when it needs more bytes (or is done). */
  private step(out: Uint8Array[]): boolean {
    const o = this.options;
    switch (this.state) {
      case 'readY': {
        if (this.buffered < KEY_LENGTH) return false;
        const s = (this.secretS = this.keys.secret(this.consume(KEY_LENGTH)));
        if (o.role === 'responder') {
          out.push(this.publicKeyAndPad());
          this.marker = sha1('req1', s);
          this.state = 'syncReq1';
        } else {
          this.skey = o.skey;
          out.push(this.step3(o, s));
          // A finds step 4 by B's first 8 bytes of key stream (E(VC) is the key stream itself).
          const probe = new Rc4(sha1('keyB', s, o.skey));
          this.marker = new Uint8Array(8);
          probe.apply(this.marker);
          this.state = 'syncVc';
        }
        return true;
      }
      case 'syncReq1':
      case 'syncVc': {
        const window = this.state === 'syncReq1' ? REQ1_WINDOW : VC_WINDOW;
        const at = this.findMarker(window);
        if (at < 0) return false;
        this.consume(at + this.marker!.length);
        if (this.state === 'syncReq1') {
          this.state = 'readSkey';
        } else {
          this.decryptor = new Rc4(sha1('keyB', this.secretS!, this.skey!));
          this.decryptor.skip(8); // the VC just found
          this.state = 'readSelect';
        }
        return true;
      }
      case 'readSkey': {
        if (this.buffered < 20 || o.role !== 'responder') return false;
        const obfuscated = this.consume(20);
        const req3 = sha1('req3', this.secretS!);
        const req2 = new Uint8Array(20);
        for (let i = 0; i < 20; i++) req2[i] = obfuscated[i]! ^ req3[i]!;
        const skey = o.findSkey(req2);
        if (!skey) throw new MseError('encrypted handshake for a torrent we do not have');
        this.skey = skey;
        this.decryptor = new Rc4(sha1('keyA', this.secretS!, skey));
        this.encryptor = new Rc4(sha1('keyB', this.secretS!, skey));
        this.state = 'readProvide';
        return true;
      }
      case 'readProvide': {
        if (this.buffered < 14) return false;
        const h = this.decryptHead(14);
        for (let i = 0; i < 8; i++) if (h[i] !== 0) throw new MseError('bad verification constant in the encrypted handshake');
        this.cryptoField = readU32(h, 8);
        this.need = readU16(h, 12);
        if (this.need > MAX_PAD) throw new MseError(`encrypted handshake pad of ${this.need} bytes (at most ${MAX_PAD})`);
        this.need += 2; // and len(IA)
        this.state = 'readPadC';
        return true;
      }
      case 'readPadC': {
        if (this.buffered < this.need) return false;
        const p = this.decryptHead(this.need);
        this.need = readU16(p, p.length - 2);
        this.state = 'readIa';
        return true;
      }
      case 'readIa': {
        if (this.buffered < this.need || o.role !== 'responder') return false;
        this.ia = this.decryptHead(this.need).slice();
        const provide = this.cryptoField;
        const select = o.select(provide);
        if (select === 0 || (select & provide) === 0 || (select !== CRYPTO_RC4 && select !== CRYPTO_PLAINTEXT)) {
          throw new MseError(`no common encryption method (the peer offers ${describeProvide(provide)})`);
        }
        // step 4: E(VC, crypto_select, len(PadD), PadD)
        const pad = this.padLength();
        const msg = new Uint8Array(14 + pad);
        writeU32(msg, 8, select);
        msg[12] = pad >> 8;
        msg[13] = pad & 0xff;
        this.encryptor!.apply(msg);
        out.push(msg);
        this.finish(select);
        return false;
      }
      case 'readSelect': {
        if (this.buffered < 6 || o.role !== 'initiator') return false;
        const h = this.decryptHead(6);
        const select = readU32(h, 0);
        if ((select !== CRYPTO_RC4 && select !== CRYPTO_PLAINTEXT) || (select & o.cryptoProvide) === 0) {
          throw new MseError(`the peer selected encryption method ${select}, which we did not offer (${describeProvide(o.cryptoProvide)})`);
        }
        this.cryptoField = select;
        this.need = readU16(h, 4);
        if (this.need > MAX_PAD) throw new MseError(`encrypted handshake pad of ${this.need} bytes (at most ${MAX_PAD})`);
        this.state = 'readPadD';
        return true;
      }
      case 'readPadD': {
        if (this.buffered < this.need) return false;
        this.decryptHead(this.need);
        this.finish(this.cryptoField);
        return false;
      }
      default:
        return false;
    }
  }

  private step3(o: MseInitiatorOptions, s: Uint8Array): Uint8Array {
    const ia = sendsInitialPayload(o.cryptoProvide) ? o.initialPayload() : NO_PAYLOAD;
    if (ia.length > 0xffff) throw new MseError('initial payload too long');
    const pad = this.padLength();
    const msg = new Uint8Array(40 + 8 + 4 + 2 + pad + 2 + ia.length);
    msg.set(sha1('req1', s), 0);
    const req2 = sha1('req2', o.skey);
    const req3 = sha1('req3', s);
    for (let i = 0; i < 20; i++) msg[20 + i] = req2[i]! ^ req3[i]!;
    let p = 48; // VC: 8 zero bytes at 40
    writeU32(msg, p, o.cryptoProvide);
    p += 4;
    msg[p++] = pad >> 8;
    msg[p++] = pad & 0xff;
    p += pad; // PadC: zeros
    msg[p++] = ia.length >> 8;
    msg[p++] = ia.length & 0xff;
    msg.set(ia, p);
    this.encryptor = new Rc4(sha1('keyA', s, o.skey));
    this.encryptor.apply(msg, 40);
    return msg;
  }

  /** Scans the buffer for the marker within `window` bytes; -1 (after checking the window) if not there yet. */
  private findMarker(window: number): number {
    const m = this.marker!;
    const b = this.store.subarray(this.head, this.tail);
    const last = Math.min(b.length - m.length, window - m.length);
    for (let i = this.scanned; i <= last; i++) {
      let k = 0;
      while (k < m.length && b[i + k] === m[k]) k++;
      if (k === m.length) return i;
    }
    if (b.length >= window) throw new MseError('no encrypted handshake found (not MSE, or a wrong key)');
    this.scanned = Math.max(0, last + 1);
    return -1;
  }

  private decryptHead(n: number): Uint8Array {
    const h = this.consume(n);
    this.decryptor!.apply(h);
    return h;
  }

  private finish(select: number): void {
    const rc4 = select === CRYPTO_RC4;
    const rest = this.store.slice(this.head, this.tail);
    if (rc4) this.decryptor!.apply(rest);
    let payload = rest;
    if (this.ia.length > 0) {
      payload = new Uint8Array(this.ia.length + rest.length);
      payload.set(this.ia);
      payload.set(rest, this.ia.length);
    }
    this.result = {
      method: rc4 ? 'rc4' : 'plaintext',
      skey: this.skey!,
      encrypt: rc4 ? this.encryptor : null,
      decrypt: rc4 ? this.decryptor : null,
      payload,
    };
    this.store = new Uint8Array(0);
    this.head = this.tail = 0;
    this.state = 'done';
  }
}

const NO_PAYLOAD = new Uint8Array(0);

/**
 * Whether the initiator sends its BitTorrent handshake as IA in step 3: only when it offers RC4 alone. IA is
 * always RC4-encrypted, but a responder that selects plaintext may read the BitTorrent handshake from the
 * clear stream that follows step 4 (Transmission's handshake.c turns decryption off and never reads IA as
 * such), where an encrypted IA reads as garbage. libtorrent never sends IA; with RC4 alone every responder
 * decrypts what follows step 3 as one RC4 stream, so IA saves a round trip safely.
 */
export function sendsInitialPayload(cryptoProvide: number): boolean {
  return cryptoProvide === CRYPTO_RC4;
}

/** libtorrent's choice for a responder: RC4 when offered and wanted (prefer_rc4, or RC4 only), else plaintext. */
export function selectMethod(cryptoProvide: number, allowed: number, preferRc4: boolean): number {
  const common = cryptoProvide & allowed;
  if (common & CRYPTO_RC4 && (preferRc4 || !(common & CRYPTO_PLAINTEXT))) return CRYPTO_RC4;
  return common & CRYPTO_PLAINTEXT ? CRYPTO_PLAINTEXT : 0;
}

function describeProvide(bits: number): string {
  const names = [bits & CRYPTO_PLAINTEXT ? 'plaintext' : '', bits & CRYPTO_RC4 ? 'rc4' : ''].filter(Boolean);
  return names.length ? names.join(' and ') : `nothing we know (0x${bits.toString(16)})`;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
