import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  EXT_SACK, HEADER_SIZE, PacketHeader, ST_DATA, ST_STATE, ST_SYN, looksLikeUtp, parsePacket, sackHas, seqDiff, seqLess,
  timeDiff32, writeHeader,
} from '../../../../packages/engine/src/transport/utp/packet.js';

function header(type: number, extension = 0, extra: number[] = []): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + extra.length);
  writeHeader(buf, type, 0x1234, 0xdeadbeef, 0x01020304, 65536, 0xfffe, 7, extension);
  buf.set(extra, HEADER_SIZE);
  return buf;
}

describe('uTP packet header', () => {
  it('reads back every field it wrote', () => {
    const h = new PacketHeader();
    expect(parsePacket(header(ST_DATA, 0, [9, 9, 9]), h)).toBe(true);
    expect(h).toMatchObject({ type: ST_DATA, connId: 0x1234, timestamp: 0xdeadbeef, timestampDiff: 0x01020304, wnd: 65536, seq: 0xfffe, ack: 7, sackAt: -1, payloadAt: HEADER_SIZE });
  });

  it('puts type in the high nibble and version 1 in the low one (BEP 29 as corrected)', () => {
    expect(header(ST_SYN)[0]).toBe(0x41);
    expect(header(ST_STATE)[0]).toBe(0x21);
  });

  it('finds the selective ACK and the payload after the extension chain', () => {
    const h = new PacketHeader();
    // SACK of 4 bytes, then an unknown extension 7 of 2 bytes, then 1 byte of payload.
    const buf = header(ST_STATE, EXT_SACK, [7, 4, 0b101, 0, 0, 0x80, 0, 2, 1, 2, 0xaa]);
    expect(parsePacket(buf, h)).toBe(true);
    expect([h.sackAt, h.sackLen, h.payloadAt]).toEqual([HEADER_SIZE + 2, 4, HEADER_SIZE + 10]);
    expect([sackHas(buf, h.sackAt, 0), sackHas(buf, h.sackAt, 1), sackHas(buf, h.sackAt, 2), sackHas(buf, h.sackAt, 31)]).toEqual([true, false, true, true]);
  });

  it.each([
    ['shorter than a header', new Uint8Array(19).fill(0x01)],
    ['version 2', Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0x02 : 0))],
    ['type 5', Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0x51 : 0))],
    ['an extension running past the end', header(ST_DATA, 2, [0, 10, 1])],
  ])('refuses %s', (_name, buf) => {
    expect(parsePacket(buf, new PacketHeader())).toBe(false);
  });

  it('takes a SACK of any length, as libtorrent sends them ((span + 7) / 8 bytes), and an empty one as none', () => {
    const h = new PacketHeader();
    expect(parsePacket(header(ST_STATE, EXT_SACK, [0, 3, 1, 2, 3]), h)).toBe(true);
    expect([h.sackAt, h.sackLen]).toEqual([HEADER_SIZE + 2, 3]);
    expect(parsePacket(header(ST_STATE, EXT_SACK, [0, 0]), h)).toBe(true);
    expect(h.sackAt).toBe(-1);
  });

  it('never takes a bencoded DHT datagram for uTP', () => {
    expect(looksLikeUtp(Buffer.from('d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe'))).toBe(false);
  });

  it('parses any bytes without throwing, and never places the payload past the end', () => {
    const seed = Date.now() % 100000;
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
      const h = new PacketHeader();
      if (parsePacket(bytes, h)) expect(h.payloadAt).toBeLessThanOrEqual(bytes.length);
    }), { seed, numRuns: 2000 });
  });
});

describe('uTP sequence arithmetic', () => {
  it('orders numbers across the 16-bit wrap', () => {
    expect(seqLess(0xffff, 0)).toBe(true);
    expect(seqLess(0, 0xffff)).toBe(false);
    expect(seqDiff(2, 0xfffe)).toBe(4);
    expect(seqDiff(0xfffe, 2)).toBe(-4);
  });

  it('takes 32-bit microsecond differences across the wrap', () => {
    expect(timeDiff32(5, 0xfffffffb)).toBe(10);
  });
});
