/**
 * The TCP transport: a net.Socket. Outgoing sockets read into one buffer shared by all of them (Node's
 * `onread`: no allocation per read; each read is consumed synchronously before the next fills it).
 * Accepted sockets cannot be given `onread` by net.Server, so they deliver the usual 'data' chunks.
 * Either way a connection yields to the event loop after READ_BUDGET bytes in one turn.
 */
import net from 'node:net';
import type { Transport, TransportSink } from './transport.js';

/**
 * Bytes read from one socket before yielding to the event loop. libuv reads a ready socket up to 32 times
 * in a row (8 MiB with our buffer) before it looks at anything else, so a fast peer would otherwise hold
 * off API requests and every other peer for tens of milliseconds.
 */
export const READ_BUDGET = 512 * 1024;

const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** The same memory as a plain Uint8Array (its subarray is cheaper than a Buffer's). */
const SHARED_READ_VIEW = new Uint8Array(SHARED_READ_BUFFER.buffer, SHARED_READ_BUFFER.byteOffset, SHARED_READ_BUFFER.length);

export class TcpTransport implements Transport {
  private sink: TransportSink | null = null;
  private closed = false;
  private readInTurn = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;

  /** Dials `host:port`; the socket (for 'connect'/'error' and a connect timeout) is `transport.socket`. */
  static connect(host: string, port: number): TcpTransport {
    let t: TcpTransport | null = null;
    const socket = net.connect({
      host, port,
      onread: { buffer: SHARED_READ_BUFFER, callback: (n: number) => t?.received(SHARED_READ_VIEW.subarray(0, n)) ?? true },
    });
    t = new TcpTransport(socket, true, host, port);
    return t;
  }

  /** An accepted (or already connected) socket, read with 'data' events. */
  static accept(socket: net.Socket): TcpTransport {
    return new TcpTransport(socket, false, normalizeIp(socket.remoteAddress ?? ''), socket.remotePort ?? 0);
  }

  private constructor(readonly socket: net.Socket, private readonly sharedReads: boolean, host: string, port: number) {
    this.remoteAddress = host;
    this.remotePort = port;
    socket.setNoDelay(true);
    socket.on('end', () => this.close('connection closed'));
    socket.on('error', (e: NodeJS.ErrnoException) => this.close(e.code ?? e.message));
    socket.on('close', () => this.close('connection closed'));
    socket.on('drain', () => this.sink?.onDrain());
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    if (!this.sharedReads) {
      this.socket.on('data', (d: Buffer) => {
        if (!this.received(d)) this.socket.pause();
      });
    }
  }

  /** One read: handed to the sink. False once the turn's budget is spent (the socket then pauses until the next turn). */
  received(data: Uint8Array): boolean {
    if (this.closed || !this.sink) return true;
    this.sink.onData(data);
    this.readInTurn += data.length;
    if (this.readInTurn < READ_BUDGET || this.closed) return true;
    this.readInTurn = 0;
    setImmediate(this.resumeReading);
    return false;
  }

  private readonly resumeReading = (): void => {
    if (!this.closed) this.socket.resume();
  };

  get bytesRead(): number {
    return this.socket.bytesRead;
  }

  get bytesWritten(): number {
    return this.socket.bytesWritten;
  }

  get writeQueued(): number {
    return this.socket.writableLength;
  }

  write(data: Uint8Array, flushed?: () => void): void {
    if (!this.closed) this.socket.write(data, flushed);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.sink?.onClosed(reason);
  }
}

export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
