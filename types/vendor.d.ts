// Type declarations for the webtorrent-family modules that ship none (see README: "Types").
// Only what spritzle uses is declared; keep it that way so a change upstream shows up here.

declare module 'bittorrent-protocol' {
  import type { EventEmitter } from 'node:events';

  export interface HandshakeExtensions { dht?: boolean; fast?: boolean; extended?: boolean }
  export interface BitFieldLike { get(index: number): boolean; set(index: number, value?: boolean): void; buffer: Uint8Array }
  export interface WireExtension {
    name: string;
    onHandshake?(infoHash: string, peerId: string, extensions: HandshakeExtensions): void;
    onExtendedHandshake?(handshake: Record<string, unknown>): void;
    onMessage?(buf: Uint8Array): void;
  }
  export type WireExtensionCtor = { new (wire: Wire): WireExtension; prototype: { name: string } };
  export interface WireRequest { piece: number; offset: number; length: number }

  /** A streamx Duplex speaking the peer wire protocol. */
  export default class Wire extends EventEmitter {
    constructor(type?: string, peEnabled?: number);
    peerId: string | null;
    peerIdBuffer: Uint8Array | null;
    type: string;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    peerPieces: BitFieldLike;
    peerExtensions: HandshakeExtensions;
    extendedHandshake: Record<string, unknown>;
    peerExtendedHandshake: Record<string, unknown>;
    peerExtendedMapping: Record<string, number>;
    hasFast: boolean;
    allowedFastSet: number[];
    peerAllowedFastSet: number[];
    requests: WireRequest[];
    peerRequests: WireRequest[];
    destroyed: boolean;
    uploaded: number;
    downloaded: number;
    [extension: string]: unknown;

    pipe<T>(dest: T): T;
    /** Bytes from the remote peer (the writable side of the Duplex). */
    write(chunk: Uint8Array): boolean;
    destroy(err?: Error): void;
    end(): void;
    setKeepAlive(enable: boolean): void;
    setTimeout(ms: number, unref?: boolean): void;
    use(ext: WireExtensionCtor): void;
    handshake(infoHash: string | Uint8Array, peerId: string | Uint8Array, extensions?: HandshakeExtensions): void;
    choke(): void;
    unchoke(): void;
    interested(): void;
    uninterested(): void;
    have(index: number): void;
    bitfield(bitfield: Uint8Array | BitFieldLike): void;
    request(index: number, offset: number, length: number, cb: (err: Error | null, block?: Uint8Array) => void): void;
    piece(index: number, offset: number, buffer: Uint8Array): void;
    cancel(index: number, offset: number, length: number): void;
    reject(index: number, offset: number, length: number): void;
    port(port: number): void;
    haveAll(): void;
    haveNone(): void;
    suggest(index: number): void;
    allowedFast(index: number): void;
    extended(ext: number | string, obj: Uint8Array | Record<string, unknown>): void;
    keepAlive(): void;
    /** MSE/PE (with peEnabled): start as the initiator for this hex info-hash; the responder's answer to 'crypto-infohash'. */
    startEncryption(infoHashHex: string): void;
    setInfoHash(infoHashHex: string): void;
    write(data: Uint8Array): boolean;
  }
}

declare module 'ut_metadata' {
  import type { WireExtensionCtor } from 'bittorrent-protocol';
  export default function utMetadata(metadata?: Uint8Array): WireExtensionCtor;
}

declare module 'bitfield' {
  export default class BitField {
    constructor(data?: number | Uint8Array, opts?: { grow?: number });
    buffer: Uint8Array;
    get(index: number): boolean;
    set(index: number, value?: boolean): void;
  }
}

declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events';
  import type { Server as HttpServer } from 'node:http';
  import type { Socket as UdpSocket } from 'node:dgram';

  export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'update';
  export interface AnnounceOptions {
    uploaded?: number;
    downloaded?: number;
    left?: number;
    numwant?: number;
    /** Extra keys go into the HTTP query string as they are (e.g. `trackerid`). */
    [key: string]: unknown;
  }
  export interface ClientOptions {
    infoHash: string | Uint8Array;
    peerId: string | Uint8Array;
    announce: string[];
    port: number;
    userAgent?: string;
    /** false: no WebRTC (ws:// trackers are then "unsupported"). */
    wrtc?: false;
  }
  /** 'update': the decoded announce response (HTTP: every key; UDP: complete/incomplete) plus `announce`. */
  export interface AnnounceResponse {
    announce: string;
    complete?: number;
    incomplete?: number;
    interval?: number;
    'min interval'?: number;
    'tracker id'?: Uint8Array;
    [key: string]: unknown;
  }
  export interface ScrapeResponse {
    announce: string;
    infoHash: string;
    complete: number;
    incomplete: number;
    downloaded: number;
  }
  export class Client extends EventEmitter {
    constructor(opts: ClientOptions);
    destroyed: boolean;
    start(opts?: AnnounceOptions): void;
    stop(opts?: AnnounceOptions): void;
    complete(opts?: AnnounceOptions): void;
    update(opts?: AnnounceOptions): void;
    scrape(opts?: Record<string, unknown>): void;
    setInterval(ms?: number): void;
    destroy(cb?: (err: Error | null) => void): void;
  }
  export default Client;

  export interface ServerOptions {
    /** Interval (ms) the tracker tells clients. */
    interval?: number;
    http?: boolean;
    udp?: boolean;
    ws?: boolean;
    stats?: boolean;
    filter?: (infoHash: string, params: Record<string, unknown>, cb: (err?: Error | null) => void) => void;
  }
  /** What the server passes with its 'start' / 'complete' / 'stop' / 'update' events. */
  export interface ServerAnnounceParams {
    info_hash: string;
    peer_id: string;
    port: number;
    left: number;
    uploaded: number;
    downloaded: number;
    numwant: number;
    event: string;
    addr: string;
    ip: string;
    type: 'http' | 'udp' | 'ws';
  }
  export class Server extends EventEmitter {
    constructor(opts?: ServerOptions);
    http: HttpServer | null;
    udp4: UdpSocket | null;
    udp6: UdpSocket | null;
    torrents: Record<string, { complete: number; incomplete: number }>;
    listen(port: number, hostname?: string | { http?: string; udp?: string; udp6?: string }, cb?: () => void): void;
    close(cb?: (err?: Error | null) => void): void;
  }
}

declare module 'bittorrent-dht' {
  import type { EventEmitter } from 'node:events';

  /** What k-rpc-socket uses of its `socket` (a dgram socket, or anything with these members). */
  export interface KrpcUdpSocket extends EventEmitter {
    send(buf: Uint8Array, offset: number, length: number, port: number, host: string, cb?: (err: Error | null) => void): void;
    bind(port: number, host: string, cb?: () => void): void;
    address(): { address: string; family: string; port: number };
    close(cb?: () => void): void;
  }

  export interface DhtNodeAddress { host: string; port: number; id?: Uint8Array }
  export interface DhtOptions {
    /** 20 bytes or 40 hex. */
    nodeId?: Uint8Array | string;
    /** false: no bootstrap at all (the default is the public routers: never in tests). */
    bootstrap?: false | string[] | DhtNodeAddress[];
    /** An own address to store as a peer when announcing (false: none). */
    host?: string | false;
    /** The UDP socket to use (k-rpc-socket's `socket`). */
    socket?: KrpcUdpSocket;
    concurrency?: number;
    maxPeers?: number;
    timeBucketOutdated?: number;
  }
  export interface RoutingTable extends EventEmitter {
    count(): number;
    toArray(): { id: Uint8Array; host: string; port: number }[];
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: DhtOptions);
    readonly nodeId: Buffer;
    readonly nodes: RoutingTable;
    listening: boolean;
    destroyed: boolean;
    listen(port?: number, address?: string, cb?: () => void): void;
    address(): { address: string; family: string; port: number };
    addNode(node: DhtNodeAddress): void;
    removeNode(id: Uint8Array | string): void;
    /** get_peers towards the info-hash; every peer found is a 'peer' event. Returns an abort function. */
    lookup(infoHash: Uint8Array | string, cb?: (err: Error | null, visited?: number) => void): () => void;
    announce(infoHash: Uint8Array | string, port: number, cb?: (err: Error | null) => void): void;
    toJSON(): { nodes: { host: string; port: number }[]; values: Record<string, unknown> };
    destroy(cb?: () => void): void;
  }
}
