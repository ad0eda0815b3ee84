/**
 * Two (or more) uTP socket managers on a fake network with a fake clock: datagrams sit in a queue until
 * the test delivers them, optionally dropping, reordering or inspecting them. No sockets, no timers.
 */
import { Counters } from '../../../../packages/engine/src/stats/counters.js';
import { DEFAULT_UTP_SETTINGS, type UtpConnection, type UtpSettings } from '../../../../packages/engine/src/transport/utp/connection.js';
import { UtpSocketManager } from '../../../../packages/engine/src/transport/utp/socket-manager.js';

export interface Datagram { from: string; to: string; port: number; fromPort: number; buf: Uint8Array }

export class FakeClock {
  ms = 1000;
  now = (): number => this.ms;
}

export class FakeNet {
  readonly clock = new FakeClock();
  readonly wire: Datagram[] = [];
  readonly hosts = new Map<string, FakeHost>();
  /** Return false to drop a datagram as it is sent. */
  filter: (d: Datagram) => boolean = () => true;

  host(address: string, opts: { acceptIncoming?: boolean; settings?: Partial<UtpSettings>; maxHalfOpen?: number; maxConnections?: number } = {}): FakeHost {
    const h = new FakeHost(this, address, opts);
    this.hosts.set(address, h);
    return h;
  }

  /** Delivers every queued datagram (and those sent in response) until the wire is empty, then flushes acks. */
  run(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds && this.wire.length > 0; round++) {
      const batch = this.wire.splice(0, this.wire.length);
      for (const d of batch) this.hosts.get(d.to)?.mgr.receive(d.buf, d.from, d.fromPort);
      for (const h of this.hosts.values()) h.mgr.flushAcks();
    }
  }

  /** Advances the clock by `ms` in steps, ticking every manager and running the wire at each step. */
  advance(ms: number, step = 50): void {
    for (let t = 0; t < ms; t += step) {
      this.clock.ms += step;
      for (const h of this.hosts.values()) h.mgr.tick();
      this.run();
    }
  }
}

export class FakeHost {
  readonly counters = new Counters();
  readonly mgr: UtpSocketManager;
  readonly accepted: UtpConnection[] = [];
  readonly port = 6881;

  constructor(readonly net: FakeNet, readonly address: string, opts: { acceptIncoming?: boolean; settings?: Partial<UtpSettings>; maxHalfOpen?: number; maxConnections?: number }) {
    let seed = address.split('.').reduce((a, b) => a * 31 + Number(b), 7);
    this.mgr = new UtpSocketManager({
      settings: { ...DEFAULT_UTP_SETTINGS, ...opts.settings },
      counters: this.counters,
      udp: {
        send: (buf, len, port, to) => {
          const d = { from: this.address, fromPort: this.port, to, port, buf: Uint8Array.from(buf.subarray(0, len)) };
          if (net.filter(d)) net.wire.push(d);
        },
        queuedSends: () => 0,
      },
      acceptIncoming: () => opts.acceptIncoming ?? true,
      onAccept: (c) => this.accepted.push(c),
      now: net.clock.now,
      random16: () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xffff,
      tickMs: 0,
      maxHalfOpen: opts.maxHalfOpen,
      maxConnections: opts.maxConnections,
    });
  }
}

/** A sink that keeps what it receives and how it ended. */
export class Collector {
  readonly chunks: Uint8Array[] = [];
  closed: string | null = null;
  onData = (d: Uint8Array): void => {
    this.chunks.push(Uint8Array.from(d));
  };
  onClosed = (r: string): void => {
    this.closed = r;
  };
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Deterministic bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

/** Dials from `a` to `b` and runs the handshake; returns both ends with collectors attached. */
export function connectPair(net: FakeNet, a: FakeHost, b: FakeHost): { client: UtpConnection; server: UtpConnection; atClient: Collector; atServer: Collector } {
  const atClient = new Collector();
  const atServer = new Collector();
  let err: string | null | undefined;
  const client = a.mgr.connect(b.address, b.port, (e) => (err = e));
  client.attach(atClient);
  net.run();
  if (err !== null) throw new Error(`connect failed: ${err}`);
  const server = b.accepted[b.accepted.length - 1]!;
  server.attach(atServer);
  return { client, server, atClient, atServer };
}
