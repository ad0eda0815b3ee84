/**
 * One uTP connection (BEP 29): the state machine, the send ring (packets kept until acked, resent on
 * loss or timeout), the receive side's reordering ring and selective ACKs, LEDBAT and the RTT estimate.
 *
 * Pure: driven by onPacket(header, datagram) and tick() with the host's clock, it answers with datagrams
 * through the host and bytes through the sink. No timers of its own: the socket manager calls tick() on
 * one shared interval, and flushAck() once per burst of datagrams read (acks are deferred to the end of a
 * burst, as libtorrent does, so a run of data packets costs one ack).
 *
 * Per-packet state lives in typed arrays indexed by sequence number, so a packet costs one allocation:
 * its datagram.
 */
import { M, type Counters } from '../../stats/counters.js';
import type { Transport, TransportSink } from '../transport.js';
import { Ledbat } from './ledbat.js';
import {
  EXT_SACK, HEADER_SIZE, MAX_SACK_BYTES, SEQ_MASK, ST_DATA, ST_FIN, ST_RESET, ST_STATE, ST_SYN,
  type PacketHeader, restampHeader, sackHas, seqDiff, writeHeader,
} from './packet.js';
import { RttEstimator } from './rtt.js';

/** libtorrent's uTP tunables (settings_pack names in comments). */
export interface UtpSettings {
  targetDelayMs: number; // utp_target_delay
  gainFactor: number; // utp_gain_factor
  minTimeoutMs: number; // utp_min_timeout
  synResends: number; // utp_syn_resends
  finResends: number; // utp_fin_resends
  numResends: number; // utp_num_resends
  connectTimeoutMs: number; // utp_connect_timeout
  lossMultiplier: number; // utp_loss_multiplier
  lowDelayLossMultiplier: number; // utp_low_delay_loss_multiplier (spritzle's; 0: libtorrent's behaviour)
}

export const DEFAULT_UTP_SETTINGS: Readonly<UtpSettings> = {
  targetDelayMs: 100, gainFactor: 3000, minTimeoutMs: 500, synResends: 2, finResends: 2, numResends: 3,
  connectTimeoutMs: 3000, lossMultiplier: 50, lowDelayLossMultiplier: 100,
};

export const enum UtpState {
  SynSent = 1,
  Connected = 2,
  /** Our FIN is out (or about to be); waiting for its ack. The sink has already heard closed. */
  FinSent = 3,
  Closed = 4,
}

/** Packets in flight (and out of order on receipt) at most: the ring size. */
export const RING = 2048;
const RING_MASK = RING - 1;
/** The receive window we advertise, bytes; out-of-order datagrams are kept within it. */
export const RECV_WINDOW = 2 * 1024 * 1024;
/** Datagram bytes the reordering ring may hold (datagrams are kept whole: their size is their memory). */
const MAX_REORDER_BYTES = RECV_WINDOW + 64 * 1024;
/** Datagram sizes (uTP header and payload): a size every path carries, and Ethernet's ceiling over IPv4. */
export const MTU_FLOOR = 1200;
export const MTU_CEILING = 1472;
/** An ack is a duplicate-ack loss signal at this count, and a packet is lost with this many acked after it. */
const DUP_ACK_LIMIT = 3;
const KEEPALIVE_MS = 29_000;
/**
 * Losses in one window that still count as random, at least; in a big window 1 in 64 packets (three times
 * a 0.5 % random loss rate; a buffer overflowing under slow start drops runs far longer).
 */
const RANDOM_LOSSES = 2;
/** Packets one ack may have resent past cwnd and the peer's window (libtorrent's parse_sack resends at most 5). */
const FAST_RESENDS = 5;

/** What a connection needs from its socket manager. */
export interface UtpHost {
  readonly counters: Counters;
  /** Milliseconds, monotonic. */
  now(): number;
  /** Sends a datagram to the connection's peer. Data packets' buffers are kept (and restamped) for resends. */
  send(conn: UtpConnection, buf: Uint8Array, len: number): void;
  /** A scratch buffer of MAX_CONTROL_SIZE bytes for a control packet sent right away. */
  controlBuffer(): Uint8Array;
  /** The connection has something to acknowledge: call flushAck() when the current burst of datagrams is read. */
  deferAck(conn: UtpConnection): void;
  /** The connection is over and can be forgotten. */
  remove(conn: UtpConnection): void;
  stateChanged(conn: UtpConnection, from: UtpState, to: UtpState): void;
}

/** The owner's side (the peer connection): transport.ts's TransportSink, onDrain optional for tests. */
export type UtpSink = Pick<TransportSink, 'onData' | 'onClosed'> & Partial<Pick<TransportSink, 'onDrain'>>;

/**
 * Whether a peer connection runs over uTP (for the peer list and the per-transport peer counts), looking
 * through wrapping transports (MSE/PE's `underlying`).
 */
export function isUtp(t: Transport): boolean {
  for (let x: Transport | undefined = t; x !== undefined; x = (x as { underlying?: Transport }).underlying) {
    if (x instanceof UtpConnection) return true;
  }
  return false;
}

export class UtpConnection implements Transport {
  state: UtpState;
  readonly initiator: boolean;
  /** Whether any data packet arrived yet (an accepted connection without one counts as half-open). */
  gotData = false;

  // Send side: [ackedSeq + 1, seqNr) are in flight or waiting to be resent.
  private seqNr: number;
  private ackedSeq: number;
  private readonly sendBuf: (Uint8Array | null)[] = new Array<Uint8Array | null>(RING).fill(null);
  private readonly sentAt = new Float64Array(RING);
  private readonly txCount = new Uint8Array(RING);
  private readonly needResend = new Uint8Array(RING);
  private resendCount = 0;
  /** Of those, found by fast retransmit (needResend 2). */
  private fastResendCount = 0;
  /** Fast resends the ack being processed may still send past the windows. */
  private fastBudget = 0;
  private bytesInFlight = 0;
  private dupAcks = 0;
  /** Losses after this sequence number cut the window again (one cut per window). */
  private lossSeq: number;
  /** The current loss window was cut lightly (random loss); its losses so far, and the packets it spans. */
  private lossLight = false;
  private lossCount = 0;
  private lossWindow = 0;
  private numTimeouts = 0;
  private rtoAt = 0;
  private windowFull = false;
  private peerWnd = RECV_WINDOW;
  private zeroWindowAt = 0;
  /** An undersized packet in flight (Nagle: at most one), or -1. */
  private smallSeq = -1;
  private finSeq = -1;
  private closing = false;

  // MTU discovery: a probe of a size between floor and ceiling; acked raises the floor, lost lowers the ceiling.
  private mtuFloor = MTU_FLOOR;
  private mtuCeiling: number;
  private probeSeq = -1;
  private probeSize = 0;

  // Write queue: chunks the owner wrote, not yet cut into packets.
  private readonly queue: Uint8Array[] = [];
  /** write()'s `flushed` callbacks, beside their chunks; called once a chunk is all in packets. */
  private readonly queueCb: ((() => void) | undefined)[] = [];
  private readonly flushedCbs: (() => void)[] = [];
  private flushDepth = 0;
  /** A write left bytes queued: the sink hears onDrain once they are all in packets. */
  private drainWanted = false;
  private queueHead = 0;
  private queueOffset = 0;
  private queuedBytes = 0;
  private corked = 0;

  // Receive side.
  private ackNr = 0;
  private readonly recvBuf: (Uint8Array | null)[] = new Array<Uint8Array | null>(RING).fill(null);
  private readonly recvAt = new Uint16Array(RING);
  private reorderCount = 0;
  private reorderBytes = 0;
  /** The highest sequence number held out of order (valid while reorderCount > 0): where the SACK ends. */
  private reorderLast = 0;
  private eofSeq = -1;
  private ackPending = false;
  private replyMicro = 0;

  private readonly cc: Ledbat;
  private readonly rtt = new RttEstimator();
  private connectDeadline = 0;
  private readonly createdAt: number;
  /** Queued for the manager's end-of-burst ack flush. */
  ackQueued = false;
  private lastSentAt = 0;
  private sink: UtpSink | null = null;
  private onConnect: ((err: string | null) => void) | null = null;

  bytesRead = 0;
  bytesWritten = 0;
  /** Next connection in the manager's table with the same receive id (ids are 16 bits; peers may collide). */
  nextSameId: UtpConnection | null = null;

  private constructor(
    private readonly host: UtpHost,
    private readonly settings: UtpSettings,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly recvId: number,
    readonly sendId: number,
    initiator: boolean,
    seq: number,
    mtuCeiling: number,
  ) {
    this.initiator = initiator;
    this.seqNr = seq & SEQ_MASK;
    this.ackedSeq = (seq - 1) & SEQ_MASK;
    this.lossSeq = this.ackedSeq;
    this.mtuCeiling = Math.max(mtuCeiling, MTU_FLOOR);
    this.cc = new Ledbat(settings, this.mss, RING * MTU_FLOOR);
    this.state = initiator ? UtpState.SynSent : UtpState.Connected;
    this.createdAt = host.now();
  }

  /** Dials: sends a SYN (connection id = our receive id; we send with id + 1). */
  static connect(
    host: UtpHost, settings: UtpSettings, address: string, port: number, recvId: number, seq: number,
    onConnect: (err: string | null) => void, mtuCeiling = MTU_CEILING,
  ): UtpConnection {
    const c = new UtpConnection(host, settings, address, port, recvId, (recvId + 1) & SEQ_MASK, true, seq, mtuCeiling);
    c.onConnect = onConnect;
    c.connectDeadline = host.now() + settings.connectTimeoutMs;
    host.stateChanged(c, 0 as UtpState, UtpState.SynSent);
    c.sendPacket(ST_SYN, 0);
    return c;
  }

  /** Accepts a SYN: our receive id is its id + 1, we send with its id; the STATE we answer acks it. */
  static accept(
    host: UtpHost, settings: UtpSettings, address: string, port: number, syn: PacketHeader, seq: number,
    mtuCeiling = MTU_CEILING,
  ): UtpConnection {
    const c = new UtpConnection(host, settings, address, port, (syn.connId + 1) & SEQ_MASK, syn.connId, false, seq, mtuCeiling);
    c.ackNr = syn.seq;
    c.peerWnd = syn.wnd;
    c.synSeq = syn.seq;
    host.stateChanged(c, 0 as UtpState, UtpState.Connected);
    c.sendState();
    return c;
  }

  private synSeq = -1;

  private get mss(): number {
    return this.mtuFloor - HEADER_SIZE;
  }

  // ---- the owner's side (transport.ts's Transport) ----

  get writeQueued(): number {
    return this.queuedBytes;
  }

  get connected(): boolean {
    return this.state === UtpState.Connected;
  }

  attach(sink: UtpSink): void {
    this.sink = sink;
  }

  write(data: Uint8Array, flushed?: () => void): void {
    if (this.closing || this.state === UtpState.Closed) return;
    if (data.length === 0) {
      flushed?.();
      return;
    }
    this.queue.push(data);
    this.queueCb.push(flushed);
    this.queuedBytes += data.length;
    if (this.corked === 0) this.flush();
    if (this.queuedBytes > 0) this.drainWanted = true;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  /** Ends the connection: unsent writes are dropped, a FIN follows what is in flight; the sink hears `reason`. */
  close(reason: string): void {
    if (this.state === UtpState.Closed || this.closing) return;
    if (this.state === UtpState.SynSent) {
      this.fail(reason);
      return;
    }
    this.closing = true;
    this.dropQueue();
    const sink = this.sink;
    this.sink = null;
    this.flush();
    sink?.onClosed(reason);
  }

  // ---- the socket manager's side ----

  /** A datagram for this connection, parsed into `h`. */
  onPacket(h: PacketHeader, buf: Uint8Array): void {
    if (this.state === UtpState.Closed) return;
    const c = this.host.counters;
    const now = this.host.now();
    this.bytesRead += buf.length;
    if (h.type === ST_RESET) {
      this.fail(this.state === UtpState.SynSent ? 'connection refused' : 'connection reset');
      return;
    }
    if (h.type === ST_SYN) {
      // Our STATE was lost and the peer dials again: answer it again.
      if (!this.initiator && h.seq === this.synSeq) this.sendState();
      else c.inc(M.utp_utp_invalid_pkts_in);
      return;
    }
    if (this.state === UtpState.SynSent) {
      if (h.type !== ST_STATE) {
        c.inc(M.utp_utp_invalid_pkts_in);
        return;
      }
    }
    // An ack of something we never sent: not this connection's peer, or garbage.
    if (seqDiff(h.ack, this.seqNr) >= 0 || seqDiff(h.ack, this.ackedSeq) < -RING) {
      c.inc(M.utp_utp_invalid_pkts_in);
      return;
    }
    if (this.state === UtpState.SynSent) this.ackNr = (h.seq - 1) & SEQ_MASK;
    if (h.timestamp !== 0) {
      this.replyMicro = (((now * 1000) >>> 0) - h.timestamp) >>> 0;
      this.cc.onTheirDelay(this.replyMicro, now);
    }
    this.peerWnd = h.wnd;
    this.processAck(h, buf, now);
    if (this.state === UtpState.SynSent) {
      this.setState(UtpState.Connected);
      this.numTimeouts = 0;
      const cb = this.onConnect;
      this.onConnect = null;
      cb?.(null);
      if (this.isClosed()) return;
    }
    if (h.type === ST_DATA) this.receiveData(h, buf);
    else if (h.type === ST_FIN) this.receiveFin(h);
    if (!this.isClosed()) this.flush();
  }

  /** (A method, so that TypeScript does not narrow the state across calls that may close us.) */
  isClosed(): boolean {
    return this.state === UtpState.Closed;
  }

  /** Sends the deferred ack, if one is still owed (a data packet since may have carried it). */
  flushAck(): void {
    if (this.ackPending && this.state !== UtpState.Closed) this.sendState();
  }

  /** Timers: the connect timeout, retransmission, zero-window probe, keep-alive. */
  tick(now: number): void {
    if (this.state === UtpState.Closed) return;
    if (this.state === UtpState.SynSent && now >= this.connectDeadline) {
      this.host.counters.inc(M.utp_utp_timeout);
      this.fail('connect timed out');
      return;
    }
    if (!this.initiator && !this.gotData && now - this.createdAt >= this.settings.connectTimeoutMs) {
      // Accepted, and the peer never sent a byte: a half-open slot is not held forever.
      this.fail('timed out');
      return;
    }
    if (this.rtoAt !== 0 && now >= this.rtoAt) {
      this.onTimeout(now);
      if (this.isClosed()) return;
    }
    if (this.zeroWindowAt !== 0 && now >= this.zeroWindowAt) {
      // The peer's window stayed shut: let one packet through as a probe.
      this.zeroWindowAt = 0;
      if (this.peerWnd === 0) this.peerWnd = this.mss;
      this.flush();
    }
    if (this.state === UtpState.Connected && now - this.lastSentAt >= KEEPALIVE_MS) this.sendState();
  }

  // ---- receive ----

  private processAck(h: PacketHeader, buf: Uint8Array, now: number): void {
    const a = h.ack;
    this.fastBudget = FAST_RESENDS;
    const d = seqDiff(a, this.ackedSeq);
    let acked = 0;
    if (d > 0) {
      for (let s = (this.ackedSeq + 1) & SEQ_MASK; ; s = (s + 1) & SEQ_MASK) {
        acked += this.ackSlot(s, now);
        if (s === a) break;
      }
      this.ackedSeq = a;
      this.numTimeouts = 0;
      this.dupAcks = 0;
    } else if (d === 0 && h.type === ST_STATE && this.inFlight() > 0) {
      if (++this.dupAcks === DUP_ACK_LIMIT) this.lose((a + 1) & SEQ_MASK, true);
    }
    if (d >= 0 && h.sackAt >= 0) acked += this.processSack(a, buf, h.sackAt, h.sackLen, now);
    if (acked > 0 || d > 0) {
      if (acked > 0) {
        this.numTimeouts = 0; // progress, if only by selective acks
        const above = this.cc.onAck(acked, h.timestampDiff, now, this.windowFull);
        this.host.counters.inc(above ? M.utp_utp_samples_above_target : M.utp_utp_samples_below_target);
        this.windowFull = false;
      }
      this.rtoAt = this.inFlight() > 0 ? now + this.rto() : 0;
    }
    if (this.finSeq >= 0 && this.sendBuf[this.finSeq & RING_MASK] === null && seqDiff(this.ackedSeq, this.finSeq) >= 0) {
      // Our FIN is acked: nothing of ours is left to deliver.
      this.finish();
    }
  }

  /**
   * Acks what the SACK bitmask marks. A packet is lost once DUP_ACK_LIMIT packets sent after it are
   * acked: for a first transmission, packets after it in sequence; for a resend, packets whose last
   * transmission is later than its own (so a lost resend is found without waiting for a timeout).
   */
  private processSack(a: number, buf: Uint8Array, at: number, len: number, now: number): number {
    let acked = 0;
    let after = 0;
    // Early retransmit (RFC 5827): with few packets in flight, three can never follow a loss.
    const limit = Math.max(1, Math.min(DUP_ACK_LIMIT, this.inFlight() - 1));
    // The three latest send times among the packets acked so far in this walk (highest sequence first).
    let t1 = -1;
    let t2 = -1;
    let t3 = -1;
    for (let i = len * 8 - 1; i >= -1; i--) {
      const s = (a + 2 + i) & SEQ_MASK;
      if (seqDiff(s, this.seqNr) >= 0) continue;
      const slot = s & RING_MASK;
      if (i >= 0 && sackHas(buf, at, i)) {
        const t = this.sentAt[slot]!;
        if (this.sendBuf[slot] !== null) acked += this.ackSlot(s, now);
        after++;
        if (t > t1) {
          t3 = t2;
          t2 = t1;
          t1 = t;
        } else if (t > t2) {
          t3 = t2;
          t2 = t;
        } else if (t > t3) {
          t3 = t;
        }
      } else if (this.sendBuf[slot] !== null) {
        const later = limit === 1 ? t1 : limit === 2 ? t2 : t3;
        if (this.txCount[slot] === 1 ? after >= limit : later > this.sentAt[slot]!) this.lose(s, true);
      }
    }
    return acked;
  }

  private receiveData(h: PacketHeader, buf: Uint8Array): void {
    const c = this.host.counters;
    const s = h.seq;
    const d = seqDiff(s, this.ackNr);
    this.gotData = true;
    this.ackPending = true;
    this.host.deferAck(this);
    if (d <= 0 || (this.eofSeq >= 0 && seqDiff(s, this.eofSeq) >= 0)) {
      c.inc(M.utp_utp_redundant_pkts_in);
      return;
    }
    if (d >= RING) {
      c.inc(M.utp_utp_invalid_pkts_in);
      return;
    }
    c.inc(M.utp_utp_payload_pkts_in);
    if (d > 1) {
      const i = s & RING_MASK;
      if (this.recvBuf[i] !== null) {
        c.inc(M.utp_utp_redundant_pkts_in);
        return;
      }
      if (this.reorderBytes + buf.length > MAX_REORDER_BYTES) return; // over our window: the sender resends
      this.recvBuf[i] = buf;
      this.recvAt[i] = h.payloadAt;
      if (this.reorderCount === 0 || seqDiff(s, this.reorderLast) > 0) this.reorderLast = s;
      this.reorderCount++;
      this.reorderBytes += buf.length;
      // Out of order: ack at once (not at the end of the burst), so the sender learns of the gap soonest.
      this.sendState();
      return;
    }
    const filledGap = this.reorderCount > 0;
    this.ackNr = s;
    this.deliver(buf, h.payloadAt);
    // Whatever waited for this packet follows it now.
    while (this.reorderCount > 0 && this.sink !== null) {
      const n = (this.ackNr + 1) & SEQ_MASK;
      const i = n & RING_MASK;
      const next = this.recvBuf[i];
      if (next === null || next === undefined) break;
      this.recvBuf[i] = null;
      this.reorderCount--;
      this.reorderBytes -= next.length;
      this.ackNr = n;
      this.deliver(next, this.recvAt[i]!);
    }
    if (filledGap && !this.isClosed()) this.sendState(); // a gap filled: the sender is waiting to hear it
    this.checkEof();
  }

  private deliver(buf: Uint8Array, at: number): void {
    if (at < buf.length) this.sink?.onData(buf.subarray(at));
  }

  private receiveFin(h: PacketHeader): void {
    if (this.eofSeq < 0 && seqDiff(h.seq, this.ackNr) > 0) this.eofSeq = h.seq;
    this.ackPending = true;
    this.host.deferAck(this);
    this.checkEof();
  }

  /** Everything up to the peer's FIN is here: ack the FIN, tell the owner, and send our own FIN. */
  private checkEof(): void {
    if (this.eofSeq < 0 || seqDiff(this.eofSeq, this.ackNr) !== 1) return;
    this.ackNr = this.eofSeq;
    this.clearReorder();
    this.sendState();
    if (!this.closing) {
      this.closing = true;
      this.dropQueue();
      const sink = this.sink;
      this.sink = null;
      sink?.onClosed('connection closed');
    }
  }

  // ---- send ----

  private inFlight(): number {
    return (this.seqNr - this.ackedSeq - 1) & SEQ_MASK;
  }

  private rto(): number {
    // SYNs are spread evenly over utp_connect_timeout, so that every resend utp_syn_resends allows is sent.
    if (this.state === UtpState.SynSent) return this.settings.connectTimeoutMs / (this.settings.synResends + 1);
    return this.rtt.timeout(this.settings.minTimeoutMs, this.numTimeouts);
  }

  /** Frees an acked packet; its payload bytes (for the congestion window). */
  private ackSlot(s: number, now: number): number {
    const i = s & RING_MASK;
    const pkt = this.sendBuf[i];
    if (pkt === null || pkt === undefined) return 0;
    const len = pkt.length - HEADER_SIZE;
    if (this.txCount[i] === 1) this.rtt.sample(now - this.sentAt[i]!);
    if (this.needResend[i] !== 0) {
      if (this.needResend[i] === 2) this.fastResendCount--;
      this.needResend[i] = 0;
      this.resendCount--;
    } else {
      this.bytesInFlight -= len;
    }
    this.sendBuf[i] = null;
    if (s === this.smallSeq) this.smallSeq = -1;
    if (s === this.probeSeq) {
      this.probeSeq = -1;
      this.mtuFloor = this.probeSize;
      this.cc.setMss(this.mss);
    }
    return len;
  }

  /** Marks a packet for resending: by fast retransmit (SACK or duplicate acks) or a timeout. */
  private lose(s: number, fast: boolean): void {
    const i = s & RING_MASK;
    const pkt = this.sendBuf[i];
    if (pkt === null || pkt === undefined || this.needResend[i] !== 0) return;
    const c = this.host.counters;
    // 2: found by fast retransmit, resent whatever the windows say (libtorrent's rule: the gap it fills
    // may be what holds the peer's window shut), at most FAST_RESENDS per ack as libtorrent (so one ack
    // cannot make us send a ring's worth); 1: timed out, or past that budget: resent as the windows allow.
    const bypass = fast && this.fastBudget > 0;
    if (bypass) this.fastBudget--;
    this.needResend[i] = bypass ? 2 : 1;
    this.resendCount++;
    if (bypass) this.fastResendCount++;
    this.bytesInFlight -= pkt.length - HEADER_SIZE;
    if (s === this.probeSeq) {
      // A lost probe says the path's MTU is smaller, not that it is congested.
      this.probeSeq = -1;
      this.mtuCeiling = this.probeSize - 1;
      return;
    }
    c.inc(M.utp_utp_packet_loss);
    if (fast) c.inc(M.utp_utp_fast_retransmit);
    if (!fast) return;
    if (seqDiff(s, this.lossSeq) > 0) {
      // The first loss of a window: one cut, light if the loss looks random.
      this.lossLight = this.cc.lossLooksRandom;
      this.lossCount = 1;
      this.lossWindow = this.inFlight();
      if (this.lossLight) this.cc.onRandomLoss();
      else this.cc.onLoss();
      this.lossSeq = (this.seqNr - 1) & SEQ_MASK;
    } else if (this.lossLight && ++this.lossCount > Math.max(RANDOM_LOSSES, this.lossWindow >> 6)) {
      // More losses in one window than chance explains (over 1/64): congestion after all, cut as libtorrent does.
      this.lossLight = false;
      this.cc.onLoss();
    }
  }

  private onTimeout(now: number): void {
    const c = this.host.counters;
    c.inc(M.utp_utp_timeout);
    this.numTimeouts++;
    const limit = this.state === UtpState.SynSent ? this.settings.synResends
      : this.state === UtpState.FinSent ? this.settings.finResends : this.settings.numResends;
    if (this.numTimeouts > limit) {
      this.fail(this.state === UtpState.SynSent ? 'connect timed out' : 'timed out');
      return;
    }
    if (this.inFlight() === 0) {
      this.rtoAt = 0;
      return;
    }
    if (this.state !== UtpState.SynSent) this.cc.onTimeout();
    for (let s = (this.ackedSeq + 1) & SEQ_MASK; s !== this.seqNr; s = (s + 1) & SEQ_MASK) this.lose(s, false);
    this.lossSeq = (this.seqNr - 1) & SEQ_MASK;
    this.rtoAt = now + this.rto();
    this.flush();
  }

  /** May `size` more payload bytes go out now? One packet always may when nothing is in flight. */
  private windowAllows(size: number): boolean {
    if (this.bytesInFlight === 0) {
      if (this.peerWnd > 0) return true;
      if (this.zeroWindowAt === 0) this.zeroWindowAt = this.host.now() + this.rto();
      return false;
    }
    return this.bytesInFlight + size <= Math.min(this.cc.cwnd, this.peerWnd);
  }

  /**
   * Sends what the windows allow, then tells the owner which writes are now all in packets (after the
   * sending, so that an owner writing more from a callback does not re-enter the loop).
   */
  private flush(): void {
    this.flushDepth++;
    try {
      this.flushInner();
    } finally {
      this.flushDepth--;
    }
    if (this.flushDepth > 0) return;
    const cbs = this.flushedCbs;
    while (cbs.length > 0) cbs.shift()!();
    if (this.drainWanted && this.queuedBytes === 0 && this.sink?.onDrain) {
      this.drainWanted = false;
      this.sink.onDrain();
    }
  }

  /** Resends first, then new data (Nagle for the tail), then a pending FIN. */
  private flushInner(): void {
    if (this.state === UtpState.Closed) return;
    if (this.resendCount > 0) this.resend();
    if (this.state === UtpState.SynSent || this.corked > 0) return;
    while (this.queuedBytes > 0) {
      if (this.inFlight() >= RING - 1) {
        this.windowFull = true;
        return;
      }
      let size = this.mss;
      let probe = false;
      if (this.probeSeq < 0 && this.mtuCeiling - this.mtuFloor >= 16) {
        const p = (this.mtuFloor + this.mtuCeiling) >> 1;
        if (this.queuedBytes >= p - HEADER_SIZE) {
          size = p - HEADER_SIZE;
          probe = true;
        }
      }
      if (size > this.queuedBytes) {
        size = this.queuedBytes;
        // Nagle: at most one undersized packet in flight; the rest waits for more bytes or that ack.
        if (this.smallSeq >= 0) return;
      }
      if (!this.windowAllows(size)) {
        this.windowFull = true;
        return;
      }
      const seq = this.seqNr;
      this.sendPacket(ST_DATA, size);
      if (probe) {
        this.probeSeq = seq;
        this.probeSize = size + HEADER_SIZE;
      } else if (size < this.mss) {
        this.smallSeq = seq;
      }
    }
    if (this.closing && this.finSeq < 0 && this.inFlight() < RING - 1) {
      this.finSeq = this.seqNr;
      this.sendPacket(ST_FIN, 0);
      this.setState(UtpState.FinSent);
    }
  }

  private resend(): void {
    const now = this.host.now();
    for (let s = (this.ackedSeq + 1) & SEQ_MASK; s !== this.seqNr && this.resendCount > 0; s = (s + 1) & SEQ_MASK) {
      const i = s & RING_MASK;
      if (this.needResend[i] === 0) continue;
      const pkt = this.sendBuf[i]!;
      const len = pkt.length - HEADER_SIZE;
      if (this.needResend[i] === 1 && !this.windowAllows(len)) {
        this.windowFull = true;
        if (this.fastResendCount === 0) return;
        continue;
      }
      if (this.needResend[i] === 2) this.fastResendCount--;
      this.needResend[i] = 0;
      this.resendCount--;
      this.bytesInFlight += len;
      this.txCount[i] = Math.min(this.txCount[i]! + 1, 255);
      this.sentAt[i] = now;
      restampHeader(pkt, (now * 1000) >>> 0, this.replyMicro, this.recvWindow(), this.ackNr);
      this.host.counters.inc(M.utp_utp_packet_resend);
      this.transmit(pkt, now);
    }
  }

  /** Cuts a new packet (SYN, DATA of `size` queued bytes, or FIN) into the send ring and sends it. */
  private sendPacket(type: number, size: number): void {
    const now = this.host.now();
    const seq = this.seqNr;
    const pkt = Buffer.allocUnsafe(HEADER_SIZE + size);
    const connId = type === ST_SYN ? this.recvId : this.sendId;
    writeHeader(pkt, type, connId, (now * 1000) >>> 0, this.replyMicro, this.recvWindow(), seq, type === ST_SYN ? 0 : this.ackNr);
    if (size > 0) this.takeQueued(pkt, HEADER_SIZE, size);
    const i = seq & RING_MASK;
    this.sendBuf[i] = pkt;
    this.sentAt[i] = now;
    this.txCount[i] = 1;
    this.needResend[i] = 0;
    this.seqNr = (seq + 1) & SEQ_MASK;
    this.bytesInFlight += size;
    if (this.rtoAt === 0) this.rtoAt = now + this.rto();
    if (type === ST_DATA) this.host.counters.inc(M.utp_utp_payload_pkts_out);
    this.transmit(pkt, now);
  }

  private transmit(pkt: Uint8Array, now: number): void {
    this.lastSentAt = now;
    // A data packet carries the ack; only a SACK still needs a STATE of its own.
    if (pkt[0]! >> 4 !== ST_SYN && this.reorderCount === 0) this.ackPending = false;
    this.bytesWritten += pkt.length;
    this.host.counters.inc(M.utp_utp_packets_out);
    this.host.send(this, pkt, pkt.length);
  }

  /** An ST_STATE: the ack, with a SACK of what arrived out of order. Not kept (never resent). */
  private sendState(): void {
    const now = this.host.now();
    const buf = this.host.controlBuffer();
    let sackBytes = 0;
    if (this.reorderCount > 0) {
      // Bits for ackNr + 2 ... up to the last packet held, in whole 4-byte words.
      const last = seqDiff(this.reorderLast, this.ackNr) - 2;
      if (last >= 0) sackBytes = Math.min(MAX_SACK_BYTES, ((last >> 5) + 1) * 4);
    }
    writeHeader(buf, ST_STATE, this.sendId, (now * 1000) >>> 0, this.replyMicro, this.recvWindow(), this.seqNr, this.ackNr,
      sackBytes > 0 ? EXT_SACK : 0);
    let len = HEADER_SIZE;
    if (sackBytes > 0) {
      buf[len++] = 0;
      buf[len++] = sackBytes;
      for (let b = 0; b < sackBytes; b++) {
        let byte = 0;
        for (let bit = 0; bit < 8; bit++) if (this.recvBuf[(this.ackNr + 2 + b * 8 + bit) & RING_MASK] !== null) byte |= 1 << bit;
        buf[len++] = byte;
      }
    }
    this.ackPending = false;
    this.lastSentAt = now;
    this.bytesWritten += len;
    this.host.counters.inc(M.utp_utp_packets_out);
    this.host.send(this, buf, len);
  }

  private recvWindow(): number {
    return Math.max(0, RECV_WINDOW - this.reorderBytes);
  }

  private takeQueued(dst: Uint8Array, at: number, size: number): void {
    let need = size;
    while (need > 0) {
      const chunk = this.queue[this.queueHead]!;
      const n = Math.min(need, chunk.length - this.queueOffset);
      dst.set(n === chunk.length ? chunk : chunk.subarray(this.queueOffset, this.queueOffset + n), at);
      at += n;
      need -= n;
      this.queueOffset += n;
      if (this.queueOffset === chunk.length) {
        const cb = this.queueCb[this.queueHead];
        if (cb) this.flushedCbs.push(cb);
        this.queueHead++;
        this.queueOffset = 0;
      }
    }
    this.queuedBytes -= size;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueCb.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueCb.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queueCb.length = 0;
    this.drainWanted = false;
    this.queueHead = 0;
    this.queueOffset = 0;
    this.queuedBytes = 0;
  }

  private clearReorder(): void {
    if (this.reorderCount === 0) return;
    this.recvBuf.fill(null);
    this.reorderCount = 0;
    this.reorderBytes = 0;
  }

  private setState(to: UtpState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.host.stateChanged(this, from, to);
  }

  /** Our FIN is acked (or the connection is done otherwise): forget it. */
  private finish(): void {
    if (this.state === UtpState.Closed) return;
    this.setState(UtpState.Closed);
    this.sendBuf.fill(null);
    this.clearReorder();
    this.host.remove(this);
  }

  /** Fatal: reset, timed out, refused, or closed before connecting. */
  private fail(reason: string): void {
    if (this.state === UtpState.Closed) return;
    const sink = this.sink;
    const cb = this.onConnect;
    this.sink = null;
    this.onConnect = null;
    this.closing = true;
    this.dropQueue();
    this.finish();
    cb?.(reason);
    sink?.onClosed(reason);
  }

  /** For the tests and the peer list: a few numbers about the connection. */
  get stats(): { cwnd: number; rttMs: number; mtu: number; inFlight: number; peerWnd: number; reorderBytes: number } {
    return {
      cwnd: Math.round(this.cc.cwnd), rttMs: this.rtt.srtt, mtu: this.mtuFloor, inFlight: this.inFlight(), peerWnd: this.peerWnd,
      reorderBytes: this.reorderBytes,
    };
  }
}
