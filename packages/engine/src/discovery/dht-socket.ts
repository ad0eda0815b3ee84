import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { checkBencode, type BencodeLimits } from '../metainfo/bencode.js';
import { M, type Counters } from '../stats/counters.js';

/**
 * The DHT's UDP socket, owned by us and handed to bittorrent-dht (its `socket` option, passed through
 * k-rpc to k-rpc-socket). k-rpc-socket decodes every datagram with bencode 2's decode, which walks
 * backwards on a negative string length (`l-3:e` from anyone loops until the heap is gone): a datagram
 * reaches the library only if `isKrpcDatagram` accepts it, and whatever the library throws while handling
 * it is caught here (it would otherwise escape the socket's callback). Because the filter is this socket, it
 * protects the packed library too, whatever bencode version the dependency resolves to.
 *
 * It is also where the dht.* message, byte and per-method query counters are taken, from the bytes
 * themselves, so nothing needs to reach into the library's objects.
 */
/**
 * A UDP socket the DHT shares with uTP on the listen port (libtorrent's single UDP socket): it hands the
 * DHT the datagrams uTP did not take (told apart by their first byte: uTP's is type << 4 | 1, KRPC's 'd').
 */
export interface SharedUdp {
  send(buf: Uint8Array, offset: number, length: number, port: number, host: string, cb?: (err: Error | null) => void): void;
  address(): { address: string; family: string; port: number };
  /** Routes the datagrams that are not uTP to `onMessage` until the returned function is called. */
  attach(onMessage: (buf: Buffer, rinfo: dgram.RemoteInfo) => void): () => void;
}

export class DhtSocket extends EventEmitter {
  private readonly socket: dgram.Socket | null;
  private detach: (() => void) | null = null;

  constructor(private readonly counters: Counters, private readonly shared?: SharedUdp) {
    super();
    this.socket = shared ? null : dgram.createSocket('udp4');
    this.socket?.on('message', (buf: Buffer, rinfo: dgram.RemoteInfo) => this.onMessage(buf, rinfo));
    this.socket?.on('error', (e: Error) => this.emit('error', e));
    this.socket?.on('listening', () => this.emit('listening'));
    this.socket?.on('close', () => this.emit('close'));
  }

  private onMessage(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const c = this.counters;
    c.inc(M.dht_dht_messages_in);
    c.inc(M.dht_dht_bytes_in, buf.length);
    if (!isKrpcDatagram(buf)) {
      c.inc(M.dht_dht_messages_in_dropped);
      return;
    }
    const q = krpcQuery(buf);
    if (q >= 0) c.inc(QUERY_IN[q]!);
    try {
      this.emit('message', buf, rinfo);
    } catch {
      // bittorrent-dht and k-bucket read a well-formed query's fields without checking their types (an
      // integer target or token throws): what throws costs the datagram, not the daemon.
      c.inc(M.dht_dht_messages_in_dropped);
    }
  }

  /** k-rpc-socket always calls send(buf, offset, length, port, host, cb). */
  send(buf: Uint8Array, offset: number, length: number, port: number, host: string, cb?: (err: Error | null) => void): void {
    const c = this.counters;
    c.inc(M.dht_dht_messages_out);
    c.inc(M.dht_dht_bytes_out, length);
    const q = krpcQuery(buf);
    if (q >= 0) c.inc(QUERY_OUT[q]!);
    if (this.socket) this.socket.send(buf, offset, length, port, host, cb);
    else this.shared!.send(buf, offset, length, port, host, cb);
  }

  /** On a shared socket, already bound: this only starts taking its datagrams. */
  bind(port: number, host: string, cb?: () => void): void {
    if (this.socket) {
      this.socket.bind(port, host, cb);
      return;
    }
    this.detach = this.shared!.attach((buf, rinfo) => this.onMessage(buf, rinfo));
    process.nextTick(() => {
      this.emit('listening');
      cb?.();
    });
  }

  address(): { address: string; family: string; port: number } {
    return this.socket ? this.socket.address() : this.shared!.address();
  }

  close(cb?: () => void): void {
    if (this.socket) {
      this.socket.close(cb);
      return;
    }
    this.detach?.();
    this.detach = null;
    process.nextTick(() => {
      this.emit('close');
      cb?.();
    });
  }
}

/** KRPC datagrams are small dictionaries; BEP 44 values (under 1000 bytes) are the deepest part. */
const KRPC_LIMITS: BencodeLimits = { maxDepth: 32, maxTokens: 10_000, strictEnd: true };

/** One bencoded dictionary and nothing after it, within KRPC's limits: the only datagrams the library sees. */
export function isKrpcDatagram(buf: Uint8Array): boolean {
  if (buf.length === 0 || buf[0] !== 0x64 /* d */) return false;
  try {
    checkBencode(buf, KRPC_LIMITS);
    return true;
  } catch {
    return false;
  }
}

const METHODS = ['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put'] as const;
const METHOD_BYTES = METHODS.map((m) => Buffer.from(m, 'latin1'));
const QUERY_IN = [M.dht_dht_ping_in, M.dht_dht_find_node_in, M.dht_dht_get_peers_in, M.dht_dht_announce_peer_in, M.dht_dht_get_in, M.dht_dht_put_in];
const QUERY_OUT = [M.dht_dht_ping_out, M.dht_dht_find_node_out, M.dht_dht_get_peers_out, M.dht_dht_announce_peer_out, M.dht_dht_get_out, M.dht_dht_put_out];

/**
 * For a valid KRPC datagram (checked before), the index in METHODS of the query it carries ("y" is "q"),
 * or -1. A scan of the top-level keys: nothing is decoded.
 */
export function krpcQuery(buf: Uint8Array): number {
  let isQuery = false;
  let method = -1;
  let i = 1;
  while (i < buf.length && buf[i] !== 0x65 /* e */) {
    const [keyAt, keyEnd] = stringAt(buf, i);
    if (keyAt < 0) return -1;
    const oneByteKey = keyEnd - keyAt === 1 ? buf[keyAt] : -1;
    const valEnd = checkBencode(buf, KRPC_LIMITS_NESTED, keyEnd);
    if (oneByteKey === 0x79 /* y */) {
      const [at, end] = stringAt(buf, keyEnd);
      isQuery = at >= 0 && end - at === 1 && buf[at] === 0x71 /* q */;
    } else if (oneByteKey === 0x71 /* q */) {
      const [at, end] = stringAt(buf, keyEnd);
      if (at >= 0) method = METHOD_BYTES.findIndex((m) => m.length === end - at && m.equals(buf.subarray(at, end)));
    }
    i = valEnd;
  }
  return isQuery ? method : -1;
}

/** Values inside a datagram: the same limits, without the end check (more of the dictionary follows). */
const KRPC_LIMITS_NESTED: BencodeLimits = { maxDepth: 32, maxTokens: 10_000 };

/** [content start, content end] of the bencoded string at `i`, or [-1, -1] if there is none. */
function stringAt(buf: Uint8Array, i: number): [number, number] {
  let len = 0;
  let j = i;
  while (j < buf.length && buf[j]! >= 0x30 && buf[j]! <= 0x39 && j - i < 15) len = len * 10 + (buf[j++]! - 0x30);
  if (j === i || buf[j] !== 0x3a /* : */ || j + 1 + len > buf.length) return [-1, -1];
  return [j + 1, j + 1 + len];
}
