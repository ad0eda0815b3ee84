/**
 * What a peer connection runs over: bytes in, bytes out, close, the remote address. TCP today
 * (transport/tcp.ts); an encrypting MSE/PE transport over another transport, and uTP, are further
 * implementations of the same small interface.
 */

/** The owner's side of a transport (the peer connection). */
export interface TransportSink {
  /**
   * Bytes arrived. `data` is valid only during the call (it may be a shared read buffer the next read
   * overwrites): the sink consumes it synchronously and copies what it keeps.
   */
  onData(data: Uint8Array): void;
  /** The transport ended (once), with a reason a user can read. */
  onClosed(reason: string): void;
  /** What was queued for writing has gone out (back-pressure: writeQueued fell after a write filled it). */
  onDrain(): void;
}

export interface Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes received and sent so far, protocol overhead included (net.recv_bytes / net.sent_bytes). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Bytes accepted by write() and not yet handed to the network (back-pressure for the sender). */
  readonly writeQueued: number;
  /** Starts delivering bytes to `sink`. */
  attach(sink: TransportSink): void;
  /**
   * Queues bytes; `data` must not be changed afterwards (it may be sent without a copy). `flushed`, if
   * given, is called once these bytes left the queue (writeQueued fell by them).
   */
  write(data: Uint8Array, flushed?: () => void): void;
  /** Writes between cork() and uncork() leave together (one system call where the transport can). */
  cork(): void;
  uncork(): void;
  /** Ends the connection; the sink hears closed(reason) unless it already did. */
  close(reason: string): void;
}
