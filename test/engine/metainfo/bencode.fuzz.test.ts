// Fuzzing every decoder of outside bytes (issue 9): structure-aware mutations of real inputs (negative and
// huge lengths, deep nesting, truncation, bit flips, splices), FUZZ_RUNS cases each (10,000 by default),
// seeded (FUZZ_SEED; fast-check prints the seed and path of a failure). Each property: no crash (every
// failure a typed SpritzleError), no call over 1 s, heap growth bounded.
import { describe, it, expect, beforeAll } from '@jest/globals';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import bencode from 'bencode';
import fc from 'fast-check';
import { bdecode, checkBencode, parseTorrentFile, decodeResumeData, encodeResumeData, SpritzleError } from '@spritzle/engine';
import { parsePexMessage, PEX_MAX_PEERS } from '../../../packages/engine/src/discovery/pex.js';
import { isKrpcDatagram, krpcQuery } from '../../../packages/engine/src/discovery/dht-socket.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { bencodable, bencodeish, CallMeter, mutated, params, typedOutcome } from '../../helpers/mutate.js';

/** No single call may take a second (a hang detector: typical calls take microseconds). */
const SLOWEST_MS = 1000;
/** Heap growth over a whole run (10,000 cases). */
const MAX_HEAP_GROWTH = 256 * 1024 * 1024;

/** k-rpc-socket's own decoder (bencode 2), which the DHT filter stands in front of: bittorrent-dht → k-rpc → k-rpc-socket. */
function krpcSocketBencode(): { decode(b: Uint8Array): unknown } {
  const dht = realpathSync(new URL('../../../packages/engine/node_modules/bittorrent-dht/package.json', import.meta.url));
  const krpcPath = createRequire(dht).resolve('k-rpc');
  const socketPath = createRequire(krpcPath).resolve('k-rpc-socket');
  return createRequire(socketPath)('bencode') as { decode(b: Uint8Array): unknown };
}
const krpcBencode = krpcSocketBencode();

const enc = (v: unknown): Uint8Array => bencode.encode(v as Parameters<typeof bencode.encode>[0]);

let torrents: Uint8Array[] = [];
let resumes: Uint8Array[] = [];
const pex: Uint8Array[] = [
  enc({ added: Buffer.from([127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]), 'added.f': Buffer.from([0, 0]), dropped: Buffer.alloc(0) }),
  enc({ added6: Buffer.alloc(36, 1), 'added6.f': Buffer.from([0, 0]), dropped6: Buffer.alloc(18, 2) }),
];
const id = Buffer.alloc(20, 7);
const krpc: Uint8Array[] = [
  enc({ t: 'aa', y: 'q', q: 'ping', a: { id } }),
  enc({ t: 'ab', y: 'q', q: 'get_peers', a: { id, info_hash: Buffer.alloc(20, 9) } }),
  enc({ t: 'ac', y: 'r', r: { id, token: 'tok', nodes: Buffer.alloc(26 * 8, 3), values: [Buffer.alloc(6, 4), Buffer.alloc(6, 5)] } }),
  enc({ t: 'ad', y: 'e', e: [201, 'A Generic Error Ocurred'] }),
  enc({ t: 'ae', y: 'q', q: 'announce_peer', a: { id, implied_port: 1, info_hash: Buffer.alloc(20, 9), port: 6881, token: 'tok' } }),
];

beforeAll(async () => {
  const dir = await tmpDir('fuzz-bencode');
  const single = await makeTorrent({ dir, name: 'one.bin', files: 40_000, pieceLength: 16384, announce: ['http://127.0.0.1:1/a'] });
  const multi = await makeTorrent({ dir, name: 'many', files: [{ path: 'a/x.txt', size: 10_000 }, { path: 'b.bin', size: 30_000 }, { path: 'c', size: 1 }], pieceLength: 16384 });
  torrents = [single.torrentBytes, multi.torrentBytes];
  const info = parseTorrentFile(multi.torrentBytes);
  resumes = [encodeResumeData({
    info_hash: info.infoHash, name: info.name, save_path: '/tmp/fuzz', flags: 0, info: info.infoBytes, pieces: new Uint8Array([0xe0]),
    file_sizes: [[10_000, 1_700_000_000_000], [30_000, 1_700_000_000_000], [1, 1_700_000_000_000]], file_priorities: [4, 4, 1],
    trackers: ['http://127.0.0.1:1/a'], tracker_tiers: [0], peers: ['127.0.0.1:6881'],
    added_time: 1, completed_time: 2, total_uploaded: 3, total_downloaded: 4, active_time: 5, finished_time: 6, seeding_time: 7,
  })];
});

/** Every real input, for splicing into any other. */
const everything = (): Uint8Array[] => [...torrents, ...resumes, ...pex, ...krpc];

function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey((v as Record<string, unknown>)[k]));
  }
  return false;
}

describe('bencode fuzzing', () => {
  it('bdecode and checkBencode: typed errors only, they agree on what is valid, and bdecode matches bencode 4 wherever it accepts', () => {
    const m = new CallMeter();
    fc.assert(fc.property(fc.oneof(mutated(everything()), bencodeish), (bytes) => {
      const decoded = m.time(() => typedOutcome(() => bdecode(bytes)));
      const end = m.time(() => typedOutcome(() => checkBencode(bytes)));
      expect(decoded instanceof SpritzleError).toBe(end instanceof SpritzleError);
      if (decoded instanceof SpritzleError) {
        expect(decoded.code).toBe('invalid_bencode');
        return;
      }
      expect(end).toBeGreaterThan(0);
      expect(end).toBeLessThanOrEqual(bytes.length);
      // Valid within our limits, so bencode 4 cannot loop on it: the two decoders must agree
      // (except that bencode 4 turns a "__proto__" key into the object's prototype).
      if (!hasProtoKey(decoded)) expect(isDeepStrictEqual(decoded, bencode.decode(bytes))).toBe(true);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });

  it('bdecode agrees with bencode 4 on every valid encoding', () => {
    fc.assert(fc.property(bencodable, (v) => {
      const bytes = enc(v);
      expect(checkBencode(bytes, { strictEnd: true })).toBe(bytes.length);
      const ours = bdecode(bytes);
      if (!hasProtoKey(ours)) expect(isDeepStrictEqual(ours, bencode.decode(bytes))).toBe(true);
    }), params);
  });

  it('parseTorrentFile on mutated real torrents: a TorrentInfo or a typed error', () => {
    const m = new CallMeter();
    fc.assert(fc.property(mutated([...torrents, ...torrents, ...resumes]), (bytes) => {
      const r = m.time(() => typedOutcome(() => parseTorrentFile(bytes)));
      if (r instanceof SpritzleError) expect(['invalid_torrent', 'invalid_path']).toContain(r.code);
      else expect(r.infoHash).toMatch(/^[0-9a-f]{40}$/);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });

  it('decodeResumeData on mutated resume files: resume data or an invalid_param error', () => {
    const m = new CallMeter();
    fc.assert(fc.property(mutated([...resumes, ...resumes, ...torrents]), (bytes) => {
      const r = m.time(() => typedOutcome(() => decodeResumeData(bytes)));
      if (r instanceof SpritzleError) expect(r.code).toBe('invalid_param');
      else expect(r.info_hash).toMatch(/^[0-9a-f]{40}$/);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });

  it('the PEX payload parser on mutated PEX messages: never throws, at most 50 peers', () => {
    const m = new CallMeter();
    fc.assert(fc.property(mutated([...pex, ...pex, ...krpc]), (bytes) => {
      const peers = m.time(() => parsePexMessage(bytes));
      expect(peers.length).toBeLessThanOrEqual(PEX_MAX_PEERS);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });

  it('the DHT datagram filter on mutated KRPC messages: what it lets through, k-rpc-socket\'s bencode 2 decodes without harm', () => {
    const m = new CallMeter();
    let passed = 0;
    fc.assert(fc.property(mutated([...krpc, ...krpc, ...pex]), (bytes) => {
      const ok = m.time(() => isKrpcDatagram(bytes));
      if (!ok) return;
      passed++;
      expect(krpcQuery(bytes)).toBeGreaterThanOrEqual(-1);
      // What the library does with it next: bencode 2 may throw (k-rpc-socket catches that), never hang.
      m.time(() => {
        try {
          krpcBencode.decode(bytes);
        } catch {
          // a warning inside k-rpc-socket
        }
      });
    }), params);
    expect(passed).toBeGreaterThan(0);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });
});
