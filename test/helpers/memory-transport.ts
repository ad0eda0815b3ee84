/**
 * Two in-memory transports joined back to back, for tests of transports layered over another: each write
 * arrives at the other end on a later microtask (as a socket's would), and every byte sent is recorded.
 */
import type { Transport, TransportSink } from '../../packages/engine/src/transport/transport.js';

export class MemoryTransport implements Transport {
  other: MemoryTransport | null = null;
  sink: TransportSink | null = null;
  closedWith: string | null = null;
  /** Everything written, in order (what went over the "wire"). */
  readonly sent: Uint8Array[] = [];
  bytesRead = 0;
  bytesWritten = 0;
  readonly writeQueued = 0;
  private early: Uint8Array[] = [];

  constructor(readonly remoteAddress = '127.0.0.1', readonly remotePort = 6881) {}

  static pair(): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport();
    const b = new MemoryTransport();
    a.other = b;
    b.other = a;
    return [a, b];
  }

  /** All bytes written so far, as one array. */
  wire(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.sent));
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    for (const d of this.early.splice(0)) sink.onData(d);
  }

  write(data: Uint8Array, flushed?: () => void): void {
    if (this.closedWith !== null) return;
    const copy = data.slice();
    this.sent.push(copy);
    this.bytesWritten += copy.length;
    const to = this.other!;
    queueMicrotask(() => {
      to.receive(copy.slice());
      flushed?.();
    });
  }

  receive(data: Uint8Array): void {
    if (this.closedWith !== null) return;
    this.bytesRead += data.length;
    if (this.sink) this.sink.onData(data);
    else this.early.push(data);
  }

  cork(): void {}
  uncork(): void {}

  close(reason: string): void {
    if (this.closedWith !== null) return;
    this.closedWith = reason;
    this.sink?.onClosed(reason);
    const to = this.other!;
    queueMicrotask(() => to.close('connection closed'));
  }
}

/** A sink that records what it is given. */
export class RecordingSink implements TransportSink {
  readonly received: Uint8Array[] = [];
  closedReason: string | null = null;
  private waiters: (() => void)[] = [];

  onData(data: Uint8Array): void {
    this.received.push(data.slice());
    this.wake();
  }

  onClosed(reason: string): void {
    this.closedReason = reason;
    this.wake();
  }

  onDrain(): void {}

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.received));
  }

  /** Resolves once `done()` holds (checked after every delivery). */
  async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
