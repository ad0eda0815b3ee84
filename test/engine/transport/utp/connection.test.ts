import { describe, expect, it } from '@jest/globals';
import { M } from '../../../../packages/engine/src/stats/counters.js';
import { RECV_WINDOW, type UtpSettings } from '../../../../packages/engine/src/transport/utp/connection.js';
import {
  HEADER_SIZE, PacketHeader, ST_DATA, ST_FIN, ST_RESET, ST_STATE, ST_SYN, parsePacket, sackHas, writeHeader,
} from '../../../../packages/engine/src/transport/utp/packet.js';
import { FakeNet, connectPair, pattern, type Datagram } from './fake-net.js';

function parse(d: Datagram): PacketHeader {
  const h = new PacketHeader();
  if (!parsePacket(d.buf, h)) throw new Error('unparsable datagram on the wire');
  return h;
}

/** Grows the window and finishes MTU probing, so that what follows is plain data packets. */
function warm(net: FakeNet, client: { write(d: Uint8Array): void }): void {
  client.write(pattern(100_000, 9));
  net.run();
}

function setup(settings: Partial<UtpSettings> = {}): { net: FakeNet; a: ReturnType<FakeNet['host']>; b: ReturnType<FakeNet['host']> } {
  const net = new FakeNet();
  return { net, a: net.host('10.0.0.1', { settings }), b: net.host('10.0.0.2', { settings }) };
}

/** Drops the listed data packets of the next write (0 = its first packet), each once; counts their sends. */
function dropDataOnce(net: FakeNet, nth: number[]): { sends: Map<number, number> } {
  let first = -1;
  const sends = new Map<number, number>();
  net.filter = (d) => {
    const h = parse(d);
    if (h.type !== ST_DATA) return true;
    if (first < 0) first = h.seq;
    const k = (h.seq - first) & 0xffff;
    if (!nth.includes(k)) return true;
    sends.set(k, (sends.get(k) ?? 0) + 1);
    return sends.get(k)! > 1;
  };
  return { sends };
}

describe('uTP handshake', () => {
  it('sends a SYN with our receive id and answers it with a STATE from the acceptor on id and id + 1', () => {
    const { net, a, b } = setup();
    const seen: PacketHeader[] = [];
    net.filter = (d) => (seen.push(parse(d)), true);
    const { client, server } = connectPair(net, a, b);
    expect(seen.map((h) => h.type)).toEqual([ST_SYN, ST_STATE]);
    expect(seen[0]!.connId).toBe(client.recvId);
    expect(client.sendId).toBe((client.recvId + 1) & 0xffff);
    expect([server.recvId, server.sendId]).toEqual([client.sendId, client.recvId]);
    expect(seen[1]!.connId).toBe(client.recvId);
    expect(seen[1]!.ack).toBe(seen[0]!.seq);
    expect(client.connected && server.connected).toBe(true);
  });

  it('resends a lost SYN and connects', () => {
    const { net, a, b } = setup();
    let dropped = 0;
    net.filter = (d) => !(parse(d).type === ST_SYN && dropped++ === 0);
    let err: string | null | undefined;
    a.mgr.connect(b.address, b.port, (e) => (err = e));
    net.run();
    expect(err).toBeUndefined();
    net.advance(1100);
    expect(err).toBeNull();
  });

  it('gives up after utp_syn_resends with "connect timed out"', () => {
    const { net, a } = setup();
    let err: string | null | undefined;
    const syns: number[] = [];
    net.filter = (d) => (syns.push(net.clock.ms), true);
    a.mgr.connect('10.9.9.9', 6881, (e) => (err = e));
    net.advance(3000);
    expect(err).toBe('connect timed out');
    expect(syns.length).toBe(3); // the SYN and utp_syn_resends (2) resends, spread over utp_connect_timeout
    expect(a.mgr.size).toBe(0);
  });

  it('is refused with ST_RESET when incoming uTP is off', () => {
    const net = new FakeNet();
    const a = net.host('10.0.0.1');
    const b = net.host('10.0.0.2', { acceptIncoming: false });
    let err: string | null | undefined;
    a.mgr.connect(b.address, b.port, (e) => (err = e));
    net.run();
    expect(err).toBe('connection refused');
    expect(b.mgr.size).toBe(0);
  });

  it('refuses SYNs beyond the half-open limit', () => {
    const net = new FakeNet();
    const b = net.host('10.0.0.2', { maxHalfOpen: 2 });
    const errs: (string | null)[] = [];
    for (let i = 1; i <= 3; i++) net.host(`10.0.1.${i}`).mgr.connect(b.address, b.port, (e) => errs.push(e));
    net.run();
    expect(errs).toEqual([null, null, 'connection refused']);
    expect(b.mgr.size).toBe(2);
  });

  it('drops an accepted connection whose peer never sends within utp_connect_timeout', () => {
    const { net, a, b } = setup();
    connectPair(net, a, b);
    expect(b.mgr.size).toBe(1);
    net.advance(3100);
    expect(b.mgr.size).toBe(0);
  });
});

describe('uTP data transfer', () => {
  it('delivers bytes in order, both ways, in MTU-sized packets', () => {
    const { net, a, b } = setup();
    const { client, server, atClient, atServer } = connectPair(net, a, b);
    const up = pattern(100_000, 1);
    const down = pattern(50_000, 2);
    client.write(up);
    server.write(down);
    net.run();
    net.advance(2000);
    expect(atServer.bytes.equals(up)).toBe(true);
    expect(atClient.bytes.equals(down)).toBe(true);
  });

  it('acks a burst of data packets once, at the end of the burst', () => {
    const { net, a, b } = setup();
    const { client } = connectPair(net, a, b);
    warm(net, client);
    const acks: number[] = [];
    let dataPackets = 0;
    net.filter = (d) => {
      const h = parse(d);
      if (h.type === ST_DATA) dataPackets++;
      if (d.from === b.address && h.type === ST_STATE) acks.push(h.ack);
      return true;
    };
    client.write(pattern(10 * 1400)); // one burst: the window has grown
    net.run();
    expect(dataPackets).toBeGreaterThanOrEqual(10);
    expect(acks.length).toBe(1);
  });

  it('holds out-of-order packets, reports them in a SACK, and delivers them once the gap fills', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    warm(net, client);
    const already = atServer.bytes.length;
    let firstData = -1;
    let dropped: Datagram | null = null;
    let holdGap = true;
    const sacks: { ack: number; bits: boolean[] }[] = [];
    net.filter = (d) => {
      const h = parse(d);
      if (h.type === ST_DATA && firstData < 0) firstData = h.seq;
      if (h.type === ST_DATA && h.seq === firstData && holdGap) {
        dropped = d; // the first packet, and any resend of it, until the test lets it through
        return false;
      }
      if (h.type === ST_STATE && h.sackAt >= 0) sacks.push({ ack: h.ack, bits: [0, 1, 2].map((i) => sackHas(d.buf, h.sackAt, i)) });
      return true;
    };
    const data = pattern(3 * 1443);
    client.write(data);
    net.run();
    expect(atServer.bytes.length).toBe(already);
    // ack = the packet before the gap; bit 0 is ack + 2. Each out-of-order arrival is acked at once.
    expect(sacks.slice(0, 2)).toEqual([
      { ack: (firstData - 1) & 0xffff, bits: [true, false, false] },
      { ack: (firstData - 1) & 0xffff, bits: [true, true, false] },
    ]);
    holdGap = false;
    net.wire.push(dropped!);
    net.run();
    expect(atServer.bytes.subarray(already).equals(data)).toBe(true);
  });

  it('resends a packet at once when three packets after it are selectively acked (fast retransmit), and halves the window once (utp_low_delay_loss_multiplier 0: libtorrent\'s rule)', () => {
    const { net, a, b } = setup({ lowDelayLossMultiplier: 0 });
    const { client, atServer } = connectPair(net, a, b);
    warm(net, client);
    const already = atServer.bytes.length;
    const cwndBefore = client.stats.cwnd;
    let target = -1;
    const sends: number[] = [];
    net.filter = (d) => {
      const h = parse(d);
      if (h.type !== ST_DATA) return true;
      if (target < 0) target = h.seq;
      if (h.seq === target) sends.push(net.clock.ms);
      return !(h.seq === target && sends.length === 1);
    };
    const data = pattern(8 * 1180, 3);
    client.write(data);
    net.run();
    expect(sends.length).toBe(2); // resent without waiting for a timeout: the clock never moved
    expect(a.counters.get(M.utp_utp_fast_retransmit)).toBe(1);
    expect(client.stats.cwnd).toBeLessThan(cwndBefore);
    expect(atServer.bytes.subarray(already).equals(data)).toBe(true);
  });

  it('keeps its window through an isolated loss while no queue has built (utp_low_delay_loss_multiplier 100)', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    warm(net, client);
    const already = atServer.bytes.length;
    const cwndBefore = client.stats.cwnd;
    const { sends } = dropDataOnce(net, [0]);
    const data = pattern(8 * 1180, 3);
    client.write(data);
    net.run();
    expect(sends.get(0)).toBe(2);
    expect(a.counters.get(M.utp_utp_fast_retransmit)).toBe(1);
    expect(client.stats.cwnd).toBeGreaterThanOrEqual(cwndBefore);
    expect(atServer.bytes.subarray(already).equals(data)).toBe(true);
  });

  it('cuts by utp_loss_multiplier when more losses pile up in one window than chance explains, even with no queue', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    warm(net, client);
    const already = atServer.bytes.length;
    const cwndBefore = client.stats.cwnd;
    dropDataOnce(net, [0, 2, 4, 6]); // 4 of 20 packets: a queue overflowing, not noise
    const data = pattern(20 * 1180, 5);
    client.write(data);
    net.run();
    expect(a.counters.get(M.utp_utp_fast_retransmit)).toBe(4);
    expect(client.stats.cwnd).toBeLessThanOrEqual(cwndBefore * 0.5 + 20 * 1180);
    expect(client.stats.cwnd).toBeLessThan(cwndBefore);
    expect(atServer.bytes.subarray(already).equals(data)).toBe(true);
  });

  it('fast-retransmits even while the peer\'s advertised window is shut (the resend may be what opens it)', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    warm(net, client);
    const already = atServer.bytes.length;
    const { sends } = dropDataOnce(net, [0]);
    const drop = net.filter;
    net.filter = (d) => {
      // The receiver's STATEs say its window is 0 (as when out-of-order data fills it).
      if (d.from === b.address && parse(d).type === ST_STATE) d.buf.fill(0, 12, 16);
      return drop(d);
    };
    const data = pattern(8 * 1180, 7);
    client.write(data);
    net.run();
    expect(sends.get(0)).toBe(2); // resent with the clock standing still: no probe timer, no timeout
    expect(atServer.bytes.subarray(already).equals(data)).toBe(true);
  });

  it('lets one ack resend at most 5 packets past its windows, however many its SACK says are lost', () => {
    const { net, a, b } = setup();
    const { client } = connectPair(net, a, b);
    warm(net, client);
    const sent: PacketHeader[] = [];
    net.filter = (d) => {
      if (d.from === a.address && parse(d).type === ST_DATA) sent.push(parse(d));
      return false; // the path swallows everything from here on
    };
    client.write(pattern(40 * 1180, 11));
    net.run();
    const first = sent[0]!.seq;
    const n = sent.length;
    expect(n).toBeGreaterThanOrEqual(24);
    // A SACK (window 0) of every other packet after `first`: about n/2 packets followed by 3 acked ones.
    const sackBytes = 8;
    const pkt = new Uint8Array(HEADER_SIZE + 2 + sackBytes);
    writeHeader(pkt, ST_STATE, client.recvId, 0, 0, 0, 1, (first - 1) & 0xffff, 1);
    pkt[HEADER_SIZE + 1] = sackBytes;
    for (let i = 0; i < sackBytes * 8 && i < n - 2; i += 2) pkt[HEADER_SIZE + 2 + (i >> 3)]! |= 1 << (i & 7); // bit i: first + 2 + i
    sent.length = 0;
    a.mgr.receive(pkt, b.address, b.port);
    expect(a.counters.get(M.utp_utp_fast_retransmit)).toBeGreaterThan(8);
    expect(sent.length).toBe(5);
  });

  it('selectively acks everything it holds out of order, beyond 256 packets past the gap', () => {
    const { net, a, b } = setup();
    const { client } = connectPair(net, a, b);
    warm(net, client);
    client.write(pattern(2_000_000, 8)); // slow start opens the window
    net.run();
    dropDataOnce(net, [0]);
    const filter = net.filter;
    let widest = 0;
    net.filter = (d) => {
      const h = parse(d);
      if (d.from === b.address && h.type === ST_STATE && h.sackAt >= 0) widest = Math.max(widest, h.sackLen * 8);
      return filter(d);
    };
    client.write(pattern(600 * 1180, 9));
    net.run();
    expect(widest).toBeGreaterThan(256);
  });

  it('resends after the retransmission timeout, backing off, and closes after utp_num_resends', () => {
    const { net, a, b } = setup();
    const { client, atClient } = connectPair(net, a, b);
    const resends: number[] = [];
    net.filter = (d) => {
      if (d.from === a.address && parse(d).type === ST_DATA) resends.push(net.clock.ms);
      return false; // the path is gone
    };
    const t0 = net.clock.ms;
    client.write(pattern(100));
    net.advance(20_000);
    const gaps = resends.map((t) => t - t0);
    expect(gaps.length).toBe(4); // the send and utp_num_resends (3) resends
    expect(gaps[2]! - gaps[1]!).toBeGreaterThan(gaps[1]! - gaps[0]!); // backing off
    expect(atClient.closed).toBe('timed out');
    expect(a.counters.get(M.utp_utp_timeout)).toBe(4);
  });

  it('keeps working across the 16-bit sequence number wrap', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    const data = pattern(70_000 * 2, 5); // small writes: one packet each
    for (let i = 0; i < 70_000; i++) {
      client.write(data.subarray(i * 2, i * 2 + 2));
      if (i % 50 === 0) net.run();
    }
    net.advance(1000);
    expect(atServer.bytes.equals(data)).toBe(true);
  });

  it('coalesces small writes (Nagle): one undersized packet in flight at most', () => {
    const { net, a, b } = setup();
    const { client, atServer } = connectPair(net, a, b);
    let dataPackets = 0;
    net.filter = (d) => (parse(d).type === ST_DATA && dataPackets++, true);
    for (let i = 0; i < 100; i++) client.write(pattern(10, i));
    net.run();
    expect(dataPackets).toBe(2); // the first write alone, then the other 99 together
    expect(atServer.bytes.length).toBe(1000);
  });

  it('sends writes between cork() and uncork() together', () => {
    const { net, a, b } = setup();
    const { client } = connectPair(net, a, b);
    let dataPackets = 0;
    net.filter = (d) => (parse(d).type === ST_DATA && dataPackets++, true);
    client.cork();
    for (let i = 0; i < 10; i++) client.write(pattern(10, i));
    client.uncork();
    net.run();
    expect(dataPackets).toBe(1);
  });
});

describe('uTP closing', () => {
  it('ends with FIN: the peer hears "connection closed" after the last byte, both ends are forgotten', () => {
    const { net, a, b } = setup();
    const { client, atServer, atClient } = connectPair(net, a, b);
    const data = pattern(30_000);
    const types: number[] = [];
    net.filter = (d) => (types.push(parse(d).type), true);
    client.write(data);
    net.run();
    client.close('done');
    expect(atClient.closed).toBe('done');
    net.run();
    expect(types).toContain(ST_FIN);
    expect(atServer.bytes.equals(data)).toBe(true);
    expect(atServer.closed).toBe('connection closed');
    expect(a.mgr.size + b.mgr.size).toBe(0);
  });

  it('closes on ST_RESET with "connection reset"', () => {
    const { net, a, b } = setup();
    const { client, atClient } = connectPair(net, a, b);
    const rst = new Uint8Array(HEADER_SIZE);
    writeHeader(rst, ST_RESET, client.recvId, 0, 0, 0, 1, 0);
    a.mgr.receive(rst, b.address, b.port);
    expect(atClient.closed).toBe('connection reset');
  });

  it('answers a packet for no connection with ST_RESET', () => {
    const { net, b } = setup();
    const stray = new Uint8Array(HEADER_SIZE);
    writeHeader(stray, ST_DATA, 999, 0, 0, 0, 1, 0);
    b.mgr.receive(stray, '10.0.0.7', 1234);
    expect(net.wire.map((d) => [parse(d).type, parse(d).connId, d.to])).toEqual([[ST_RESET, 999, '10.0.0.7']]);
  });
});

describe('uTP under hostile input', () => {
  it('holds no more out-of-order bytes than its receive window, however far ahead a peer sends', () => {
    const { net, a, b } = setup();
    const { client, server, atServer } = connectPair(net, a, b);
    let last: PacketHeader | null = null;
    net.filter = (d) => ((last = d.from === a.address ? parse(d) : last), true);
    client.write(pattern(100)); // the client's sequence numbers, as the server knows them
    net.run();
    const { seq, ack } = last!;
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 2; i < 2000; i++) {
      const pkt = new Uint8Array(60_000);
      writeHeader(pkt, ST_DATA, server.recvId, 0, 0, 65536, (seq + i) & 0xffff, ack);
      b.mgr.receive(pkt, a.address, a.port);
    }
    expect(server.stats.reorderBytes).toBeLessThanOrEqual(RECV_WINDOW + 64 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(200 * 1024 * 1024);
    expect(atServer.closed).toBeNull();
  });

  it('counts packets that ack what was never sent as invalid and ignores them', () => {
    const { net, a, b } = setup();
    const { server, atServer } = connectPair(net, a, b);
    const pkt = new Uint8Array(HEADER_SIZE + 5);
    writeHeader(pkt, ST_DATA, server.recvId, 0, 0, 65536, 1, 0x7000);
    b.mgr.receive(pkt, a.address, a.port);
    expect(b.counters.get(M.utp_utp_invalid_pkts_in)).toBe(1);
    expect(atServer.bytes.length).toBe(0);
  });
});

