import { describe, it, expect } from '@jest/globals';
import Wire from 'bittorrent-protocol';
import {
  WireDecoder, WireError, MessageCollector, BufferBudget, encodeMessage, decodeHandshake, encodeHandshake,
  MAX_MESSAGE_LENGTH, MAX_EXTENDED_MESSAGE, CARRY_SIZE, type WireMessage, type Handshake,
} from '../../../packages/engine/src/wire/codec.js';

const hs = (over: Partial<Handshake> = {}): Handshake => ({
  infoHash: new Uint8Array(20).fill(0xab), peerId: new Uint8Array(20).fill(0xcd), dht: false, fast: true, extended: true, ...over,
});

/** One example of every message the codec knows (BEP 3, BEP 5's port, BEP 6, BEP 10). */
const EVERY_MESSAGE: WireMessage[] = [
  { type: 'keepAlive' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'notInterested' },
  { type: 'have', index: 7 }, { type: 'bitfield', bits: Uint8Array.of(0b10100000, 0b1000_0000) },
  { type: 'request', index: 1, offset: 16384, length: 16384 }, { type: 'piece', index: 2, offset: 0, block: Uint8Array.of(1, 2, 3) },
  { type: 'cancel', index: 1, offset: 16384, length: 16384 }, { type: 'port', port: 6881 }, { type: 'suggest', index: 3 },
  { type: 'haveAll' }, { type: 'haveNone' }, { type: 'reject', index: 4, offset: 32768, length: 100 }, { type: 'allowedFast', index: 5 },
  { type: 'extended', id: 0, payload: new TextEncoder().encode('d1:md11:ut_metadatai2eee') },
  { type: 'extended', id: 2, payload: new TextEncoder().encode('d8:msg_typei0e5:piecei0ee') },
];

function decodeAll(bytes: Uint8Array, handshake = true): WireMessage[] {
  const c = new MessageCollector();
  new WireDecoder(c, null, { handshake }).feed(bytes);
  return c.messages;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('wire codec', () => {
  it.each(EVERY_MESSAGE.map((m) => [m.type, m] as const))('round-trips %s', (_type, m) => {
    expect(decodeAll(encodeMessage(m), false)).toEqual([m]);
  });

  it('round-trips the handshake and its reserved bits (BEP 5 DHT, BEP 6 fast, BEP 10 extension)', () => {
    for (const bits of [{ dht: true, fast: false, extended: false }, { dht: false, fast: true, extended: false }, { dht: false, fast: false, extended: true }]) {
      const bytes = encodeHandshake(hs(bits));
      expect(decodeHandshake(bytes)).toEqual(hs(bits));
    }
    expect([...encodeHandshake(hs({ dht: true, fast: true, extended: true })).subarray(20, 28)]).toEqual([0, 0, 0, 0, 0, 0x10, 0, 0x05]);
  });

  it('refuses a handshake that is not BitTorrent\'s, and one whose first byte is not 19 as encrypted', () => {
    const bad = encodeHandshake(hs());
    bad[5] = 0x21;
    expect(() => decodeAll(bad)).toThrow(/protocol string/);
    try {
      decodeAll(Uint8Array.of(0x8c, 1, 2, 3));
      throw new Error('not refused');
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
      expect((e as WireError).kind).toBe('encrypted');
    }
  });

  it('refuses wrong lengths of fixed-size messages', () => {
    for (const [id, len] of [[0, 2], [1, 0 + 2], [4, 4], [4, 6], [6, 12], [8, 14], [9, 2], [16, 1], [20, 1]]) {
      const bytes = Uint8Array.from([0, 0, 0, len!, id!, ...new Array(len! - 1).fill(0)]);
      expect(() => decodeAll(bytes, false)).toThrow(WireError);
    }
  });

  it('skips messages of unknown ids (BEP 52\'s among them) within the cap', () => {
    expect(decodeAll(Uint8Array.of(0, 0, 0, 3, 21, 9, 9, 0, 0, 0, 1, 1), false)).toEqual([{ type: 'unchoke' }]);
  });

  it('checks indices and the bitfield against the piece count once it is known', () => {
    const c = new MessageCollector();
    const d = new WireDecoder(c, null, { handshake: false });
    d.setPieceCount(12);
    d.feed(encodeMessage({ type: 'bitfield', bits: Uint8Array.of(0xff, 0xf0) }));
    d.feed(encodeMessage({ type: 'have', index: 11 }));
    expect(c.messages.length).toBe(2);
    expect(() => d.feed(encodeMessage({ type: 'have', index: 12 }))).toThrow(/have for piece 12 of a torrent of 12 pieces/);
    // Stopped: nothing more is decoded.
    d.feed(encodeMessage({ type: 'choke' }));
    expect(c.messages.length).toBe(2);
  });

  it('refuses a message above its cap from its length prefix and id, before buffering its body', () => {
    const d = new WireDecoder(new MessageCollector(), null, { handshake: false });
    expect(() => d.feed(Uint8Array.of(0, 2, 0, 0, 20))).toThrow(/exceeds the limit of 65536/);
    const e = new WireDecoder(new MessageCollector(), null, { handshake: false });
    expect(() => e.feed(Uint8Array.of(0x7f, 0xff, 0xff, 0xff))).toThrow(new RegExp(`exceeds the limit of ${MAX_MESSAGE_LENGTH}`));
    expect(e.buffered).toBe(0);
  });

  it('holds one carry buffer the size of a block message for messages cut by reads, and returns what it held', () => {
    const budget = new BufferBudget(1 << 20);
    const c = new MessageCollector();
    const d = new WireDecoder(c, budget, { handshake: false });
    const piece = encodeMessage({ type: 'piece', index: 0, offset: 0, block: new Uint8Array(16384).fill(7) });
    for (let i = 0; i < 4; i++) {
      d.feed(piece.subarray(0, 1000));
      d.feed(piece.subarray(1000));
    }
    expect(c.messages.length).toBe(4);
    expect(d.buffered).toBe(CARRY_SIZE);
    expect(budget.held).toBe(CARRY_SIZE);
    // A big extended message is assembled in a buffer of its own size, given back once dispatched.
    const big = encodeMessage({ type: 'extended', id: 1, payload: new Uint8Array(MAX_EXTENDED_MESSAGE - 2) });
    d.feed(big.subarray(0, 10));
    expect(budget.held).toBe(4 + MAX_EXTENDED_MESSAGE);
    d.feed(big.subarray(10));
    expect(budget.held).toBe(0);
    d.stop();
    expect(budget.held).toBe(0);
  });
});

describe('wire codec against bittorrent-protocol (the reference codec)', () => {
  /** A bittorrent-protocol Wire that has had our handshake (fast, extended) and an unchoke, so it sends everything. */
  function referenceWire(): { wire: Wire; out: Uint8Array[] } {
    const wire = new Wire();
    const out: Uint8Array[] = [];
    wire.on('data', (d: Uint8Array) => out.push(Uint8Array.from(d)));
    wire.write(concat([encodeHandshake(hs()), encodeMessage({ type: 'unchoke' })]));
    return { wire, out };
  }

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };

  it('bittorrent-protocol parses what we encode', async () => {
    const { wire } = referenceWire();
    await settle();
    wire.handshake(Buffer.alloc(20, 1), Buffer.alloc(20, 2), { fast: true });
    wire.unchoke();
    const seen: unknown[] = [];
    for (const ev of ['choke', 'unchoke', 'interested', 'uninterested', 'have-all', 'have-none', 'keep-alive']) wire.on(ev, () => seen.push(ev));
    for (const ev of ['have', 'suggest', 'allowed-fast', 'port']) wire.on(ev, (i: number) => seen.push([ev, i]));
    for (const ev of ['cancel', 'reject']) wire.on(ev, (i: number, o: number, l: number) => seen.push([ev, i, o, l]));
    wire.on('request', (i: number, o: number, l: number) => seen.push(['request', i, o, l]));
    wire.on('piece', (i: number, o: number, b: Uint8Array) => seen.push(['piece', i, o, [...b]]));
    wire.on('bitfield', (bf: { buffer: Uint8Array }) => seen.push(['bitfield', [...bf.buffer]]));
    wire.on('extended', (ext: string | number) => seen.push(['extended', ext]));
    wire.write(concat(EVERY_MESSAGE.map(encodeMessage)));
    await settle();
    expect(seen).toEqual([
      'keep-alive', 'choke', 'unchoke', 'interested', 'uninterested', ['have', 7], ['bitfield', [0b10100000, 0b10000000]],
      ['request', 1, 16384, 16384], ['piece', 2, 0, [1, 2, 3]], ['cancel', 1, 16384, 16384], ['port', 6881], ['suggest', 3],
      'have-all', 'have-none', ['reject', 4, 32768, 100], ['allowed-fast', 5], ['extended', 'handshake'], ['extended', 2],
    ]);
  });

  it('we parse what bittorrent-protocol encodes', async () => {
    const { wire, out } = referenceWire();
    await settle();
    wire.handshake(Buffer.alloc(20, 1), Buffer.alloc(20, 2), { fast: true, dht: true });
    wire.keepAlive();
    wire.unchoke(); // it starts choking: a choke alone would send nothing
    wire.choke();
    wire.unchoke();
    wire.interested();
    wire.uninterested();
    wire.have(7);
    wire.bitfield(Buffer.from([0b10100000]));
    wire.request(1, 16384, 16384, () => undefined);
    wire.cancel(1, 16384, 16384);
    wire.port(6881);
    wire.suggest(3);
    wire.haveAll();
    wire.haveNone();
    wire.reject(4, 32768, 100);
    wire.allowedFast(5);
    wire.piece(2, 0, Buffer.from([1, 2, 3]));
    await settle();
    const got = decodeAll(concat(out));
    expect(got[0]).toEqual({ type: 'handshake', handshake: { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), dht: true, fast: true, extended: true } });
    // bittorrent-protocol sends its extended handshake right after its handshake (we offered BEP 10).
    expect(got[1]).toMatchObject({ type: 'extended', id: 0 });
    expect(got.slice(2)).toEqual([
      { type: 'keepAlive' }, { type: 'unchoke' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'notInterested' },
      { type: 'have', index: 7 }, { type: 'bitfield', bits: Uint8Array.of(0b10100000) },
      { type: 'request', index: 1, offset: 16384, length: 16384 }, { type: 'cancel', index: 1, offset: 16384, length: 16384 },
      { type: 'port', port: 6881 }, { type: 'suggest', index: 3 }, { type: 'haveAll' }, { type: 'haveNone' },
      { type: 'reject', index: 4, offset: 32768, length: 100 }, { type: 'allowedFast', index: 5 },
      { type: 'piece', index: 2, offset: 0, block: Uint8Array.of(1, 2, 3) },
    ]);
  });
});
