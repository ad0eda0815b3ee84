/**
 * The MSE/PE transport: an encrypting transport over another (TCP). It runs the handshake
 * (mse-handshake.ts) on the inner transport's bytes, then hands the owner (the peer connection) plaintext
 * and sends its writes RC4-encrypted, or as they are when plaintext was negotiated.
 *
 * Outgoing: `MseTransport.outgoing` starts the handshake at once; the owner's writes wait until it is done
 * and then go out as negotiated, except that with RC4 alone offered its first writes (its BitTorrent
 * handshake) travel inside the handshake as the initial payload (see sendsInitialPayload).
 * Incoming: `MseTransport.incoming` tells the two kinds apart by the first 20 bytes (a plaintext BitTorrent
 * handshake's header, or else an MSE public key) and refuses what the policy forbids.
 */
import type { Transport, TransportSink } from './transport.js';
import {
  CRYPTO_PLAINTEXT, CRYPTO_RC4, MseError, MseHandshake, selectMethod,
  type MseHandshakeDeps, type MseMethod, type MseResult,
} from './mse-handshake.js';
import type { Rc4 } from './rc4.js';
import { PROTOCOL } from '../wire/codec.js';

/**
 * libtorrent's enc_policy (out_enc_policy, in_enc_policy): `forced` refuses plaintext connections, `enabled`
 * allows both, `disabled` refuses encrypted ones.
 */
export type EncPolicy = 'forced' | 'enabled' | 'disabled';
/** libtorrent's enc_level (allowed_enc_level): what an encrypted connection may carry its payload as. */
export type EncLevel = 'plaintext' | 'rc4' | 'both';

export function cryptoBits(level: EncLevel): number {
  return level === 'plaintext' ? CRYPTO_PLAINTEXT : level === 'rc4' ? CRYPTO_RC4 : CRYPTO_PLAINTEXT | CRYPTO_RC4;
}

/** What a connection turned out to be: plaintext BitTorrent, or MSE with the negotiated method. */
export type Encryption = 'none' | MseMethod;

/**
 * How an incoming plaintext connection starts: the protocol string's length (19), then the string. One MSE
 * public key in 256 starts with the byte 19 too, so these 20 bytes decide, as in libtorrent, not the first alone.
 */
const PLAINTEXT_PREFIX = Buffer.from(String.fromCharCode(PROTOCOL.length) + PROTOCOL, 'latin1');

export interface MseTransportEvents {
  /** The handshake is over (result) or failed before it was over (error's reason); called once. */
  onHandshakeEnd?(result: MseResult | null, reason?: string): void;
  /** Milliseconds for the handshake to finish before the connection is closed (0: no limit). */
  timeoutMs?: number;
}

export interface IncomingOptions extends MseTransportEvents {
  policy: EncPolicy;
  level: EncLevel;
  preferRc4: boolean;
  /** HASH('req2', SKEY) → SKEY, over every torrent of the session. */
  findSkey(req2: Uint8Array): Uint8Array | null;
  /** Called when the first bytes decide the kind of the connection (before any handshake work). */
  onKind?(kind: 'plaintext' | 'mse'): void;
  /**
   * Handshakes in progress, shared by the session: the Diffie-Hellman step is the expensive part, so an MSE
   * connection beyond the cap is closed at once instead of computed.
   */
  slots?: HandshakeSlots;
  deps?: MseHandshakeDeps;
}

export interface OutgoingOptions extends MseTransportEvents {
  skey: Uint8Array;
  level: EncLevel;
  deps?: MseHandshakeDeps;
}

/** A cap on concurrent MSE handshakes. */
export class HandshakeSlots {
  private used = 0;
  constructor(public limit: number) {}
  get inUse(): number {
    return this.used;
  }
  tryAcquire(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
  release(): void {
    if (this.used > 0) this.used--;
  }
}

type Mode = 'sniffing' | 'handshake' | 'plaintext' | 'rc4' | 'closed';

/**
 * Where every connection's RC4 writes go, encrypted, one after another: one allocation for many writes
 * instead of one each. A view of it is handed to the inner transport, which may hold it until sent, so a
 * full buffer is replaced (never reused) and is freed once its last write has left. Shared by all
 * connections, so an idle one holds none.
 */
const SEND_BUFFER_BYTES = 128 * 1024;
let sendBuffer: Uint8Array | null = null;
let sendUsed = 0;
/** The offset of the span sendSpan returned last (a second return value without allocating a pair). */
let sendSpanAt = 0;

/** Room for `n` bytes: the shared send buffer (or, when larger than it, one of their own); the offset is in sendSpanAt. */
function sendSpan(n: number): Uint8Array {
  if (sendBuffer === null || sendUsed + n > sendBuffer.length) {
    if (n > SEND_BUFFER_BYTES) {
      sendSpanAt = 0;
      return new Uint8Array(n);
    }
    sendBuffer = new Uint8Array(SEND_BUFFER_BYTES);
    sendUsed = 0;
  }
  sendSpanAt = sendUsed;
  sendUsed += n;
  return sendBuffer;
}

/**
 * A Transport to its owner and a TransportSink to the transport under it: the owner sees plaintext BitTorrent
 * bytes whatever travels on the wire.
 */
export class MseTransport implements Transport, TransportSink {
  private mode: Mode;
  /** The first bytes of an incoming connection while they could still be a plaintext handshake's. */
  private sniffed: Uint8Array | null = null;
  private sink: TransportSink | null = null;
  private handshake: MseHandshake | null = null;
  private encryptor: Rc4 | null = null;
  private decryptor: Rc4 | null = null;
  /** Owner's writes waiting for the handshake (bounded by what a peer connection writes before its peer answers). */
  private pendingWrites: Uint8Array[] = [];
  private pendingFlushed: ((() => void) | undefined)[] = [];
  private pendingBytes = 0;
  /** `flushed` callbacks of the writes that went out inside the handshake (as IA). */
  private iaFlushed: (() => void)[] = [];
  /** Payload (or a close) that came before the owner attached. */
  private early: Uint8Array[] = [];
  private closedReason: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private skeyValue: Uint8Array | null = null;
  private ended = false;
  private slots: HandshakeSlots | null = null;
  private incomingOptions: IncomingOptions | null = null;

  /** Dialling side: the MSE handshake starts now. */
  static outgoing(inner: Transport, o: OutgoingOptions): MseTransport {
    const t = new MseTransport(inner, 'handshake', o);
    t.handshake = new MseHandshake(
      { role: 'initiator', skey: o.skey, cryptoProvide: cryptoBits(o.level), initialPayload: () => t.takeInitialPayload() },
      o.deps,
    );
    t.skeyValue = o.skey;
    inner.attach(t);
    const first = t.handshake.start();
    if (first) inner.write(first);
    return t;
  }

  /** Accepting side: waits for the first bytes to tell plaintext from MSE. */
  static incoming(inner: Transport, o: IncomingOptions): MseTransport {
    const t = new MseTransport(inner, 'sniffing', o);
    t.incomingOptions = o;
    inner.attach(t);
    return t;
  }

  /** The transport this one encrypts (the peer list tells TCP from uTP by it). */
  get underlying(): Transport {
    return this.inner;
  }

  private constructor(private readonly inner: Transport, mode: Mode, private readonly events: MseTransportEvents) {
    this.mode = mode;
    if (events.timeoutMs) {
      this.timer = setTimeout(() => this.close('encryption handshake timed out'), events.timeoutMs);
      this.timer.unref();
    }
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get remotePort(): number {
    return this.inner.remotePort;
  }

  get bytesRead(): number {
    return this.inner.bytesRead;
  }

  get bytesWritten(): number {
    return this.inner.bytesWritten;
  }

  get writeQueued(): number {
    return this.inner.writeQueued + this.pendingBytes;
  }

  /** 'none' for plaintext BitTorrent, the MSE method once negotiated, null while undecided. */
  get encryption(): Encryption | null {
    if (this.mode === 'rc4') return 'rc4';
    if (this.mode === 'plaintext') return this.handshake ? 'plaintext' : 'none';
    return null;
  }

  /** The info-hash the MSE handshake named (null for plaintext connections). */
  get skey(): Uint8Array | null {
    return this.skeyValue;
  }

  /**
   * The peer answered with an MSE public key: it speaks MSE, so a failure after this is not one that a
   * plaintext retry would avoid.
   */
  get peerSpeaksMse(): boolean {
    return this.handshake?.gotPublicKey ?? false;
  }

  /** True once the connection carries BitTorrent messages (a finished handshake, or plaintext). */
  get established(): boolean {
    return this.mode === 'plaintext' || this.mode === 'rc4';
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const d of early) {
      if (this.sink !== sink) break;
      sink.onData(d);
    }
    if (this.closedReason !== null) sink.onClosed(this.closedReason);
  }

  write(data: Uint8Array, flushed?: () => void): void {
    if (this.mode === 'closed') return;
    if (this.mode === 'rc4') {
      // The owner's bytes are not ours to change (a block may be shared): encrypted into the send buffer.
      const n = data.length;
      const buf = sendSpan(n);
      const at = sendSpanAt;
      this.encryptor!.applyTo(data, 0, n, buf, at);
      this.inner.write(buf.subarray(at, at + n), flushed);
    } else if (this.mode === 'plaintext') {
      this.inner.write(data, flushed);
    } else {
      this.pendingWrites.push(data);
      this.pendingFlushed.push(flushed);
      this.pendingBytes += data.length;
    }
  }

  cork(): void {
    this.inner.cork();
  }

  uncork(): void {
    this.inner.uncork();
  }

  close(reason: string): void {
    this.inner.close(reason); // comes back through onClosed
    this.onClosed(reason);
  }

  // ------------------------------------------------------------------ the inner transport's sink

  onData(data: Uint8Array): void {
    switch (this.mode) {
      case 'rc4':
        // In place: `data` is ours for the duration of the call (a read buffer).
        this.decryptor!.apply(data);
        this.deliver(data);
        return;
      case 'plaintext':
        this.deliver(data);
        return;
      case 'sniffing':
        this.sniff(data);
        return;
      case 'handshake':
        this.handshakeData(data);
        return;
      default:
    }
  }

  onDrain(): void {
    if (this.established) this.sink?.onDrain();
  }

  onClosed(reason: string): void {
    if (this.mode === 'closed') return;
    const during = this.mode === 'handshake';
    this.mode = 'closed';
    this.stopTimer();
    this.pendingWrites = [];
    this.pendingFlushed = [];
    this.iaFlushed = [];
    this.pendingBytes = 0;
    const why = during && !reason.includes('encryption') ? `${reason} during the encryption handshake` : reason;
    if (during) this.endHandshake(null, why);
    if (this.sink) this.sink.onClosed(why);
    else this.closedReason = why;
  }

  // ------------------------------------------------------------------

  private sniff(chunk: Uint8Array): void {
    const o = this.incomingOptions!;
    if (chunk.length === 0) return;
    // The first bytes may come in pieces: keep them (a copy: `chunk` is a read buffer) until they decide.
    const data = this.sniffed === null ? chunk : Buffer.concat([this.sniffed, chunk]);
    this.sniffed = null;
    let same = 0;
    while (same < PLAINTEXT_PREFIX.length && same < data.length && data[same] === PLAINTEXT_PREFIX[same]) same++;
    if (same === data.length && same < PLAINTEXT_PREFIX.length) {
      this.sniffed = data === chunk ? Uint8Array.from(chunk) : data; // a concat is already a copy
      return;
    }
    if (same === PLAINTEXT_PREFIX.length) {
      o.onKind?.('plaintext');
      if (o.policy === 'forced') return this.close('plaintext connection refused: encryption is required (in_enc_policy forced)');
      this.mode = 'plaintext';
      this.stopTimer();
      this.flushPending();
      this.deliver(data);
      return;
    }
    o.onKind?.('mse');
    if (o.policy === 'disabled') return this.close('encrypted connection refused: encryption is disabled (in_enc_policy disabled)');
    if (o.slots) {
      if (!o.slots.tryAcquire()) return this.close(`encrypted connection refused: ${o.slots.limit} encryption handshakes already in progress`);
      this.slots = o.slots;
    }
    const allowed = cryptoBits(o.level);
    this.handshake = new MseHandshake(
      { role: 'responder', findSkey: o.findSkey, select: (provide) => selectMethod(provide, allowed, o.preferRc4) },
      o.deps,
    );
    this.mode = 'handshake';
    this.handshakeData(data);
  }

  private handshakeData(data: Uint8Array): void {
    const hs = this.handshake!;
    let out: Uint8Array[];
    try {
      out = hs.receive(data);
    } catch (e) {
      if (!(e instanceof MseError)) throw e;
      this.close(`encryption handshake failed: ${e.message}`);
      return;
    }
    for (let k = 0; k < out.length; k++) {
      const ia = k === out.length - 1 && this.iaFlushed.length > 0 ? this.iaFlushed : null;
      if (ia) this.iaFlushed = [];
      this.inner.write(out[k]!, ia ? () => { for (const f of ia) f(); } : undefined);
    }
    const r = hs.result;
    if (!r || this.mode === 'closed') return;
    this.skeyValue = r.skey;
    this.encryptor = r.encrypt;
    this.decryptor = r.decrypt;
    this.mode = r.method;
    this.stopTimer();
    this.endHandshake(r);
    this.flushPending();
    if (r.payload.length > 0 && (this.mode as Mode) !== 'closed') this.deliver(r.payload);
  }

  private endHandshake(result: MseResult | null, reason?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.slots?.release();
    this.slots = null;
    this.events.onHandshakeEnd?.(result, reason);
  }

  /** The initiator's IA: what the owner has written so far (its BitTorrent handshake), up to 65535 bytes. */
  private takeInitialPayload(): Uint8Array {
    let n = 0;
    let k = 0;
    while (k < this.pendingWrites.length && n + this.pendingWrites[k]!.length <= 0xffff) n += this.pendingWrites[k++]!.length;
    const ia = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < k; i++) {
      ia.set(this.pendingWrites[i]!, at);
      at += this.pendingWrites[i]!.length;
    }
    this.pendingWrites.splice(0, k);
    for (const f of this.pendingFlushed.splice(0, k)) if (f) this.iaFlushed.push(f);
    this.pendingBytes -= n;
    return ia;
  }

  private flushPending(): void {
    const w = this.pendingWrites;
    const f = this.pendingFlushed;
    this.pendingWrites = [];
    this.pendingFlushed = [];
    this.pendingBytes = 0;
    if (w.length === 0) return;
    this.inner.cork();
    for (let k = 0; k < w.length; k++) this.write(w[k]!, f[k]);
    this.inner.uncork();
  }

  private deliver(data: Uint8Array): void {
    if (this.sink) this.sink.onData(data);
    else this.early.push(data.slice()); // the caller's view is valid only during the call
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
