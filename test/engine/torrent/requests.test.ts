import { describe, it, expect } from '@jest/globals';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { RateLimiter } from '../../../packages/engine/src/algo/bandwidth.js';
import { Counters, M } from '../../../packages/engine/src/stats/counters.js';
import type { PeerConnection } from '../../../packages/engine/src/peer/peer-connection.js';
import { BLOCK_DROPPED, BLOCK_REDUNDANT, BlockRequests, type RequestTorrent } from '../../../packages/engine/src/torrent/requests.js';
import { BLOCK_SIZE as BLOCK } from '../../../packages/engine/src/block-size.js';
import { fakePeer, sentRequests, wire } from '../../helpers/memory-torrent.js';
import type { FakeTransport } from '../../helpers/fake-transport.js';

/** A torrent of `numPieces` pieces of two blocks, its picker and requests, and peers that have everything. */
function setup(numPieces = 4, pieceLength = 2 * BLOCK, downRate = 0, tcpClassRate = 0) {
  const counters = new Counters();
  const picker = new PiecePicker(numPieces, pieceLength, numPieces * pieceLength, BLOCK, 1);
  const peers = new Set<PeerConnection>();
  let wakes = 0;
  const torrent: RequestTorrent & { paused: boolean; diskBacklogged: boolean } = {
    paused: false, sequential: false, diskBacklogged: false, peers, limiterWake: () => void wakes++,
  };
  const limiter = new RateLimiter(downRate);
  const requests = new BlockRequests(torrent, picker, counters, limiter, new RateLimiter(), new RateLimiter(tcpClassRate));
  let port = 7000;
  /** A seed that unchoked us, and we are interested in it. */
  const seed = (): { peer: PeerConnection; transport: FakeTransport } => {
    const p = fakePeer(counters, port++);
    p.peer.setPieceCount(numPieces);
    p.transport.feed(wire.handshake(true));
    p.transport.feed(wire.bitfieldAll(numPieces));
    picker.addPeerPieces(p.peer.pieces);
    peers.add(p.peer);
    p.peer.interested();
    p.transport.feed(wire.unchoke());
    return p;
  };
  return { counters, picker, torrent, requests, limiter, seed, wakes: () => wakes };
}

describe('BlockRequests', () => {
  it('asks an unchoked peer for as many blocks as its queue target, each once', () => {
    const { requests, seed } = setup();
    const { peer, transport } = seed();
    requests.request(peer);
    peer.flushBatch();
    const sent = sentRequests(transport);
    expect(sent).toHaveLength(peer.queueTarget);
    expect(new Set(sent.map(([i, o]) => `${i}/${o}`)).size).toBe(sent.length);
    expect(peer.outstanding.size).toBe(sent.length);
    for (const [, offset, length] of sent) {
      expect(offset % BLOCK).toBe(0);
      expect(length).toBe(BLOCK);
    }
  });

  it('asks a peer that chokes us for nothing', () => {
    const { requests, seed } = setup();
    const { peer, transport } = seed();
    transport.feed(wire.choke());
    requests.request(peer);
    expect(peer.outstanding.size).toBe(0);
  });

  it('asks for nothing while verified pieces wait for the disk', () => {
    const { requests, seed, torrent } = setup();
    const { peer } = seed();
    torrent.diskBacklogged = true;
    requests.request(peer);
    expect(peer.outstanding.size).toBe(0);
  });

  it('accepts a block it asked the peer for once, and counts a second copy as redundant', () => {
    const { requests, seed, counters, picker } = setup();
    const { peer, transport } = seed();
    requests.request(peer);
    peer.flushBatch();
    const [index, offset] = sentRequests(transport)[0]!;
    const id = requests.accept(peer, index, offset, BLOCK);
    expect(id).toBe(index * picker.blocksPerPiece + offset / BLOCK);
    expect(requests.accept(peer, index, offset, BLOCK)).toBe(BLOCK_REDUNDANT);
    expect(counters.get(M.net_recv_redundant_bytes)).toBe(BLOCK);
  });

  it('disconnects a peer that sends a block of the wrong length, and gives the block to another peer', () => {
    const { requests, seed } = setup(1);
    const a = seed();
    requests.request(a.peer);
    a.peer.flushBatch();
    const [index, offset] = sentRequests(a.transport)[0]!;
    expect(requests.accept(a.peer, index, offset, BLOCK - 1)).toBe(BLOCK_DROPPED);
    expect(a.peer.closed).toBe(true);
    const b = seed();
    requests.request(b.peer);
    b.peer.flushBatch();
    expect(sentRequests(b.transport).map(([i, o]) => `${i}/${o}`)).toContain(`${index}/${offset}`);
  });

  it('tolerates a few blocks never asked for, and disconnects a peer that keeps sending them', () => {
    const { requests, seed } = setup();
    const { peer } = seed();
    for (let i = 0; i < 8; i++) expect(requests.accept(peer, 0, 0, BLOCK)).toBe(BLOCK_REDUNDANT);
    expect(peer.closed).toBe(false);
    expect(requests.accept(peer, 0, 0, BLOCK)).toBe(BLOCK_DROPPED);
    expect(peer.closed).toBe(true);
  });

  it('gives a peer\'s requests back to the picker, and counts them as stragglers when they may still come', () => {
    const { requests, seed } = setup(2);
    const a = seed();
    requests.request(a.peer);
    const asked = a.peer.outstanding.size;
    requests.abortAll(a.peer, true);
    expect(a.peer.outstanding.size).toBe(0);
    expect(a.peer.stragglers).toBe(asked);
    const b = seed();
    requests.request(b.peer);
    expect(b.peer.outstanding.size).toBe(asked);
  });

  it('gives a rejected block back and counts the reject', () => {
    const { requests, seed, counters } = setup();
    const { peer, transport } = seed();
    requests.request(peer);
    peer.flushBatch();
    const [index, offset] = sentRequests(transport)[0]!;
    requests.rejected(peer, index, offset);
    expect(peer.outstanding.size).toBe(peer.queueTarget - 1);
    expect(counters.get(M.peer_piece_rejects)).toBe(1);
  });

  it('under a download limit asks for what the bandwidth allows, then waits for the limiter', () => {
    // The limiter's clock is held where it started (no refill): a full bucket of two blocks.
    const start = Date.now();
    const { requests, seed, wakes } = setup(8, 2 * BLOCK, 2 * BLOCK);
    const { peer } = seed();
    peer.queueTarget = 8;
    requests.request(peer, start);
    expect(peer.outstanding.size).toBe(2);
    requests.abortAll(peer, false);
    requests.request(peer, start);
    expect(peer.outstanding.size).toBe(0);
    expect(requests.throttled).toBe(true);
    expect(wakes()).toBe(1);
  });

  it('asks a TCP peer for what the TCP peer class download limit allows (mixed_mode_algorithm), then waits', () => {
    const start = Date.now();
    const { requests, seed, wakes } = setup(8, 2 * BLOCK, 0, 2 * BLOCK);
    const { peer } = seed();
    peer.queueTarget = 8;
    requests.request(peer, start);
    expect(peer.outstanding.size).toBe(2);
    requests.abortAll(peer, false);
    requests.request(peer, start);
    expect(peer.outstanding.size).toBe(0);
    expect(requests.throttled).toBe(true);
    expect(wakes()).toBe(1);
  });

  it('in end-game cancels the duplicate request at the other peer once one copy arrived', () => {
    const { requests, seed, counters } = setup(1, BLOCK);
    const a = seed();
    requests.request(a.peer);
    const b = seed();
    requests.request(b.peer); // nothing else to ask for: the busy block, since b has nothing outstanding
    expect(b.peer.outstanding.size).toBe(1);
    const id = requests.accept(a.peer, 0, 0, BLOCK);
    expect(id).toBe(0);
    requests.cancelElsewhere(a.peer, id, 0, 0, BLOCK);
    expect(b.peer.outstanding.size).toBe(0);
    expect(counters.get(M.ses_waste_piece_cancelled)).toBe(BLOCK);
  });
});
