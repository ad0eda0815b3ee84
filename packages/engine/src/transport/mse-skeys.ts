/**
 * The SKEYs an incoming MSE handshake may name, by HASH('req2', SKEY): a map kept as torrents come, go and
 * learn a second info-hash, so that finding a connection's torrent is one lookup. Computing the hash of every
 * torrent per connection would be a SHA-1 per torrent (50,000 torrents: 50,000) that any remote can trigger.
 */
import { skeyHash } from './mse-handshake.js';

interface Entry<Owner> {
  readonly owner: Owner;
  readonly skey: Uint8Array;
}

export class SkeyIndex<Owner> {
  /** hex HASH('req2', SKEY) → the SKEY and whose it is. */
  private readonly byReq2 = new Map<string, Entry<Owner>>();
  /** Each owner's keys in byReq2, for removal. */
  private readonly keysOf = new Map<Owner, string[]>();

  get size(): number {
    return this.byReq2.size;
  }

  /**
   * Sets the SKEYs an owner is known by (a torrent's info-hash; a hybrid's truncated v2 hash beside it),
   * replacing those it had: called when it is added and whenever its hashes may have changed.
   */
  set(owner: Owner, skeys: readonly Uint8Array[]): void {
    this.delete(owner);
    const keys: string[] = [];
    for (const skey of skeys) {
      const key = Buffer.from(skeyHash(skey)).toString('hex');
      this.byReq2.set(key, { owner, skey: Uint8Array.from(skey) });
      keys.push(key);
    }
    this.keysOf.set(owner, keys);
  }

  /** Forgets an owner's SKEYs. */
  delete(owner: Owner): void {
    const keys = this.keysOf.get(owner);
    if (keys === undefined) return;
    this.keysOf.delete(owner);
    for (const key of keys) if (this.byReq2.get(key)?.owner === owner) this.byReq2.delete(key);
  }

  /** The SKEY whose HASH('req2', SKEY) this is, or null. */
  find(req2: Uint8Array): Uint8Array | null {
    if (req2.length !== 20) return null;
    return this.byReq2.get(Buffer.from(req2.buffer, req2.byteOffset, 20).toString('hex'))?.skey ?? null;
  }
}
