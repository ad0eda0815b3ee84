import { SpritzleError } from '../errors.js';
import { isDialable } from '../discovery/addr.js';
import { MAX_TRACKERS, tooManyTrackers } from '../discovery/tracker.js';

/** A BEP 53 file range, both ends included (file indices). */
export interface FileRange {
  first: number;
  last: number;
}

/** A parsed magnet link (BEP 9, BEP 53 `so=`). */
export interface Magnet {
  infoHash: string;
  name?: string;
  trackers: string[];
  peers: { host: string; port: number }[];
  /** BEP 53 `so=`: the files to download, as ranges (never expanded: `0-999999999` is one range). */
  selectOnly?: FileRange[];
}

/** Most `so=` ranges: a selection longer than this is not one a person wrote. */
export const MAX_SELECT_RANGES = 1000;
/** Most `x.pe` peers in one magnet. */
export const MAX_MAGNET_PEERS = 1000;
/** A file index above this is clipped to it (no torrent has that many files; keeps arithmetic exact). */
const MAX_FILE_INDEX = 0x7fffffff;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function bad(message: string): never {
  throw new SpritzleError('invalid_param', `url: ${message}`, { field: 'url' });
}

/** 32 base32 characters (RFC 4648, no padding) → 40 hex characters. */
function base32ToHex(s: string): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const c of s.toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += ((value >>> bits) & 0xff).toString(16).padStart(2, '0');
    }
  }
  return out;
}

/** `urn:btih:` + 40 hex or 32 base32 → the hex info-hash; anything else (39 hex, 33 base32...) is refused. */
function btih(v: string): string {
  const h = v.slice('urn:btih:'.length);
  if (/^[0-9a-f]{40}$/i.test(h)) return h.toLowerCase();
  if (/^[A-Z2-7]{32}$/i.test(h)) return base32ToHex(h);
  bad(`xt=urn:btih: needs 40 hex or 32 base32 characters, not ${h.length} characters`);
}

/** BEP 53: `0,2,4-6`. Kept as ranges; applied once the file count is known (selectedFilePriorities). */
export function parseSelectOnly(v: string): FileRange[] {
  const out: FileRange[] = [];
  for (const part of v.split(',')) {
    if (part === '') continue;
    if (out.length >= MAX_SELECT_RANGES) bad(`so= has more than ${MAX_SELECT_RANGES} ranges`);
    const m = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(part);
    if (!m) bad(`so= entry "${part.slice(0, 40)}" is not N or N-M`);
    const first = Math.min(Number(m[1]), MAX_FILE_INDEX);
    const last = m[2] === undefined ? first : Math.min(Number(m[2]), MAX_FILE_INDEX);
    if (last < first) bad(`so= range "${part}" ends before it starts`);
    out.push({ first, last });
  }
  return out;
}

/**
 * File priorities for a BEP 53 selection over `fileCount` files: 4 (default) inside a range, 0 outside.
 * Ranges are clipped to the file count, so the work is bounded by files plus ranges, never by a range's span.
 */
export function selectedFilePriorities(ranges: readonly FileRange[], fileCount: number): number[] {
  const prios = new Array<number>(fileCount).fill(0);
  for (const r of ranges) {
    for (let i = r.first; i <= r.last && i < fileCount; i++) prios[i] = 4;
  }
  return prios;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    bad('a parameter is not valid percent-encoding');
  }
}

/**
 * Parses a magnet URI (BEP 9): the v1 info-hash (40 hex or 32 base32), dn, tr, x.pe and BEP 53's so.
 * Our own parser, because parse-torrent's expands `so=0-999999999` into a billion-entry array. Linear in
 * the URI's length; the counts of trackers, peers and ranges are capped with an error saying the cap.
 */
export async function parseMagnet(uri: string): Promise<Magnet> {
  return parseMagnetSync(uri);
}

export function parseMagnetSync(uri: string): Magnet {
  if (typeof uri !== 'string' || !/^magnet:\?/i.test(uri)) bad('not a magnet link');
  let infoHash = '';
  let hasV2 = false;
  let name: string | undefined;
  const trackers: string[] = [];
  const peers: { host: string; port: number }[] = [];
  let selectOnly: FileRange[] | undefined;
  // Walked with indexOf rather than split: a refusal (the 1001st tr=) costs nothing for the rest of the URI.
  for (let at = 'magnet:?'.length; at <= uri.length;) {
    let amp = uri.indexOf('&', at);
    if (amp < 0) amp = uri.length;
    const pair = uri.slice(at, amp);
    at = amp + 1;
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
    const raw = eq < 0 ? '' : pair.slice(eq + 1);
    // BEP 9 numbers repeated keys (xt.1, tr.2); they mean the same as the bare key.
    const base = key.replace(/\.\d+$/, '');
    if (base === 'xt') {
      const v = decode(raw);
      if (/^urn:btih:/i.test(v)) {
        const h = btih(v);
        if (infoHash && infoHash !== h) bad('the magnet link names two different info-hashes (two xt=urn:btih:)');
        infoHash = h;
      } else if (/^urn:btmh:/i.test(v)) {
        // BEP 52 hybrid: the v1 hash (btih) names the torrent; a v2-only magnet is refused below.
        hasV2 = true;
      }
    } else if (base === 'dn') {
      // Form-encoded names use + for a space (magnet-uri reads them so too).
      name ??= decode(raw.replace(/\+/g, ' '));
    } else if (base === 'tr') {
      if (trackers.length >= MAX_TRACKERS) tooManyTrackers('url');
      trackers.push(decode(raw));
    } else if (base === 'x.pe') {
      if (peers.length >= MAX_MAGNET_PEERS) bad(`more than ${MAX_MAGNET_PEERS} x.pe peers`);
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(decode(raw));
      // Unspecified, multicast and broadcast addresses are no peers (as from a tracker).
      if (m && isDialable((m[1] ?? m[2])!, Number(m[3]))) peers.push({ host: (m[1] ?? m[2])!, port: Number(m[3]) });
    } else if (base === 'so') {
      const ranges = parseSelectOnly(decode(raw));
      selectOnly = [...(selectOnly ?? []), ...ranges];
      if (selectOnly.length > MAX_SELECT_RANGES) bad(`so= has more than ${MAX_SELECT_RANGES} ranges`);
    }
  }
  if (!infoHash) {
    bad(hasV2 ? 'v2-only magnet links (xt=urn:btmh: without urn:btih:) are not supported' : 'the magnet link has no v1 info-hash (xt=urn:btih:...)');
  }
  return { infoHash, ...(name ? { name } : {}), trackers, peers, ...(selectOnly ? { selectOnly } : {}) };
}
