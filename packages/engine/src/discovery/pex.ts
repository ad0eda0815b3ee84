import { bdecode } from '../metainfo/bencode.js';
import type { ExtensionWire as Wire, WireExtension, WireExtensionCtor } from '../wire/extensions.js';
import { decodeCompact4, decodeCompact6, encodeCompact4, encodeCompact6, type Endpoint } from './addr.js';

/** BEP 11: at most one PEX message a minute to a peer. */
export const PEX_INTERVAL_MS = 60_000;
/** BEP 11: at most 50 added (and 50 dropped) peers in one message; also the most taken from one. */
export const PEX_MAX_PEERS = 50;
/** Messages from a peer closer together than this are ignored (a minute, with slack for timer jitter). */
const PEX_MIN_RECEIVE_INTERVAL_MS = 45_000;
/** 50 IPv4 + 50 IPv6 added and dropped, with flags, fit in about 2.5 KB; anything much bigger is not PEX. */
const PEX_MAX_MESSAGE_BYTES = 8192;

/** What a PEX peer needs from its torrent. */
export interface PexOwner {
  /** PEX is allowed now: not a private torrent (BEP 27), not disable_pex. */
  enabled(): boolean;
  /** Peers a remote told us about (at most PEX_MAX_PEERS per message). */
  received(peers: Endpoint[]): void;
  /** The wire closed. */
  detach(p: PexPeer): void;
}

/** Decoder limits for a PEX message: a flat dictionary of strings, so any nesting is not PEX. */
const PEX_DECODE_LIMITS = { maxDepth: 4, maxTokens: 64 } as const;

/**
 * The peers a ut_pex message adds (at most PEX_MAX_PEERS, IPv4 first). A payload that is not a bencoded
 * dictionary within PEX's size gives none: a peer's garbage is ignored, never thrown.
 */
export function parsePexMessage(buf: Uint8Array): Endpoint[] {
  if (!(buf instanceof Uint8Array) || buf.length > PEX_MAX_MESSAGE_BYTES) return [];
  let msg: unknown;
  try {
    msg = bdecode(buf, PEX_DECODE_LIMITS);
  } catch {
    return [];
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || msg instanceof Uint8Array) return [];
  const d = msg as Record<string, unknown>;
  const peers = d.added instanceof Uint8Array ? decodeCompact4(d.added, PEX_MAX_PEERS) : [];
  if (d.added6 instanceof Uint8Array) peers.push(...decodeCompact6(d.added6, PEX_MAX_PEERS - peers.length));
  return peers;
}

/**
 * ut_pex on one wire (BEP 11), an extension of our peer connection (wire/extensions.ts). Our own rather
 * than the ut_pex package: ut_pex sends its first message only after 65 s and on a timer per wire, while
 * libtorrent sends the current peer list at its first tick after the handshake, and then only
 * changes, at most once a minute; here the session's one discovery timer drives every wire.
 */
export class PexPeer implements WireExtension {
  // Set on utPex's class prototype (the extension registry reads ext.name): a class field would shadow it.
  declare readonly name: string;
  /** The remote's extended handshake offered ut_pex. */
  supported = false;
  private lastSent = 0;
  private lastReceived = 0;
  /** What the remote knows from us: "host:port" → endpoint. */
  private readonly sent = new Map<string, Endpoint>();

  constructor(readonly wire: Wire, private readonly owner: PexOwner, private readonly remote: { ip: string; port: number }) {
    wire.once('close', () => owner.detach(this));
  }

  onExtendedHandshake(handshake: Record<string, unknown>): void {
    const m = handshake.m;
    this.supported = typeof m === 'object' && m !== null && 'ut_pex' in m;
  }

  onMessage(buf: Uint8Array): void {
    if (!this.owner.enabled() || buf.length > PEX_MAX_MESSAGE_BYTES) return;
    const now = Date.now();
    if (this.lastReceived && now - this.lastReceived < PEX_MIN_RECEIVE_INTERVAL_MS) return;
    this.lastReceived = now;
    const peers = parsePexMessage(buf);
    if (peers.length) this.owner.received(peers);
  }

  /** Whether `p` is the remote itself (its source address, or the listen port its handshake gave). */
  private isRemote(p: Endpoint): boolean {
    if (p.host !== this.remote.ip) return false;
    const listen = this.wire.peerExtendedHandshake.p;
    return p.port === this.remote.port || p.port === listen;
  }

  /** A message may go now (the remote speaks ut_pex and the last one is a minute old). */
  due(now: number): boolean {
    return this.supported && !this.wire.destroyed && (this.lastSent === 0 || now - this.lastSent >= PEX_INTERVAL_MS);
  }

  /** Sends what changed in `current` (the torrent's connected peers) since the last message, if one is due. */
  maybeSend(now: number, current: readonly Endpoint[]): void {
    if (!this.due(now) || !this.owner.enabled()) return;
    const cur = new Map<string, Endpoint>();
    for (const p of current) if (!this.isRemote(p)) cur.set(`${p.host}:${p.port}`, p);
    const added: Endpoint[] = [];
    for (const [k, p] of cur) {
      if (added.length >= PEX_MAX_PEERS) break;
      if (!this.sent.has(k)) added.push(p);
    }
    const dropped: Endpoint[] = [];
    for (const [k, p] of this.sent) {
      if (dropped.length >= PEX_MAX_PEERS) break;
      if (!cur.has(k)) dropped.push(p);
    }
    // Nothing new: no message (and the first one goes as soon as there is something to say).
    if (added.length === 0 && dropped.length === 0) return;
    const added4 = encodeCompact4(added);
    const added6 = encodeCompact6(added);
    const msg: Record<string, Uint8Array> = {
      added: added4,
      // Per-peer flags; spritzle does not know the peers' encryption or seed status for certain: none set.
      'added.f': new Uint8Array(added4.length / 6),
      dropped: encodeCompact4(dropped),
    };
    if (added6.length) {
      msg.added6 = added6;
      msg['added6.f'] = new Uint8Array(added6.length / 18);
    }
    const dropped6 = encodeCompact6(dropped);
    if (dropped6.length) msg.dropped6 = dropped6;
    try {
      this.wire.extended('ut_pex', msg);
    } catch {
      return;
    }
    for (const p of added) this.sent.set(`${p.host}:${p.port}`, p);
    for (const p of dropped) this.sent.delete(`${p.host}:${p.port}`);
    this.lastSent = now;
  }
}

/** An extension class (PeerConnection.use) bound to one torrent (`owner`) and one remote; `created` gets the instance. */
export function utPex(owner: PexOwner, remote: { ip: string; port: number }, created: (p: PexPeer) => void): WireExtensionCtor {
  class UtPex extends PexPeer {
    constructor(wire: Wire) {
      super(wire, owner, remote);
      created(this);
    }
  }
  Object.defineProperty(UtPex.prototype, 'name', { value: 'ut_pex' });
  return UtPex;
}
