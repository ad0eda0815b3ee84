// Piece deadlines on a whole Torrent over memory storage: which blocks a peer is asked for first.
import { describe, it, expect } from '@jest/globals';
import { RateLimiter } from '../../../packages/engine/src/algo/bandwidth.js';
import { DiskBufferPool } from '../../../packages/engine/src/disk/disk-buffer-pool.js';
import { normalizeAddParams } from '../../../packages/engine/src/session/add-torrent-params.js';
import { DEFAULT_SETTINGS } from '../../../packages/engine/src/session/settings.js';
import { Counters } from '../../../packages/engine/src/stats/counters.js';
import { MemoryStorage } from '../../../packages/engine/src/storage/memory-storage.js';
import { Torrent, type TorrentHost } from '../../../packages/engine/src/torrent/torrent.js';
import { BLOCK_SIZE as BLOCK } from '../../../packages/engine/src/block-size.js';
import { InlineDiskIo, fakePeer, infoFor, sentRequests, startWithSeedPeer, testData, wire } from '../../helpers/memory-torrent.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function downloading(numPieces = 40) {
  const pieceLength = 4 * BLOCK;
  const data = testData(numPieces * pieceLength, 11);
  const info = infoFor(data, pieceLength);
  const counters = new Counters();
  const host: TorrentHost = {
    counters, settings: DEFAULT_SETTINGS, diskIo: new InlineDiskIo(), bufferPool: new DiskBufferPool(),
    peerId: new Uint8Array(20), listenPort: 0, emit: () => undefined,
    connect: () => undefined, requestRechoke: () => undefined,
    downLimiter: new RateLimiter(), upLimiter: new RateLimiter(), limiterWake: () => undefined,
    openStorage: (_savePath, layout) => new MemoryStorage(layout),
  };
  const torrent = new Torrent(host, normalizeAddParams({ save_path: '/nowhere', info_hash: info.infoHash }), info, info.infoHash, null, info.name);
  const { peer, transport } = await startWithSeedPeer(torrent, info, counters);
  return { data, info, torrent, peer, transport, counters };
}

/** Another seed peer on the torrent, unchoked, with a queue target of `queueTarget`. */
async function secondSeed(torrent: Torrent, numPieces: number, counters: Counters, queueTarget: number) {
  const { peer, transport } = fakePeer(counters, 6882);
  peer.setPieceCount(numPieces);
  transport.feed(wire.handshake(true));
  torrent.attachPeer(peer);
  transport.feed(wire.bitfieldAll(numPieces));
  peer.queueTarget = queueTarget;
  transport.feed(wire.unchoke());
  await turn();
  peer.flushBatch();
  return { peer, transport };
}

const reader = {};

/** A download with a deep queue, `owner`'s non-urgent window over pieces 20..29 asked for (unchoked, flushed): a
 * shallow queue's worth (4 + 8 blocks: pieces 20..22) is requested. */
async function readAheadOf(owner: object) {
  const { torrent, peer, transport } = await downloading();
  peer.queueTarget = 40;
  const window = new Map<number, number>();
  for (let p = 20; p < 30; p++) window.set(p, Date.now() + 10_000 + p);
  torrent.setPieceDeadlines(owner, window, true, false);
  transport.feed(wire.unchoke());
  await turn();
  peer.flushBatch();
  return { torrent, peer, transport, window };
}

/** The [index, offset, length] of every message of type `id` in these bytes (no handshake). */
function messagesOf(b: Buffer, id: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  let at = 0;
  while (at + 4 <= b.length) {
    const len = b.readUInt32BE(at);
    if (len >= 13 && b[at + 4] === id) out.push([b.readUInt32BE(at + 5), b.readUInt32BE(at + 9), b.readUInt32BE(at + 13)]);
    at += 4 + len;
  }
  return out;
}

describe('piece deadlines on a torrent', () => {
  it('a time-critical piece is requested before any other once the peer unchokes', async () => {
    const { torrent, peer, transport } = await downloading();
    torrent.setPieceDeadline(reader, 33, Date.now());
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const asked = sentRequests(transport);
    expect(asked.slice(0, 4).map(([i]) => i)).toEqual([33, 33, 33, 33]);
  });

  it('a deadline set while the queue is full is requested at once, beyond the queue target', async () => {
    const { torrent, peer, transport } = await downloading();
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const asked = sentRequests(transport);
    const before = asked.length;
    expect(before).toBeGreaterThan(0);
    const target = [...Array(40).keys()].find((p) => !asked.some(([i]) => i === p))!;
    torrent.setPieceDeadline(reader, target, Date.now() + 10_000);
    peer.flushBatch();
    const after = sentRequests(transport).slice(before);
    expect(after.map(([i]) => i)).toEqual([target, target, target, target]);
  });

  it('an urgent deadline (a seek) cancels the requests queued deep at a peer, newest first, and asks for the critical blocks', async () => {
    const { torrent, peer, transport } = await downloading();
    peer.queueTarget = 40;
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const before = sentRequests(transport);
    expect(before).toHaveLength(40);
    const sentBefore = transport.sent().length;
    // A piece nobody asked for yet (the picker's order is random).
    const asked = new Set(before.map(([i]) => i));
    const target = [...Array(40).keys()].find((p) => !asked.has(p))!;
    torrent.setPieceDeadline(reader, target, Date.now());
    peer.flushBatch();
    const cancels = messagesOf(transport.sent().subarray(sentBefore), 8);
    expect(cancels).toHaveLength(36);
    expect(cancels[0]).toEqual(before[39]); // the newest first
    expect(peer.outstanding.size).toBe(4 + 4);
    expect(sentRequests(transport).slice(40).map(([i]) => i)).toEqual([target, target, target, target]);
  });

  it('a read-ahead window is asked of a peer only a shallow queue deep (a seek would wait behind the rest)', async () => {
    const { transport } = await readAheadOf(reader);
    expect(sentRequests(transport).map(([i]) => i)).toEqual([20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22]);
  });

  it("an urgent deadline keeps the requests of its owner's read-ahead (on the wire already)", async () => {
    const { torrent, peer, transport } = await readAheadOf(reader);
    expect(new Set(sentRequests(transport).map(([i]) => i))).toEqual(new Set([20, 21, 22]));
    const sentBefore = transport.sent().length;
    torrent.setPieceDeadline(reader, 39, Date.now());
    peer.flushBatch();
    expect(messagesOf(transport.sent().subarray(sentBefore), 8)).toHaveLength(0);
    expect(messagesOf(transport.sent().subarray(sentBefore), 6).map(([i]) => i)).toEqual([39, 39, 39, 39]);
  });

  it("an urgent deadline cancels another owner's read-ahead beyond the shallow queue (a reader closing as the player seeks)", async () => {
    const { torrent, peer, transport } = await readAheadOf({});
    expect(new Set(sentRequests(transport).map(([i]) => i))).toEqual(new Set([20, 21, 22]));
    const sentBefore = transport.sent().length;
    torrent.setPieceDeadline(reader, 39, Date.now());
    peer.flushBatch();
    expect(messagesOf(transport.sent().subarray(sentBefore), 8)).toHaveLength(12 - 4);
    expect(messagesOf(transport.sent().subarray(sentBefore), 6).slice(0, 4).map(([i]) => i)).toEqual([39, 39, 39, 39]);
  });

  it('an urgent piece is shared out among the peers that have it, each asked for a part', async () => {
    const { torrent, peer, transport, counters } = await downloading();
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const second = await secondSeed(torrent, 40, counters, 4);
    const asked = new Set([...sentRequests(transport), ...sentRequests(second.transport)].map(([i]) => i));
    const target = [...Array(40).keys()].find((p) => !asked.has(p))!;
    const before = [sentRequests(transport).length, sentRequests(second.transport).length];
    torrent.setPieceDeadline(reader, target, Date.now() + 10_000);
    peer.flushBatch();
    second.peer.flushBatch();
    const blocksOf = (t: typeof transport, from: number): number[] => sentRequests(t).slice(from).filter(([i]) => i === target).map(([, o]) => o / BLOCK);
    expect(blocksOf(transport, before[0]!)).toHaveLength(2);
    expect(blocksOf(second.transport, before[1]!)).toHaveLength(2);
    expect(new Set([...blocksOf(transport, before[0]!), ...blocksOf(second.transport, before[1]!)])).toEqual(new Set([0, 1, 2, 3]));
  });

  /** Two seeds share a seek's piece due at `due`; the first peer then sends one block of its part. How many of
   * the piece's blocks was the first peer asked for? */
  async function sharedThenOneBlock(due: number) {
    const { data, info, torrent, peer, transport, counters } = await downloading();
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const second = await secondSeed(torrent, 40, counters, 4);
    const asked = new Set([...sentRequests(transport), ...sentRequests(second.transport)].map(([i]) => i));
    const target = [...Array(40).keys()].find((p) => !asked.has(p))!;
    torrent.setPieceDeadline(reader, target, due);
    peer.flushBatch();
    const mine = sentRequests(transport).filter(([i]) => i === target);
    const before = sentRequests(transport).length;
    const [, offset] = mine[0]!;
    const at = target * info.pieceLength + offset;
    transport.feed(wire.piece(target, offset, data.subarray(at, at + BLOCK)));
    await turn();
    peer.flushBatch();
    return mine.length + sentRequests(transport).slice(before).filter(([i]) => i === target).length;
  }

  it('a piece due now is not duplicated to a second peer at once (a seek\'s piece would go out three times)', async () => {
    expect(await sharedThenOneBlock(Date.now())).toBe(2); // its part only
  });

  it('a piece well past its deadline has its blocks asked of a second peer too', async () => {
    expect(await sharedThenOneBlock(Date.now() - 1000)).toBe(4); // its part and the other peer's
  });

  it('queues stay shallow for a while after the last deadline goes (the next seek comes)', async () => {
    const { torrent, peer, transport } = await readAheadOf(reader);
    torrent.clearPieceDeadlines(reader);
    const before = sentRequests(transport).length;
    // A block arrives: its refill stays within the shallow queue instead of going 40 deep.
    const [index, offset] = sentRequests(transport)[0]!;
    transport.feed(wire.piece(index, offset, new Uint8Array(BLOCK)));
    await turn();
    peer.flushBatch();
    expect(sentRequests(transport).length - before).toBe(0);
    expect(peer.outstanding.size).toBe(11);
  });

  it('a non-urgent window move cancels nothing', async () => {
    const { torrent, peer, transport } = await downloading();
    peer.queueTarget = 40;
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    const sentBefore = transport.sent().length;
    torrent.setPieceDeadlines(reader, new Map([[39, Date.now() + 5000]]), true, false);
    peer.flushBatch();
    expect(messagesOf(transport.sent().subarray(sentBefore), 8)).toHaveLength(0);
  });

  it('a piece of a skipped file with a deadline becomes wanted and is requested', async () => {
    const { torrent, peer, transport } = await downloading();
    torrent.setFilePriorities([0]);
    expect(torrent.isFinished).toBe(true);
    torrent.setPieceDeadline(reader, 5, Date.now());
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    expect(sentRequests(transport).map(([i]) => i)).toEqual([5, 5, 5, 5]);
    expect(torrent.isFinished).toBe(false);
  });

  it('a verified piece is no longer time-critical', async () => {
    const { data, info, torrent, peer, transport } = await downloading();
    torrent.setPieceDeadline(reader, 2, Date.now());
    transport.feed(wire.unchoke());
    await turn();
    peer.flushBatch();
    for (let b = 0; b < 4; b++) {
      const at = 2 * info.pieceLength + b * BLOCK;
      transport.feed(wire.piece(2, b * BLOCK, data.subarray(at, at + BLOCK)));
    }
    for (let i = 0; i < 5 && torrent.pieceDeadline(2) !== undefined; i++) await turn();
    expect(torrent.pieceDeadline(2)).toBeUndefined();
  });

  it('clearing an owner\'s deadlines leaves other owners\' deadlines', async () => {
    const { torrent } = await downloading();
    const other = {};
    torrent.setPieceDeadline(reader, 3, 100);
    torrent.setPieceDeadline(other, 3, 500);
    torrent.clearPieceDeadlines(reader);
    expect(torrent.pieceDeadline(3)).toBe(500);
  });

  it('refuses a piece outside the torrent', async () => {
    const { torrent } = await downloading();
    expect(() => torrent.setPieceDeadline(reader, 40, 0)).toThrow(/not in 0..39/);
  });
});
