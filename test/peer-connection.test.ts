import { describe, it, expect, afterEach } from '@jest/globals';
import net from 'node:net';
import { PeerConnection } from '../packages/engine/src/peer-connection.js';
import { Counters, M } from '../packages/engine/src/counters.js';

/** A connected pair of TCP sockets on 127.0.0.1: `ours` for the PeerConnection, `theirs` to read what it sends. */
async function socketPair(): Promise<{ ours: net.Socket; theirs: net.Socket; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const ours = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const theirs = await accepted;
  await new Promise<void>((r) => (ours.readyState === 'open' ? r() : ours.once('connect', () => r())));
  return { ours, theirs, close: () => { ours.destroy(); theirs.destroy(); server.close(); } };
}

const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const msg = (id: number, ...payload: number[]): number[] => [...u32(1 + payload.length), id, ...payload];
const block = (index: number, offset: number, len: number): number[] => {
  const data = Array.from({ length: len }, (_, i) => (index * 31 + offset + i * 7) & 255);
  return msg(7, ...u32(index), ...u32(offset), ...data);
};

/** The handshake a plain peer sends, then a stream mixing blocks with other messages and a keep-alive. */
function stream(): Uint8Array {
  const hs = [19, ...Buffer.from('BitTorrent protocol'), 0, 0, 0, 0, 0, 0x10, 0, 0, ...new Array(20).fill(0xab), ...new Array(20).fill(0xcd)];
  return Uint8Array.from([
    ...hs,
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

/** Feeds the stream in `chunk`-byte reads through one scratch buffer that is overwritten after each read. */
function parse(peer: PeerConnection, data: Uint8Array, chunk: number): Seen {
  const seen: Seen = [];
  peer.onPiece = (index, offset, b) => seen.push([index, offset, ...b]);
  peer.wire.on('unchoke', () => seen.push('unchoke'));
  peer.wire.on('keep-alive', () => seen.push('keep-alive'));
  peer.wire.on('have', (i: number) => seen.push(`have ${i}`));
  // A Buffer, as a socket's read buffer is: its slice() is a view, not a copy.
  const scratch = Buffer.alloc(chunk);
  for (let at = 0; at < data.length; at += chunk) {
    const part = data.subarray(at, at + chunk);
    scratch.set(part);
    peer.onRead(scratch.subarray(0, part.length));
    scratch.fill(0xee); // what the next socket read does to a shared buffer
  }
  return seen;
}

const pairs: { close(): void }[] = [];
afterEach(() => {
  for (const p of pairs.splice(0)) p.close();
});

describe('PeerConnection parsing', () => {
  it('delivers the same blocks and messages in order whatever the read boundaries', async () => {
    const data = stream();
    const results: Seen[] = [];
    for (const chunk of [1, 2, 3, 5, 13, 17, 64, 100, data.length]) {
      const pair = await socketPair();
      pairs.push(pair);
      const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, new Counters(), true);
      results.push(parse(peer, data, chunk));
    }
    expect(results[0]!.length).toBe(8);
    expect(results[0]).toEqual([
      'unchoke', [0, 0, ...block(0, 0, 40).slice(13)], 'keep-alive', 'have 3', [0, 40, ...block(0, 40, 40).slice(13)],
      [2, 0, ...block(2, 0, 17).slice(13)], 'have 5', [9, 16384, ...block(9, 16384, 3).slice(13)],
    ]);
    for (const r of results) expect(r).toEqual(results[0]);
  });

  it('keeps its own copy of the peer\'s bitfield, not a view of the reused read buffer', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, new Counters(), true);
    parse(peer, stream(), 1000); // the scratch buffer is overwritten with 0xee after the read
    // Pieces 0 and 2 from the bitfield, 3 and 5 from the HAVEs that follow it.
    expect([0, 1, 2, 3, 4, 5].map((i) => peer.wire.peerPieces.get(i))).toEqual([true, false, true, true, false, true]);
  });

  it('parses nothing more once the connection is closed, even from the read being parsed', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, new Counters(), true);
    peer.wire.on('bitfield', () => peer.close('closed by the test'));
    const seen = parse(peer, stream(), 1000);
    expect(seen).toEqual([]);
  });

  it.each([
    ['with the handshake', 1000],
    ["after the handshake, in a later read", 79],
    ["cut between two reads", 81],
  ])('disconnects a peer whose length prefix exceeds the limit (%s), counting it once', async (_name, chunk) => {
    const pair = await socketPair();
    pairs.push(pair);
    const counters = new Counters();
    const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, counters, true);
    const data = stream();
    const evil = Uint8Array.from([...data.subarray(0, 79), ...u32(0x7fffffff), 7, 0, 0, 0, ...u32(0x7fffffff)]);
    parse(peer, evil, chunk);
    expect(peer.closed).toBe(true);
    expect(peer.closeReason).toMatch(/exceeds the limit/);
    expect(counters.get(M.peer_invalid_arg_peers)).toBe(1);
  });
});

describe('PeerConnection reading', () => {
  it('asks to pause the socket after half a MiB in one turn of the event loop, and resumes it on the next', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, new Counters(), true);
    const data = stream();
    expect(peer.onRead(data)).toBe(true);
    const chunk = new Uint8Array(64 * 1024); // keep-alives: parsed and dropped
    const answers: boolean[] = [];
    for (let i = 0; i < 8; i++) answers.push(peer.onRead(chunk));
    expect(answers).toEqual([true, true, true, true, true, true, true, false]);
    let resumed = false;
    pair.ours.resume = ((orig) => function (this: net.Socket) { resumed = true; return orig.call(this); })(pair.ours.resume);
    await new Promise((r) => setImmediate(r));
    expect(resumed).toBe(true);
    expect(peer.closed).toBe(false);
  });

  it('pauses a streamed (incoming) socket the same way, and reads everything in the end', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const peer = new PeerConnection(pair.ours, 'incoming', '127.0.0.1', 1, new Counters());
    let pauses = 0;
    pair.ours.pause = ((orig) => function (this: net.Socket) { pauses++; return orig.call(this); })(pair.ours.pause);
    let keepAlives = 0;
    peer.wire.on('keep-alive', () => keepAlives++);
    const n = 512 * 1024; // 2 MiB of keep-alives after the handshake
    pair.theirs.write(stream().subarray(0, 68));
    pair.theirs.write(new Uint8Array(4 * n));
    for (let i = 0; i < 200 && keepAlives < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(keepAlives).toBe(n);
    expect(pauses).toBeGreaterThan(0);
  });
});

describe('PeerConnection requests', () => {
  it('sends requests and haves in one write, in the order they were queued, before any other message', async () => {
    const pair = await socketPair();
    pairs.push(pair);
    const counters = new Counters();
    const peer = new PeerConnection(pair.ours, 'outgoing', '127.0.0.1', 1, counters, true);
    const got: Buffer[] = [];
    pair.theirs.on('data', (d: Buffer) => got.push(d));
    let writes = 0;
    pair.ours.write = ((orig) => function (this: net.Socket, ...a: unknown[]) { writes++; return (orig as (...x: unknown[]) => boolean).apply(this, a); })(pair.ours.write);
    peer.request(1, 0, 16384);
    peer.request(1, 16384, 16384);
    peer.have(7);
    peer.request(2, 0, 100);
    peer.interested(); // not batched: the batch goes first
    const want = Buffer.from([
      ...msg(6, ...u32(1), ...u32(0), ...u32(16384)), ...msg(6, ...u32(1), ...u32(16384), ...u32(16384)),
      ...msg(4, ...u32(7)), ...msg(6, ...u32(2), ...u32(0), ...u32(100)), ...msg(2),
    ]);
    for (let i = 0; i < 100 && Buffer.concat(got).length < want.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(got)).toEqual(want);
    expect(writes).toBe(2); // the batch, then interested
    expect(counters.get(M.ses_num_outgoing_request)).toBe(3);
    expect(counters.get(M.ses_num_outgoing_have)).toBe(1);
  });
});
