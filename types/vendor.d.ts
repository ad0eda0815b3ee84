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
    allowedFast(index: number): void;
    extended(ext: number | string, obj: Uint8Array | Record<string, unknown>): void;
    keepAlive(): void;
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
