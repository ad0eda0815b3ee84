/**
 * The uTP socket manager: many connections over one UDP socket (libtorrent's utp_socket_manager). It
 * routes each datagram to its connection by connection id and address, accepts SYNs within limits,
 * answers strays with ST_RESET, runs the one shared timer that drives every connection's timeouts, and
 * flushes deferred acks once per burst of datagrams.
 *
 * It never owns the socket: `receive()` is fed datagrams (returning false for ones that are not uTP, so
 * the DHT can have them) and it sends through a UdpSender. That keeps it testable with a fake clock and a
 * fake wire.
 */
import { M, type Counters } from '../../stats/counters.js';
import { MTU_CEILING, UtpConnection, UtpState, type UtpHost, type UtpSettings } from './connection.js';
import { HEADER_SIZE, MAX_CONTROL_SIZE, PacketHeader, ST_RESET, ST_SYN, looksLikeUtp, parsePacket, writeHeader } from './packet.js';

export interface UdpSender {
  send(buf: Uint8Array, len: number, port: number, address: string): void;
  /** Datagrams handed to send() and not yet on the wire (dgram's getSendQueueCount). */
  queuedSends(): number;
}

export interface UtpManagerOptions {
  settings: UtpSettings;
  counters: Counters;
  udp: UdpSender;
  /** enable_incoming_utp, read at each SYN. */
  acceptIncoming: () => boolean;
  /** A connection was accepted; the owner attaches a sink (or closes it). */
  onAccept: (conn: UtpConnection) => void;
  maxConnections?: number;
  /** Accepted connections that have not sent data yet. */
  maxHalfOpen?: number;
  now?: () => number;
  random16?: () => number;
  /** Timer granularity; tests drive tick() by hand with 0. */
  tickMs?: number;
  mtuCeiling?: number;
}

const CONTROL_BUFFERS = 256;

export class UtpSocketManager implements UtpHost {
  readonly counters: Counters;
  readonly now: () => number;
  private readonly byId = new Map<number, UtpConnection>();
  private readonly all = new Set<UtpConnection>();
  private readonly header = new PacketHeader();
  private readonly acks: UtpConnection[] = [];
  private ackScheduled = false;
  private readonly control: Buffer[] = [];
  private controlNext = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly random16: () => number;
  private readonly maxConnections: number;
  private readonly maxHalfOpen: number;
  private readonly tickMs: number;
  private readonly mtuCeiling: number;
  private gauges = { syn: 0, connected: 0, fin: 0 };

  constructor(private readonly opts: UtpManagerOptions) {
    this.counters = opts.counters;
    this.now = opts.now ?? (() => performance.now());
    this.random16 = opts.random16 ?? (() => Math.floor(Math.random() * 0x10000));
    this.maxConnections = opts.maxConnections ?? 1000;
    this.maxHalfOpen = opts.maxHalfOpen ?? 64;
    this.tickMs = opts.tickMs ?? 50;
    this.mtuCeiling = opts.mtuCeiling ?? MTU_CEILING;
    for (let i = 0; i < CONTROL_BUFFERS; i++) this.control.push(Buffer.alloc(MAX_CONTROL_SIZE));
  }

  get size(): number {
    return this.all.size;
  }

  /**
   * A datagram from the shared socket. False if it is not uTP (the caller hands it to the DHT); true if
   * it was, whether it was used or dropped.
   */
  receive(buf: Uint8Array, address: string, port: number): boolean {
    if (!looksLikeUtp(buf)) return false;
    const c = this.counters;
    c.inc(M.utp_utp_packets_in);
    const h = this.header;
    if (this.closed || !parsePacket(buf, h)) {
      c.inc(M.utp_utp_invalid_pkts_in);
      return true;
    }
    if (h.type === ST_SYN) {
      const existing = this.find((h.connId + 1) & 0xffff, address, port);
      if (existing) existing.onPacket(h, buf);
      else this.incoming(h, address, port);
      return true;
    }
    const conn = this.find(h.connId, address, port) ?? (h.type === ST_RESET ? this.findResetTarget(h.connId, address, port) : null);
    if (conn) conn.onPacket(h, buf);
    else if (h.type !== ST_RESET) this.sendReset(address, port, h.connId, h.seq);
    return true;
  }

  /** Dials `address:port`; `onConnect(null)` once the peer answered, or with the reason it did not. */
  connect(address: string, port: number, onConnect: (err: string | null) => void): UtpConnection {
    if (this.closed) throw new Error('uTP socket manager closed');
    let id = this.random16();
    // Both our receive id and our send id must be free for this peer.
    for (let i = 0; i < 16 && (this.find(id, address, port) || this.find((id + 1) & 0xffff, address, port)); i++) id = this.random16();
    const conn = UtpConnection.connect(this, this.opts.settings, address, port, id, this.random16(), onConnect, this.mtuCeiling);
    if (conn.state !== UtpState.Closed) this.add(conn);
    this.startTimer();
    return conn;
  }

  /** Runs every connection's timers (the shared interval calls this; tests call it with a fake clock). */
  tick(): void {
    const now = this.now();
    for (const conn of this.all) conn.tick(now);
  }

  /** Sends every ack deferred during the burst of datagrams just read. */
  flushAcks(): void {
    this.ackScheduled = false;
    const acks = this.acks;
    for (let i = 0; i < acks.length; i++) {
      const conn = acks[i]!;
      conn.ackQueued = false;
      conn.flushAck();
    }
    acks.length = 0;
  }

  /** Ends every connection ('session closed') and stops the timer. */
  close(): void {
    this.closed = true;
    for (const conn of [...this.all]) conn.close('session closed');
    for (const conn of [...this.all]) this.remove(conn);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // ---- UtpHost ----

  send(conn: UtpConnection, buf: Uint8Array, len: number): void {
    this.opts.udp.send(buf, len, conn.remotePort, conn.remoteAddress);
  }

  /**
   * Control packets are sent from a ring of small buffers. A datagram the kernel takes at once is copied
   * before send() returns; one queued by the socket still points at its buffer, so when many are queued
   * a fresh one is handed out instead of one that may still be waiting.
   */
  controlBuffer(): Uint8Array {
    if (this.opts.udp.queuedSends() > CONTROL_BUFFERS / 2) return Buffer.alloc(MAX_CONTROL_SIZE);
    const b = this.control[this.controlNext]!;
    this.controlNext = (this.controlNext + 1) % CONTROL_BUFFERS;
    return b;
  }

  deferAck(conn: UtpConnection): void {
    if (conn.ackQueued) return;
    conn.ackQueued = true;
    this.acks.push(conn);
    if (!this.ackScheduled && this.tickMs > 0) {
      this.ackScheduled = true;
      setImmediate(this.flushAcksBound);
    }
  }

  private readonly flushAcksBound = (): void => this.flushAcks();

  remove(conn: UtpConnection): void {
    if (!this.all.delete(conn)) return;
    let prev: UtpConnection | null = null;
    let cur = this.byId.get(conn.recvId) ?? null;
    while (cur && cur !== conn) {
      prev = cur;
      cur = cur.nextSameId;
    }
    if (cur) {
      if (prev) prev.nextSameId = cur.nextSameId;
      else if (cur.nextSameId) this.byId.set(conn.recvId, cur.nextSameId);
      else this.byId.delete(conn.recvId);
    }
    conn.nextSameId = null;
    if (this.all.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  stateChanged(_conn: UtpConnection, from: UtpState, to: UtpState): void {
    const g = this.gauges;
    const bump = (s: UtpState, by: number): void => {
      if (s === UtpState.SynSent) g.syn += by;
      else if (s === UtpState.Connected) g.connected += by;
      else if (s === UtpState.FinSent) g.fin += by;
    };
    bump(from, -1);
    bump(to, 1);
    this.counters.set(M.utp_num_utp_syn_sent, g.syn);
    this.counters.set(M.utp_num_utp_connected, g.connected);
    this.counters.set(M.utp_num_utp_fin_sent, g.fin);
  }

  // ---- inside ----

  private find(recvId: number, address: string, port: number): UtpConnection | null {
    let c = this.byId.get(recvId) ?? null;
    while (c && (c.remotePort !== port || c.remoteAddress !== address)) c = c.nextSameId;
    return c;
  }

  /**
   * A RESET answering a packet of ours carries the id we sent with (a stray's id is echoed back), so it
   * may name our send id: our receive id is then one more (we dialled) or one less (we accepted).
   */
  private findResetTarget(id: number, address: string, port: number): UtpConnection | null {
    for (const recvId of [(id + 1) & 0xffff, (id - 1) & 0xffff]) {
      const c = this.find(recvId, address, port);
      if (c && c.sendId === id) return c;
    }
    return null;
  }

  private add(conn: UtpConnection): void {
    this.all.add(conn);
    conn.nextSameId = this.byId.get(conn.recvId) ?? null;
    this.byId.set(conn.recvId, conn);
  }

  private incoming(h: PacketHeader, address: string, port: number): void {
    if (!this.opts.acceptIncoming() || this.all.size >= this.maxConnections || this.halfOpen() >= this.maxHalfOpen) {
      this.sendReset(address, port, h.connId, h.seq);
      return;
    }
    const conn = UtpConnection.accept(this, this.opts.settings, address, port, h, this.random16(), this.mtuCeiling);
    this.add(conn);
    this.startTimer();
    this.opts.onAccept(conn);
  }

  private halfOpen(): number {
    let n = 0;
    for (const c of this.all) if (!c.initiator && !c.gotData) n++;
    return n;
  }

  /** ST_RESET to a packet no connection of ours owns (so the peer stops, or falls back to TCP). */
  private sendReset(address: string, port: number, connId: number, seq: number): void {
    const buf = this.controlBuffer();
    writeHeader(buf, ST_RESET, connId, (this.now() * 1000) >>> 0, 0, 0, this.random16(), seq);
    this.counters.inc(M.utp_utp_packets_out);
    this.opts.udp.send(buf, HEADER_SIZE, port, address);
  }

  private startTimer(): void {
    if (this.timer || this.tickMs <= 0) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }
}
