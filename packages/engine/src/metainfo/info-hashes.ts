/**
 * A torrent's info-hashes, as libtorrent's info_hash_t: v1 (SHA-1 of the info dictionary) and/or v2
 * (SHA-256), and the one hash that names the torrent where a single one is needed (`get_best()`): v1 when
 * there is one, else the v2 hash truncated to 20 bytes, which is also what a v2 torrent puts in handshakes,
 * tracker announces and DHT lookups (BEP 52).
 */
import { SpritzleError } from '../errors.js';

/** A torrent's info-hashes (libtorrent's info_hash_t): v1, v2, or both for a hybrid. */
export interface InfoHashes {
  /** 40 lower-case hex, for v1 and hybrid torrents. */
  readonly v1?: string;
  /** 64 lower-case hex, for v2 and hybrid torrents. */
  readonly v2?: string;
}

/** libtorrent's info_hashes.get_best(): v1, else the truncated v2 (40 hex). */
export function bestInfoHash(h: InfoHashes): string {
  if (h.v1) return h.v1;
  if (h.v2) return h.v2.slice(0, 40);
  throw new SpritzleError('invalid_info_hash', 'a torrent without an info-hash');
}

/** The 20-byte hashes a torrent is known by in handshakes, announces and DHT lookups (a hybrid has two). */
export function swarmHashes(h: InfoHashes): string[] {
  const out: string[] = [];
  if (h.v1) out.push(h.v1);
  if (h.v2) out.push(h.v2.slice(0, 40));
  return out;
}

/** Whether `hash` (40 or 64 hex, any case) names this torrent: its v1, its full v2, or its truncated v2. */
export function matchesInfoHash(h: InfoHashes, hash: string): boolean {
  const x = hash.toLowerCase();
  if (x.length === 40) return x === h.v1 || (h.v2 !== undefined && x === h.v2.slice(0, 40));
  if (x.length === 64) return x === h.v2;
  return false;
}

/** An info-hash as the API takes it: 40 hex (v1, or a v2 truncated) or 64 hex (v2); lower-cased. */
export function parseInfoHash(s: unknown, field = 'hash'): string {
  if (typeof s === 'string' && /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(s)) return s.toLowerCase();
  const shown = typeof s === 'string' ? `"${s.slice(0, 70)}"` : String(s);
  throw new SpritzleError('invalid_info_hash', `${shown} is not an info-hash (40 hex characters, or 64 for a v2 torrent)`, { field });
}

/**
 * The v2 info-hash of a magnet's `xt=urn:btmh:` value: a multihash, 0x12 (SHA-256) 0x20 (32 bytes) and
 * the hash, in hex (BEP 52). Anything else (another hash function, a wrong length) is refused.
 */
export function btmhToV2(urn: string): string {
  const m = /^urn:btmh:1220([0-9a-fA-F]{64})$/.exec(urn);
  if (!m) {
    throw new SpritzleError('invalid_param', 'url: xt=urn:btmh: needs "1220" (SHA-256, 32 bytes) and 64 hex characters', { field: 'url' });
  }
  return m[1]!.toLowerCase();
}

/** The `xt=urn:btmh:` value for a v2 info-hash. */
export function v2ToBtmh(v2: string): string {
  return `urn:btmh:1220${v2}`;
}
