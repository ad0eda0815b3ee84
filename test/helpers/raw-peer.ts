// A bare bittorrent-protocol peer for the discovery tests: it connects to an engine on 127.0.0.1, offers
// ut_pex (so the engine may send PEX to it) and records every extended message it receives.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';
import Wire from 'bittorrent-protocol';

export interface RawPeer {
  /** The engine's extended handshake, once it arrived. */
  handshake(): Record<string, unknown> | null;
  /** Decoded ut_pex messages received, with their arrival times. */
  pex: { at: number; msg: Record<string, Uint8Array> }[];
  /** Names of every extended message received (not the handshake). */
  extended: string[];
  close(): void;
}

export async function connectRawPeer(port: number, infoHash: string): Promise<RawPeer> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const wire = new Wire();
  socket.pipe(wire as never);
  wire.pipe(socket);
  const pex: RawPeer['pex'] = [];
  const extended: string[] = [];
  let hs: Record<string, unknown> | null = null;
  class UtPex {
    onMessage(buf: Uint8Array): void {
      pex.push({ at: Date.now(), msg: bencode.decode(buf) as Record<string, Uint8Array> });
    }
  }
  Object.defineProperty(UtPex.prototype, 'name', { value: 'ut_pex' });
  wire.use(UtPex as never);
  wire.on('extended', (ext: string, obj: unknown) => {
    if (ext === 'handshake') hs = obj as Record<string, unknown>;
    else extended.push(ext);
  });
  wire.handshake(infoHash, randomBytes(20), { dht: false });
  return {
    handshake: () => hs,
    pex,
    extended,
    close: () => socket.destroy(),
  };
}

/** "a.b.c.d:port" of each 6-byte entry of a compact peer list. */
export function compactPeers(buf: Uint8Array | undefined): string[] {
  const out: string[] = [];
  if (!buf) return out;
  for (let i = 0; i + 6 <= buf.length; i += 6) out.push(`${buf[i]}.${buf[i + 1]}.${buf[i + 2]}.${buf[i + 3]}:${(buf[i + 4]! << 8) | buf[i + 5]!}`);
  return out;
}

/** A listening fake peer: every accepted connection becomes a bittorrent-protocol Wire handed to `onWire`. */
export interface PeerServer {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): void;
}

export function servePeers(onWire: (wire: Wire) => void): Promise<PeerServer> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const wire = new Wire('tcpIncoming');
    socket.pipe(wire as never);
    wire.pipe(socket);
    onWire(wire);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: (server.address() as net.AddressInfo).port,
      connections: () => connections,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    }));
  });
}

/** A hand-driven peer on a raw socket: it sends exactly the bytes a test gives it (hostile ones included). */
export interface HandPeer {
  socket: net.Socket;
  /** Everything the engine sent so far. */
  received(): Buffer;
  /** Resolves once the engine closed the connection. */
  closed: Promise<void>;
  send(bytes: number[] | Uint8Array): void;
  /** Waits until the engine sent `bytes` (e.g. an unchoke) somewhere in the stream. */
  waitFor(bytes: number[], ms?: number): Promise<void>;
}

/** Connects to an engine and sends a handshake for `infoHash` offering the fast and extension protocols. */
export async function handPeer(port: number, infoHash: string): Promise<HandPeer> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const received = (): Buffer => Buffer.concat(chunks);
  const reserved = [0, 0, 0, 0, 0, 0x10, 0, 0x04];
  socket.write(Uint8Array.from([19, ...Buffer.from('BitTorrent protocol'), ...reserved, ...Buffer.from(infoHash, 'hex'), ...randomBytes(20)]));
  return {
    socket, received, closed,
    send: (bytes) => socket.write(Uint8Array.from(bytes)),
    waitFor: async (bytes, ms = 5000) => {
      const end = Date.now() + ms;
      while (!received().includes(Buffer.from(bytes))) {
        if (Date.now() > end) throw new Error(`the engine did not send [${bytes.join(',')}]`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** A peer wire message: 4-byte length, id, payload. */
export function wireMessage(id: number, ...payload: (number | number[] | Uint8Array)[]): number[] {
  const body = payload.flatMap((p) => (typeof p === 'number' ? [p] : [...p]));
  return [...u32(1 + body.length), id, ...body];
}

export function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}
