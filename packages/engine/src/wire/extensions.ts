/**
 * BEP 10, the extension protocol: our extended handshake (`m` with our ids, `v`, `reqq`, `p`,
 * `metadata_size`), the peer's (read with bdecode only), and the mapping of names to the ids each side
 * chose. Extensions register by name and get their own messages; this module never interprets them.
 */
import bencode from 'bencode';
import { bdecode, checkBencode, type BDict } from '../metainfo/bencode.js';
import { WireError } from './codec.js';

/** Our ids for the extensions we speak (libtorrent's numbering, so captures look familiar). */
export const LOCAL_EXTENSION_IDS: Readonly<Record<string, number>> = { ut_pex: 1, ut_metadata: 2 };

/** An extension on one connection (ut_pex; ut_metadata is wired in by the torrent directly). */
export interface WireExtension {
  readonly name: string;
  /** The peer's extended handshake arrived. */
  onExtendedHandshake?(handshake: Record<string, unknown>): void;
  /** A message of this extension (a view valid only during the call; one bencoded value checked). */
  onMessage?(payload: Uint8Array): void;
}

export type WireExtensionCtor = new (wire: ExtensionWire) => WireExtension;

/** What an extension sees of its connection. */
export interface ExtensionWire {
  /** Our extended handshake, to be sent: extensions may add keys before it goes out. */
  readonly extendedHandshake: Record<string, unknown>;
  /** The peer's extended handshake (empty until it arrived). */
  readonly peerExtendedHandshake: Record<string, unknown>;
  /** The connection closed. */
  readonly destroyed: boolean;
  /** Sends a message of extension `name`, bencoding `msg` unless it is bytes already; throws if the peer does not speak it. */
  extended(name: string, msg: unknown): void;
  /** Registers an extension (before the handshakes). */
  use(ctor: WireExtensionCtor): void;
  once(event: 'close', fn: () => void): void;
}

/** Most extensions the peer may name in its handshake, and the longest name we read: bounds the work per handshake. */
const MAX_PEER_EXTENSIONS = 64;

export class ExtensionRegistry {
  /** name → our id, for the extensions registered on this connection. */
  private readonly local = new Map<string, number>();
  /** our id → extension. */
  private readonly byId = new Map<number, WireExtension>();
  /** name → the peer's id for it. */
  private readonly remote = new Map<string, number>();
  readonly extendedHandshake: Record<string, unknown> = {};
  peerExtendedHandshake: Record<string, unknown> = {};
  received = false;

  register(ext: WireExtension): void {
    const id = LOCAL_EXTENSION_IDS[ext.name] ?? 10 + this.local.size;
    this.local.set(ext.name, id);
    this.byId.set(id, ext);
  }

  /** Registers a name we speak whose messages the owner handles itself (ut_metadata). */
  registerName(name: string): number {
    const id = LOCAL_EXTENSION_IDS[name] ?? 10 + this.local.size;
    this.local.set(name, id);
    return id;
  }

  /** Our handshake's payload (`m` built from what is registered). */
  encodeHandshake(): Uint8Array {
    const m: Record<string, number> = {};
    for (const [name, id] of this.local) m[name] = id;
    return bencode.encode({ ...this.extendedHandshake, m });
  }

  /** The peer's handshake payload: a dictionary, or the connection ends. */
  onHandshake(payload: Uint8Array): Record<string, unknown> {
    let hs;
    try {
      hs = bdecode(payload);
    } catch (e) {
      throw new WireError(`an extended handshake that is not bencoded (${(e as Error).message})`);
    }
    if (typeof hs !== 'object' || hs === null || hs instanceof Uint8Array || Array.isArray(hs)) {
      throw new WireError('an extended handshake that is not a dictionary');
    }
    this.remote.clear();
    const m = (hs as BDict).m;
    if (m !== undefined && typeof m === 'object' && !(m instanceof Uint8Array) && !Array.isArray(m)) {
      let n = 0;
      for (const [name, id] of Object.entries(m)) {
        if (++n > MAX_PEER_EXTENSIONS) break;
        // BEP 10: id 0 disables an extension; ids are one byte.
        if (typeof id === 'number' && id > 0 && id < 256) this.remote.set(name, id);
      }
    }
    this.peerExtendedHandshake = hs as Record<string, unknown>;
    this.received = true;
    for (const ext of this.byId.values()) ext.onExtendedHandshake?.(this.peerExtendedHandshake);
    return this.peerExtendedHandshake;
  }

  /** The peer's id for `name`, or 0 if it does not speak it. */
  remoteId(name: string): number {
    return this.remote.get(name) ?? 0;
  }

  localId(name: string): number {
    return this.local.get(name) ?? 0;
  }

  /** A message for one of our registered extensions (unknown ids are ignored, as BEP 10 allows). */
  dispatch(id: number, payload: Uint8Array): void {
    const ext = this.byId.get(id);
    if (!ext?.onMessage) return;
    // Extensions decode their payload themselves; none of them gets bytes that are not one bencoded value.
    try {
      checkBencode(payload);
    } catch {
      throw new WireError(`an invalid ${ext.name} message`);
    }
    ext.onMessage(payload);
  }

  /** Name of the extension we registered under `id` ('' if none). */
  nameOf(id: number): string {
    for (const [name, i] of this.local) if (i === id) return name;
    return '';
  }
}
