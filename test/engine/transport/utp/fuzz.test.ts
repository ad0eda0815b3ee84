import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RECV_WINDOW } from '../../../../packages/engine/src/transport/utp/connection.js';
import { HEADER_SIZE, ST_SYN, writeHeader } from '../../../../packages/engine/src/transport/utp/packet.js';
import { FakeNet, connectPair, pattern, type Datagram } from './fake-net.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** Datagrams of a real exchange, to mutate. */
function capture(): Datagram[] {
  const net = new FakeNet();
  const a = net.host('10.0.0.1');
  const b = net.host('10.0.0.2');
  const seen: Datagram[] = [];
  net.filter = (d) => (seen.push(d), true);
  const { client, server } = connectPair(net, a, b);
  client.write(pattern(20_000));
  server.write(pattern(3_000));
  net.run();
  client.close('done');
  net.run();
  return seen;
}

const CAPTURED = capture();

/** A datagram: random bytes, a random uTP-looking header, or a captured one with bytes flipped or cut. */
const datagram = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 1500 }),
  fc.record({
    type: fc.integer({ min: 0, max: 15 }), ext: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffff }), ack: fc.integer({ min: 0, max: 0xffff }), wnd: fc.nat(),
    tail: fc.uint8Array({ maxLength: 200 }),
  }).map(({ type, ext, id, seq, ack, wnd, tail }) => {
    const buf = new Uint8Array(HEADER_SIZE + tail.length);
    writeHeader(buf, type & 7, id, 0, 0, wnd, seq, ack, ext);
    buf[0] = (type << 4) | 1;
    buf.set(tail, HEADER_SIZE);
    return buf;
  }),
  fc.record({
    i: fc.nat({ max: CAPTURED.length - 1 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat()),
  }).map(({ i, flips, cut }) => {
    const buf = Uint8Array.from(CAPTURED[i]!.buf);
    for (const [at, v] of flips) buf[at % buf.length] = v;
    return cut === null ? buf : buf.subarray(0, cut % (buf.length + 1));
  }),
);

describe(`uTP fuzz (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  it('survives random and mutated datagrams from strangers: no throw, the established connection still carries data intact', () => {
    fc.assert(fc.property(fc.array(fc.tuple(datagram, fc.integer({ min: 1, max: 250 })), { minLength: 1, maxLength: 60 }), (storm) => {
      const net = new FakeNet();
      const a = net.host('10.0.0.1');
      const b = net.host('10.0.0.2', { maxConnections: 20 });
      const { client, atServer } = connectPair(net, a, b);
      for (const [buf, host] of storm) {
        b.mgr.receive(buf, `10.9.0.${host}`, 6881);
        a.mgr.receive(buf, `10.9.1.${host}`, 6881);
      }
      net.run();
      const data = pattern(50_000, 3);
      client.write(data);
      net.run();
      net.advance(1000);
      expect(atServer.closed).toBeNull();
      expect(atServer.bytes.equals(data)).toBe(true);
      expect(b.mgr.size).toBeLessThanOrEqual(20);
    }), { seed: SEED, numRuns: 150 });
  });

  it('stays within its memory bounds whatever the peer itself sends', () => {
    fc.assert(fc.property(fc.array(datagram, { minLength: 1, maxLength: 80 }), (storm) => {
      const net = new FakeNet();
      const a = net.host('10.0.0.1');
      const b = net.host('10.0.0.2');
      const { server } = connectPair(net, a, b);
      for (const buf of storm) {
        // From the peer's own address and port, with the connection's id half the time.
        if (buf.length >= HEADER_SIZE && buf[0]! >> 4 !== ST_SYN && (buf[3]! & 1) === 0) {
          buf[2] = server.recvId >> 8;
          buf[3] = server.recvId & 0xff;
        }
        b.mgr.receive(buf, a.address, a.port);
      }
      net.run();
      expect(server.stats.reorderBytes).toBeLessThanOrEqual(RECV_WINDOW + 64 * 1024);
      expect(b.mgr.size).toBeLessThanOrEqual(1 + storm.length);
    }), { seed: SEED, numRuns: 200 });
  });

  it('refuses a SYN flood beyond the half-open limit', () => {
    const net = new FakeNet();
    const b = net.host('10.0.0.2', { maxHalfOpen: 8 });
    for (let i = 0; i < 500; i++) {
      const syn = new Uint8Array(HEADER_SIZE);
      writeHeader(syn, ST_SYN, i, 0, 0, 65536, 1, 0);
      b.mgr.receive(syn, `10.8.${i >> 8}.${i & 255}`, 1000 + i);
    }
    expect(b.mgr.size).toBe(8);
  });
});
