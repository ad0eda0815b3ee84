import { describe, it, expect } from '@jest/globals';
import { RateLimiter } from '../../../packages/engine/src/algo/bandwidth.js';
import type { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { ReadCache } from '../../../packages/engine/src/disk/read-cache.js';
import type { PeerConnection } from '../../../packages/engine/src/peer/peer-connection.js';
import { DEFAULT_SETTINGS } from '../../../packages/engine/src/session/settings.js';
import { Counters } from '../../../packages/engine/src/stats/counters.js';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';
import { MemoryStorage } from '../../../packages/engine/src/storage/memory-storage.js';
import { BLOCK_SIZE as BLOCK } from '../../../packages/engine/src/block-size.js';
import { Uploads } from '../../../packages/engine/src/torrent/uploads.js';
import { testData } from '../../helpers/memory-torrent.js';
import type { Transport } from '../../../packages/engine/src/transport/transport.js';
import { FakeNet, connectPair } from '../transport/utp/fake-net.js';

const PIECE = 4 * BLOCK;

/** A peer that takes every block it is given (our own stand-in: Uploads sees a peer through these members). */
function stubPeer(transport: Pick<Transport, 'writeQueued'> = { writeQueued: 0 }) {
  const sent: [number, number, Uint8Array][] = [];
  const refused: [number, number, number][] = [];
  const peer = {
    closed: false, amChoking: false, peerRequestCount: 0, uploadReading: 0, uploadRate: 0, drained: null,
    transport,
    sendBlock: (index: number, offset: number, block: Uint8Array) => { sent.push([index, offset, Uint8Array.from(block)]); return true; },
    refuseRequest: (index: number, offset: number, length: number) => { refused.push([index, offset, length]); },
    protocolError: () => undefined,
    wantsBlock: () => true,
  };
  return { peer: peer as unknown as PeerConnection, sent, refused };
}

/** A seed of five pieces of four blocks in memory storage, serving through `cache`. */
function seed(cache = new ReadCache(), tcpUpLimiter?: RateLimiter) {
  const data = testData(5 * PIECE);
  const layout = new FileLayout([{ path: 'data.bin', length: data.length }], PIECE);
  const storage = new MemoryStorage(layout);
  storage.fill(data);
  const errors: Error[] = [];
  const uploads = new Uploads({
    picker: { have: () => true } as unknown as PiecePicker,
    layout, storage, closed: false,
    uploaded: () => undefined,
    readFailed: (e) => errors.push(e),
  }, { counters: new Counters(), settings: DEFAULT_SETTINGS, upLimiter: new RateLimiter(), tcpUpLimiter, limiterWake: () => undefined, readCache: cache });
  return { data, storage, uploads, errors };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('Uploads', () => {
  it('reads a piece from storage once for all of its blocks', async () => {
    const { data, storage, uploads } = seed();
    const { peer, sent } = stubPeer();
    for (let b = 0; b < 4; b++) uploads.request(peer, 1, b * BLOCK, BLOCK);
    await settle();
    for (let b = 0; b < 4; b++) uploads.request(peer, 1, b * BLOCK, BLOCK);
    await settle();
    expect(storage.stats.readOps).toBe(1);
    expect(sent).toHaveLength(8);
    for (const [index, offset, block] of sent) expect(block).toEqual(data.subarray(index * PIECE + offset, index * PIECE + offset + BLOCK));
  });

  it('refuses the requests and errs the torrent when the piece cannot be read, and reads it again on the next request', async () => {
    const { storage, uploads, errors } = seed();
    const { peer, refused } = stubPeer();
    const read = storage.read.bind(storage);
    let fail = true;
    storage.read = (p, o, l) => (fail ? Promise.reject(new Error('gone')) : read(p, o, l));
    uploads.request(peer, 0, 0, BLOCK);
    uploads.request(peer, 0, BLOCK, BLOCK);
    await settle();
    expect(refused).toEqual([[0, 0, BLOCK], [0, BLOCK, BLOCK]]);
    expect(errors.map((e) => e.message)).toEqual(['gone', 'gone']);
    fail = false;
    const { peer: again, sent } = stubPeer();
    uploads.request(again, 0, 0, BLOCK);
    await settle();
    expect(sent).toHaveLength(1);
  });
});

describe('ReadCache', () => {
  it('holds at most its capacity, dropping the oldest piece first', async () => {
    const cache = new ReadCache(4 * PIECE); // pieces of up to a quarter of it are read whole
    const { storage, uploads } = seed(cache);
    const { peer } = stubPeer();
    for (const piece of [0, 1, 2, 3, 4]) uploads.request(peer, piece, 0, BLOCK);
    await settle();
    expect(cache.size).toBe(4 * PIECE);
    expect(storage.stats.readOps).toBe(5);
    uploads.request(peer, 4, BLOCK, BLOCK);
    uploads.request(peer, 0, BLOCK, BLOCK);
    await settle();
    expect(storage.stats.readOps).toBe(6); // piece 4 from memory, piece 0 read again
  });

  it('forgets a closed torrent\'s pieces', async () => {
    const cache = new ReadCache();
    const { uploads } = seed(cache);
    uploads.request(stubPeer().peer, 0, 0, BLOCK);
    await settle();
    expect(cache.size).toBe(PIECE);
    uploads.close();
    expect(cache.size).toBe(0);
  });
});

// mixed_mode_algorithm's TCP peer class (libtorrent's m_tcp_peer_class): TCP peers' blocks pass its limit too.
describe('Uploads under the TCP peer class limit', () => {
  /** A uTP connection (from a fake network) for a stub peer's transport. */
  const utpTransport = () => {
    const net = new FakeNet();
    return connectPair(net, net.host('10.0.0.1'), net.host('10.0.0.2')).client;
  };

  it('holds a request from a TCP peer while one from a uTP peer is served', async () => {
    const tcpClass = new RateLimiter(1);
    const { uploads } = seed(undefined, tcpClass);
    const tcp = stubPeer();
    const utp = stubPeer(utpTransport());
    uploads.request(tcp.peer, 0, 0, BLOCK);
    uploads.request(utp.peer, 1, 0, BLOCK);
    await settle();
    expect(tcp.sent).toHaveLength(0);
    expect(utp.sent).toHaveLength(1);
    expect(uploads.queued()).toEqual({ requests: 1, bytes: BLOCK });
  });

  it('serves the held TCP request once the class is unlimited again', async () => {
    const tcpClass = new RateLimiter(1);
    const { uploads } = seed(undefined, tcpClass);
    const tcp = stubPeer();
    uploads.request(tcp.peer, 0, 0, BLOCK);
    tcpClass.setRate(0);
    expect(uploads.limiterTick()).toBe(false);
    await settle();
    expect(tcp.sent).toHaveLength(1);
  });
});
