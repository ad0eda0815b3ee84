// A transport without a socket: the test pushes bytes in (through one scratch buffer it overwrites after
// each read, as a shared socket read buffer is) and reads what the connection wrote.
import type { Transport, TransportSink } from '../../packages/engine/src/transport/transport.js';

export class FakeTransport implements Transport {
  bytesRead = 0;
  bytesWritten = 0;
  writeQueued = 0;
  /** Each write() call's bytes (copied), and cork state per write. */
  readonly writes: Uint8Array[] = [];
  corked = 0;
  closedWith: string | null = null;
  private sink: TransportSink | null = null;

  constructor(readonly remoteAddress = '127.0.0.1', readonly remotePort = 6881) {}

  attach(sink: TransportSink): void {
    this.sink = sink;
  }

  write(data: Uint8Array, flushed?: () => void): void {
    this.writes.push(Uint8Array.from(data));
    this.bytesWritten += data.length;
    flushed?.();
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    this.corked--;
  }

  close(reason: string): void {
    if (this.closedWith !== null) return;
    this.closedWith = reason;
    this.sink?.onClosed(reason);
  }

  /** Feeds `data` in reads of `chunk` bytes through one reused buffer, overwritten with 0xee after each read. */
  feed(data: Uint8Array, chunk = data.length): void {
    const scratch = Buffer.alloc(Math.max(1, chunk));
    for (let at = 0; at < data.length; at += chunk) {
      const part = data.subarray(at, at + chunk);
      scratch.set(part);
      this.bytesRead += part.length;
      this.sink?.onData(scratch.subarray(0, part.length));
      scratch.fill(0xee);
    }
  }

  /** The send queue drained. */
  drain(): void {
    this.writeQueued = 0;
    this.sink?.onDrain();
  }

  /** Everything written, as one buffer. */
  sent(): Buffer {
    return Buffer.concat(this.writes);
  }
}
