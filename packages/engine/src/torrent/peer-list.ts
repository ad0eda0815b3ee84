/** A peer we know an address of (from trackers, DHT, PEX, LSD, resume data or by hand). */
export interface KnownPeer {
  readonly host: string;
  readonly port: number;
  lastAttempt: number;
  failures: number;
  connected: boolean;
  connecting: boolean;
  /** A peer we will not dial again (ourselves, or a connection that proved to be a duplicate). */
  skip: boolean;
  /** It had every piece when we last saw it. */
  seed: boolean;
  /**
   * libtorrent's pe_support: with out_enc_policy `enabled`, whether the next dial tries MSE. An encrypted
   * dial that fails in its handshake clears it (the next dial is plaintext), a plaintext one that fails
   * sets it again, and a handshake that works leaves it at what worked.
   */
  peSupport: boolean;
}

/** Which kind of dial failed in its handshake (before the BitTorrent handshake came). */
export type HandshakeFailure = 'encrypted' | 'plaintext';

/** What the peer list needs to decide whom to dial. */
export interface DialLimits {
  /** Connected peers of the torrent now. */
  readonly connections: number;
  /** -1 unlimited. */
  readonly maxConnections: number;
  /** We are seeding: seeds are not worth a connection. */
  readonly seeding: boolean;
  /** libtorrent's min_reconnect_time, seconds. */
  readonly minReconnectTime: number;
}

/** Peers dialled at once per torrent. */
export const MAX_HALF_OPEN = 8;

/**
 * Addresses kept per torrent (libtorrent's max_peerlist_size default). Trackers, DHT nodes, PEX and LSD
 * peers all name addresses; without a bound a hostile source grows the list, and each dial round's scan
 * of it, without end.
 */
export const MAX_PEER_LIST = 3000;

const addressKey = (host: string, port: number): string => `${host}:${port}`;

/**
 * One torrent's peer list (libtorrent's peer_list): the addresses we know, when we last tried them, and the
 * bans. Address bans (`ip:port`) and peer-id bans are kept apart: a peer banned for bad data is kept out
 * by either, and counted once.
 */
export class PeerList {
  private readonly known = new Map<string, KnownPeer>();
  private readonly bannedAddresses = new Set<string>();
  private readonly bannedPeerIds = new Set<string>();

  get size(): number {
    return this.known.size;
  }

  /**
   * libtorrent's peer.num_banned_peers for this torrent: banned peers, each once. Every ban is of an address
   * (its peer id, when known, is only a second key to the same peer).
   */
  get numBanned(): number {
    return this.bannedAddresses.size;
  }

  /** Known peers we could dial now or later (not connected, not connecting, not skipped). */
  get connectCandidates(): number {
    let n = 0;
    for (const k of this.known.values()) if (!k.connected && !k.connecting && !k.skip) n++;
    return n;
  }

  get(host: string, port: number): KnownPeer | undefined {
    return this.known.get(addressKey(host, port));
  }

  /** Remembers a peer to dial; `now` (an explicit connect) dials it at the next chance, backoff or not. */
  add(host: string, port: number, now = false): void {
    const key = addressKey(host, port);
    const known = this.known.get(key);
    if (known && now) {
      known.lastAttempt = 0;
      known.failures = 0;
    }
    if (known || this.bannedAddresses.has(key)) return;
    if (this.known.size >= MAX_PEER_LIST && !this.makeRoom(now)) return;
    this.known.set(key, { host, port, lastAttempt: 0, failures: 0, connected: false, connecting: false, skip: false, seed: false, peSupport: true });
  }

  /**
   * Forgets the oldest address that is neither connected nor being dialled and failed or is skipped (for an
   * explicit connect, any such address): as libtorrent, a full list prefers the peers that did not work.
   */
  private makeRoom(explicit: boolean): boolean {
    let idle: string | null = null;
    for (const [key, k] of this.known) {
      if (k.connected || k.connecting) continue;
      if (k.skip || k.failures > 0) {
        this.known.delete(key);
        return true;
      }
      idle ??= key;
    }
    if (explicit && idle !== null) {
      this.known.delete(idle);
      return true;
    }
    return false;
  }

  /** Every peer may be dialled again at once (resume, recheck). */
  resetAttempts(): void {
    for (const k of this.known.values()) k.lastAttempt = 0;
  }

  /**
   * Chooses the peers to dial now and marks them connecting; `dial` is called for each, with `plaintext`
   * when its last encrypted attempt failed in the handshake (see peSupport).
   */
  dialCandidates(limits: DialLimits, now: number, dial: (host: string, port: number, plaintext: boolean) => void): void {
    let halfOpen = 0;
    for (const k of this.known.values()) if (k.connecting) halfOpen++;
    for (const k of this.known.values()) {
      if (halfOpen >= MAX_HALF_OPEN) break;
      if (limits.maxConnections >= 0 && limits.connections + halfOpen >= limits.maxConnections) break;
      if (k.connected || k.connecting || k.skip) continue;
      // Two seeds have nothing to trade.
      if (k.seed && limits.seeding) continue;
      // libtorrent's min_reconnect_time after a connection ended; a short exponential backoff after failed dials.
      const minReconnect = limits.minReconnectTime;
      const wait = k.lastAttempt === 0 ? 0 : (k.failures === 0 ? minReconnect : Math.min(minReconnect, 2 ** k.failures)) * 1000;
      if (k.lastAttempt && now - k.lastAttempt < wait) continue;
      k.connecting = true;
      k.lastAttempt = now;
      halfOpen++;
      dial(k.host, k.port, !k.peSupport);
    }
  }

  /**
   * When dialCandidates would next find someone to dial (ms since the epoch; 0 for at once), Infinity when no
   * known address ever will (all connected, being dialled, skipped, or seeds while we seed): the session
   * does not visit a torrent until then.
   */
  nextDialAt(seeding: boolean, minReconnectTime: number): number {
    let at = Number.POSITIVE_INFINITY;
    for (const k of this.known.values()) {
      if (k.connected || k.connecting || k.skip) continue;
      if (k.seed && seeding) continue;
      if (k.lastAttempt === 0) return 0;
      const wait = (k.failures === 0 ? minReconnectTime : Math.min(minReconnectTime, 2 ** k.failures)) * 1000;
      if (k.lastAttempt + wait < at) at = k.lastAttempt + wait;
    }
    return at;
  }

  /**
   * A dial ended without a usable connection; `skip`: never dial that address again; `handshake`: it
   * connected but failed in the handshake, encrypted or plaintext (the next dial tries the other).
   */
  dialFailed(host: string, port: number, skip: boolean, handshake?: HandshakeFailure): void {
    const k = this.known.get(addressKey(host, port));
    if (!k) return;
    k.connecting = false;
    k.failures++;
    if (skip) k.skip = true;
    if (handshake !== undefined) k.peSupport = handshake === 'plaintext';
  }

  /** Our dial of this address became a peer connection, `encrypted` (MSE) or not: later dials try the same. */
  connected(host: string, port: number, encrypted?: boolean): void {
    const k = this.known.get(addressKey(host, port));
    if (!k) return;
    k.connecting = false;
    k.connected = true;
    k.failures = 0;
    if (encrypted !== undefined) k.peSupport = encrypted;
  }

  /** A connection to this address ended at `now`; `seed`: the peer had every piece. */
  disconnected(host: string, port: number, now: number, seed: boolean): void {
    const k = this.known.get(addressKey(host, port));
    if (!k) return;
    k.connected = false;
    k.lastAttempt = now;
    k.seed = seed;
  }

  isBanned(ip: string, port: number, peerId: string): boolean {
    return this.bannedAddresses.has(addressKey(ip, port)) || (peerId !== '' && this.bannedPeerIds.has(peerId));
  }

  /** Bans the address (and the peer id, if known) and forgets the address; false if the address was banned already. */
  ban(ip: string, port: number, peerId: string): boolean {
    const key = addressKey(ip, port);
    if (this.bannedAddresses.has(key)) return false;
    this.bannedAddresses.add(key);
    if (peerId) this.bannedPeerIds.add(peerId);
    this.known.delete(key);
    return true;
  }

  /** Dialable addresses for resume data (at most `max`, skipped ones left out). */
  addresses(max: number): string[] {
    const out: string[] = [];
    for (const k of this.known.values()) {
      if (out.length >= max) break;
      if (!k.skip) out.push(addressKey(k.host, k.port));
    }
    return out;
  }
}
