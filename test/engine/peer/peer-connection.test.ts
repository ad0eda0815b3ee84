import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { PeerConnection, type PeerListener } from '../../../packages/engine/src/peer/peer-connection.js';
import { Counters, M } from '../../../packages/engine/src/stats/counters.js';
import { BufferBudget } from '../../../packages/engine/src/wire/codec.js';
import { FakeTransport } from '../../helpers/fake-transport.js';

const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const msg = (id: number, ...payload: number[]): number[] => [...u32(1 + payload.length), id, ...payload];
const block = (index: number, offset: number, len: number): number[] => {
  const data = Array.from({ length: len }, (_, i) => (index * 31 + offset + i * 7) & 255);
  return msg(7, ...u32(index), ...u32(offset), ...data);
};
/** A plain peer's handshake: reserved bits for the extension protocol and (if `fast`) the fast extension. */
const handshake = (fast = false): number[] =>
  [19, ...Buffer.from('BitTorrent protocol'), 0, 0, 0, 0, 0, 0x10, 0, fast ? 0x04 : 0, ...new Array(20).fill(0xab), ...new Array(20).fill(0xcd)];

/** The handshake, then a stream mixing blocks with other messages and a keep-alive. */
function stream(): Uint8Array {
  return Uint8Array.from([
    ...handshake(),
    ...msg(5, 0b10100000), // bitfield: pieces 0 and 2
    ...msg(1), // unchoke
    ...block(0, 0, 40),
    ...u32(0), // keep-alive
    ...msg(4, ...u32(3)), // have 3
    ...block(0, 40, 40),
    ...block(2, 0, 17),
    ...msg(4, ...u32(5)),
    ...block(9, 16384, 3),
  ]);
}

type Seen = (string | number[])[];

function listener(seen: Seen, overrides: Partial<PeerListener> = {}): PeerListener {
  const none = (): void => undefined;
  return {
    bitfield: () => seen.push('bitfield'), haveAll: none, haveNone: none, have: (i) => seen.push(`have ${i}`), choke: none,
    unchoke: () => seen.push('unchoke'), interested: none, notInterested: none, request: none,
    piece: (index, offset, b) => seen.push([index, offset, ...b]), reject: none, extendedHandshake: none, metadata: none,
    hashRequest: none, hashes: none, hashReject: none,
    ...overrides,
  };
}

function connection(counters = new Counters(), budget?: BufferBudget): { peer: PeerConnection; t: FakeTransport; seen: Seen } {
  const t = new FakeTransport();
  const peer = new PeerConnection(t, 'outgoing', counters, budget);
  const seen: Seen = [];
  peer.listener = listener(seen);
  return { peer, t, seen };
}

describe('PeerConnection reading', () => {
  it('delivers the same blocks and messages in order whatever the read boundaries', () => {
    const data = stream();
    const results: Seen[] = [];
    for (const chunk of [1, 2, 3, 5, 13, 17, 64, 100, data.length]) {
      const { t, seen } = connection();
      t.feed(data, chunk);
      results.push(seen);
    }
    expect(results[0]).toEqual([
      'bitfield', 'unchoke', [0, 0, ...block(0, 0, 40).slice(13)], 'have 3', [0, 40, ...block(0, 40, 40).slice(13)],
      [2, 0, ...block(2, 0, 17).slice(13)], 'have 5', [9, 16384, ...block(9, 16384, 3).slice(13)],
    ]);
    for (const r of results) expect(r).toEqual(results[0]);
  });

  it('keeps its own copy of the peer\'s bitfield, not a view of the reused read buffer', () => {
    const { peer, t } = connection();
    t.feed(stream(), 1000); // the scratch buffer is overwritten with 0xee after the read
    // Pieces 0 and 2 from the bitfield, 3 and 5 from the HAVEs that follow it.
    expect([0, 1, 2, 3, 4, 5].map((i) => peer.pieces.get(i))).toEqual([true, false, true, true, false, true]);
  });

  it('parses nothing more once the connection is closed, even from the read being parsed', () => {
    const { peer, t, seen } = connection();
    peer.listener = listener(seen, { bitfield: () => peer.close('closed by the test') });
    t.feed(stream(), 1000);
    expect(seen).toEqual([]);
    expect(t.closedWith).toBe('closed by the test');
  });

  it.each([
    ['with the handshake', 1000],
    ['after the handshake, in a later read', 79],
    ['cut between two reads', 81],
  ])('disconnects a peer whose length prefix exceeds the limit (%s), counting it once', (_name, chunk) => {
    const counters = new Counters();
    const { peer, t } = connection(counters);
    const data = stream();
    const evil = Uint8Array.from([...data.subarray(0, 79), ...u32(0x7fffffff), 7, 0, 0, 0, ...u32(0x7fffffff)]);
    t.feed(evil, chunk);
    expect(peer.closed).toBe(true);
    expect(peer.closeReason).toMatch(/exceeds the limit/);
    expect(counters.get(M.peer_invalid_arg_peers)).toBe(1);
  });
});

describe('PeerConnection against hostile peers', () => {
  /** Feeds the handshake (fast extension on) then `rest`; returns the reason the connection ended ('' if open). */
  function after(rest: number[], pieces = 10): { reason: string; counters: Counters } {
    const counters = new Counters();
    const { peer, t } = connection(counters);
    peer.setPieceCount(pieces);
    peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
    t.feed(Uint8Array.from([...handshake(true), ...rest]));
    return { reason: peer.closed ? peer.closeReason : '', counters };
  }

  it.each([
    ['a choke with a payload', msg(0, 1), /choke message of 2 bytes/],
    ['a bitfield of the wrong length', msg(5, 0, 0, 0), /bitfield of 3 bytes for 10 pieces/],
    ['a bitfield with spare bits set', msg(5, 0, 0b00100000), /spare bits/],
    ['a second bitfield', [...msg(5, 0, 0), ...msg(5, 0, 0)], /second bitfield/],
    ['have all after a bitfield', [...msg(5, 0, 0), ...msg(14)], /second bitfield/],
    ['a have for piece 99999', msg(4, ...u32(99999)), /have for piece 99999/],
    ['a block of piece 99999', block(99999, 0, 10), /piece for piece 99999/],
    ['a request for piece 99999', msg(6, ...u32(99999), ...u32(0), ...u32(16384)), /request for piece 99999/],
    ['a block larger than 16 KiB', block(0, 0, 16385), /block of 16385 bytes/],
    ['an extended handshake that is l-3:e', [...u32(7), 20, 0, ...Buffer.from('l-3:e')], /invalid bencode/],
    ['an extended handshake that is not a dictionary', [...u32(5), 20, 0, ...Buffer.from('i1e')], /not a dictionary/],
  ])('disconnects a peer that sends %s, counting it', (_name, rest, reason) => {
    const { reason: got, counters } = after(rest);
    expect(got).toMatch(reason);
    expect(counters.get(M.peer_invalid_arg_peers)).toBe(1);
  });

  it('disconnects a peer that sends fast-extension messages without having offered it', () => {
    const counters = new Counters();
    const { peer, t } = connection(counters);
    peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
    t.feed(Uint8Array.from([...handshake(false), ...msg(14)]));
    expect(peer.closeReason).toMatch(/have all without the fast extension/);
    expect(counters.get(M.peer_invalid_arg_peers)).toBe(1);
  });

  it('checks haves and a bitfield that came before the piece count once the count is known', () => {
    const { peer, t } = connection();
    t.feed(Uint8Array.from([...handshake(), ...msg(4, ...u32(40))]));
    expect(peer.closed).toBe(false);
    peer.setPieceCount(20);
    expect(peer.closeReason).toMatch(/piece 40 of a torrent of 20 pieces/);
  });

  it('does not pin a partial message beyond its cap: a 2 MiB message is refused at its length prefix', () => {
    const counters = new Counters();
    const { peer, t } = connection(counters);
    t.feed(Uint8Array.from([...handshake(), ...u32(2 * 1024 * 1024), 5, 0, 0, 0]));
    expect(peer.closeReason).toMatch(/exceeds the limit/);
  });

  it('does not pin a partial extended message beyond 64 KiB', () => {
    const { peer, t } = connection();
    t.feed(Uint8Array.from([...handshake(), ...u32(100_000), 20, 1, 0, 0]));
    // The general cap (64 KiB, the metadata limit being lower) refuses it from its length prefix alone.
    expect(peer.closeReason).toMatch(/message (20 )?of 100000 bytes exceeds the limit of 65536/);
  });

  it('closes a connection whose partial message would take the session past its total cap (peer.no_memory_peers)', () => {
    const counters = new Counters();
    const budget = new BufferBudget(40_000); // room for two connections' 16 KiB carry buffers, not three
    const peers = [0, 1, 2].map(() => connection(counters, budget));
    for (const { t } of peers) t.feed(Uint8Array.from([...handshake(), ...block(0, 0, 100).slice(0, 50)]));
    expect(peers.map(({ peer }) => peer.closed)).toEqual([false, false, true]);
    expect(peers[2]!.peer.closeReason).toMatch(/cap/);
    expect(counters.get(M.peer_no_memory_peers)).toBe(1);
    expect(counters.get(M.peer_invalid_arg_peers)).toBe(0);
    // A closed connection gives its share back.
    peers[0]!.peer.close('done');
    const late = connection(counters, budget);
    late.t.feed(Uint8Array.from([...handshake(), ...block(0, 0, 100).slice(0, 50)]));
    expect(late.peer.closed).toBe(false);
  });
});

describe('PeerConnection writing', () => {
  it('sends requests and haves in one write, in the order they were queued, before any other message', async () => {
    const counters = new Counters();
    const { peer, t } = connection(counters);
    peer.request(1, 0, 16384);
    peer.request(1, 16384, 16384);
    peer.have(7);
    peer.request(2, 0, 100);
    peer.interested(); // not batched: the batch goes first
    await Promise.resolve();
    expect(t.sent()).toEqual(Buffer.from([
      ...msg(6, ...u32(1), ...u32(0), ...u32(16384)), ...msg(6, ...u32(1), ...u32(16384), ...u32(16384)),
      ...msg(4, ...u32(7)), ...msg(6, ...u32(2), ...u32(0), ...u32(100)), ...msg(2),
    ]));
    expect(t.writes.length).toBe(2); // the batch, then interested
    expect(counters.get(M.ses_num_outgoing_request)).toBe(3);
    expect(counters.get(M.ses_num_outgoing_have)).toBe(1);
  });

  it('answers a request with one corked write of header and block, and not once the peer cancelled it', () => {
    const { peer, t } = connection();
    peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
    t.feed(Uint8Array.from(handshake(true)));
    peer.unchoke(Date.now(), false);
    t.writes.length = 0;
    t.feed(Uint8Array.from([...msg(6, ...u32(1), ...u32(0), ...u32(4)), ...msg(6, ...u32(1), ...u32(4), ...u32(4))]));
    t.feed(Uint8Array.from(msg(8, ...u32(1), ...u32(4), ...u32(4)))); // cancel the second
    expect(peer.sendBlock(1, 0, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    expect(peer.sendBlock(1, 4, Uint8Array.of(5, 6, 7, 8))).toBe(false);
    expect(t.sent()).toEqual(Buffer.from(msg(7, ...u32(1), ...u32(0), 1, 2, 3, 4)));
    expect(t.corked).toBe(0);
  });

  it('gives every block its own header, intact while a queue still holds it (headers come from a shared slab)', () => {
    /** Keeps what it is given without copying, as a socket's write queue does until the bytes leave. */
    class QueueingTransport extends FakeTransport {
      readonly held: Uint8Array[] = [];
      override write(data: Uint8Array, flushed?: () => void): void {
        this.held.push(data);
        super.write(data, flushed);
      }
    }
    const t = new QueueingTransport();
    const peer = new PeerConnection(t, 'outgoing', new Counters());
    peer.listener = listener([]);
    peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
    t.feed(Uint8Array.from(handshake(true)));
    peer.unchoke(Date.now(), false);
    const data = Uint8Array.of(9, 9, 9, 9);
    const blocks = 10_000; // more headers than one slab holds, in rounds below the peer's request limit
    for (let round = 0; round < blocks / 1000; round++) {
      const requests: number[] = [];
      for (let i = round * 1000; i < (round + 1) * 1000; i++) requests.push(...msg(6, ...u32(i), ...u32(4 * i), ...u32(4)));
      t.feed(Uint8Array.from(requests));
      for (let i = round * 1000; i < (round + 1) * 1000; i++) expect(peer.sendBlock(i, 4 * i, data)).toBe(true);
    }
    const headers = t.held.filter((w) => w.length === 13);
    expect(headers.length).toBe(blocks);
    headers.forEach((h, i) => expect([...h]).toEqual(msg(7, ...u32(i), ...u32(4 * i)).map((b, j) => (j === 3 ? b + 4 : b))));
  });

  it('with the fast extension, rejects the pending requests when it chokes the peer', () => {
    const { peer, t } = connection();
    peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
    t.feed(Uint8Array.from(handshake(true)));
    peer.unchoke(Date.now(), false);
    t.feed(Uint8Array.from(msg(6, ...u32(3), ...u32(0), ...u32(16384))));
    t.writes.length = 0;
    peer.choke();
    expect(t.sent()).toEqual(Buffer.from([...msg(0), ...msg(16, ...u32(3), ...u32(0), ...u32(16384))]));
    expect(peer.peerRequestCount).toBe(0);
  });
});

describe('PeerConnection robustness', () => {
  it('a fault of ours while handling a message ends that connection only (peer.error_peers), nothing escapes', () => {
    const counters = new Counters();
    const { peer, t, seen } = connection(counters);
    peer.listener = listener(seen, { unchoke: () => { throw new TypeError('boom'); } });
    expect(() => t.feed(stream())).not.toThrow();
    expect(peer.closeReason).toBe('internal error handling a message: boom');
    expect(counters.get(M.peer_error_peers)).toBe(1);
  });

  it('any bytes after a handshake end in messages or a close, never an exception (3,000 cases, seed printed on failure)', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 0x7fffffff);
    const frame = fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 22 }), fc.uint8Array({ maxLength: 30 }))
      .map(([len, id, payload]) => [...u32(len), id, ...payload]);
    const ext = fc.constantFrom('d1:md6:ut_pexi1e11:ut_metadatai2ee1:v3:abc4:reqqi5e1:pi6881ee', 'l-3:e', 'd8:msg_typei0e5:piecei0ee', 'i-1e')
      .chain((text) => fc.integer({ min: 0, max: 3 }).map((id) => [...u32(2 + text.length), 20, id, ...Buffer.from(text)]));
    try {
      fc.assert(fc.property(fc.array(fc.oneof(frame, ext), { maxLength: 10 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), (frames, pieces, fast) => {
        const { peer, t } = connection();
        if (pieces > 0) peer.setPieceCount(pieces);
        peer.sendHandshake(new Uint8Array(20), new Uint8Array(20));
        t.feed(Uint8Array.from([...handshake(fast), ...frames.flat()]), 7);
        expect(peer.closed ? peer.closeReason : 'open').not.toMatch(/internal error/);
      }), { seed, numRuns: 3000 });
    } catch (e) {
      throw new Error(`FUZZ_SEED=${seed}\n${(e as Error).message}`);
    }
  });
});
