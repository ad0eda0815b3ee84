import { describe, it, expect, afterEach } from '@jest/globals';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { Session, SpritzleError, type DiscoveryOptions, type TorrentHandle } from '@spritzle/engine';
import { parseHttpAnnounce, parseHttpScrape, MAX_HTTP_BODY } from '../../../packages/engine/src/discovery/http-tracker.js';
import { parseUdpAnnounce, parseUdpScrape } from '../../../packages/engine/src/discovery/udp-tracker.js';
import { insertByTier, MAX_TRACKERS } from '../../../packages/engine/src/discovery/tracker.js';
import { isDialable } from '../../../packages/engine/src/discovery/addr.js';
import { MAX_PEERS_PER_ANSWER } from '../../../packages/engine/src/discovery/tracker-protocol.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor } from '../../helpers/engine.js';

// Hostile trackers on 127.0.0.1 (issue 9, parts 3 and 4): every answer is bounded, decoded by bdecode, and a
// bad one fails the announce with a message instead of hanging, looping or eating memory.
const FAST: DiscoveryOptions = { minAnnounceInterval: 0, trackerRetryDelayMin: 0.2 };
const sessions: Session[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** An HTTP tracker whose every answer is `handler`'s raw bytes. */
async function rawTracker(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/announce`;
}

/** A BEP 15 tracker that answers connect properly and every announce with `answer(tid)`. */
async function udpTracker(answer: (tid: Buffer) => Buffer): Promise<string> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const action = msg.readUInt32BE(8);
    const tid = msg.subarray(12, 16);
    if (action === 0) {
      const b = Buffer.alloc(16);
      tid.copy(b, 4);
      b.writeUInt32BE(0x1234, 12);
      sock.send(b, rinfo.port, rinfo.address);
    } else if (action === 1) {
      sock.send(answer(tid), rinfo.port, rinfo.address);
    }
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  return `udp://127.0.0.1:${sock.address().port}`;
}

async function announceTo(url: string, name: string): Promise<{ s: Session; h: TorrentHandle }> {
  const s = await Session.create({ listen_interfaces: '127.0.0.1:0' }, { discovery: FAST });
  sessions.push(s);
  const t = await makeTorrent({ dir: await tmpDir(`trklim-${name}`), name, files: 40_000, pieceLength: 16384 });
  const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir(`trklim-${name}-dl`), trackers: [url] });
  return { s, h };
}

function compact4(peers: [string, number][]): Buffer {
  const b = Buffer.alloc(peers.length * 6);
  peers.forEach(([ip, port], i) => {
    ip.split('.').forEach((x, j) => (b[i * 6 + j] = Number(x)));
    b.writeUInt16BE(port, i * 6 + 4);
  });
  return b;
}

/** bencode of { interval: 60, peers: <compact>, peers6: <compact6> } by hand (the test must not trust a library). */
function answerWith(peers: Buffer, peers6 = Buffer.alloc(0)): Buffer {
  return Buffer.concat([
    Buffer.from(`d8:intervali60e5:peers${peers.length}:`), peers, Buffer.from(`6:peers6${peers6.length}:`), peers6, Buffer.from('e'),
  ]);
}

describe('hostile HTTP trackers', () => {
  it('an answer l-3:e fails the announce with a bencode error', async () => {
    const url = await rawTracker((_req, res) => res.end('l-3:e'));
    const { h } = await announceTo(url, 'neg');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toMatch(/invalid bencode/);
  });

  it('an answer d8:intervali60e5:peersl-3:eee fails the announce with a bencode error', async () => {
    const url = await rawTracker((_req, res) => res.end('d8:intervali60e5:peersl-3:eee'));
    const { h } = await announceTo(url, 'negpeers');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toMatch(/invalid bencode/);
  });

  it('a 50 MB answer is not read past 1 MiB: the announce fails saying so and memory stays bounded', async () => {
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const url = await rawTracker((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // no content-length: chunked, read until the cap
      res.write('d8:intervali60e5:peers52428800:');
      const more = (): void => {
        while (written < 50 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end('e');
      };
      res.on('error', () => undefined);
      more();
    });
    const rss0 = process.memoryUsage().rss;
    const { h } = await announceTo(url, 'big');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toMatch(new RegExp(`over the ${MAX_HTTP_BODY}-byte limit`));
    expect(process.memoryUsage().rss - rss0).toBeLessThan(40 * 1024 * 1024);
    // The connection was cut: the tracker could not push the 50 MB.
    expect(written).toBeLessThan(50 * 1024 * 1024);
  });

  it('a declared Content-Length over the limit fails without reading the body', async () => {
    const url = await rawTracker((_req, res) => {
      res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
      res.write('d8:interval');
      res.on('error', () => undefined);
    });
    const { h } = await announceTo(url, 'declared');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toMatch(/52428800 bytes is over the 1048576-byte limit/);
  });

  it('a redirect to a Location that is not a URL fails the announce (it threw in the response callback and took the process down)', async () => {
    const url = await rawTracker((_req, res) => res.writeHead(302, { location: 'http://[' }).end());
    const { h } = await announceTo(url, 'badlocation');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toBe('tracker: redirected to an invalid URL');
  });

  it('a redirect is followed; a chain of more than 3 is refused', async () => {
    const target = await rawTracker((_req, res) => res.end(answerWith(Buffer.alloc(0))));
    const hop = await rawTracker((req, res) => res.writeHead(302, { location: `${target}${(req.url ?? '').slice('/announce'.length)}` }).end());
    const { h } = await announceTo(hop, 'redirect');
    await waitFor(() => h.trackers()[0]!.status === 'working', 10_000, 'the redirected announce');
    let loops = 0;
    const loop = await rawTracker((req, res) => {
      loops++;
      res.writeHead(302, { location: req.url ?? '/' }).end();
    });
    const { h: h2 } = await announceTo(loop, 'redirect-loop');
    await waitFor(() => h2.trackers()[0]!.status === 'error', 10_000, 'the looping announce to fail');
    expect(h2.trackers()[0]!.message).toBe('tracker: more than 3 redirects');
    expect(loops).toBe(4);
  });

  it('peers at 0.0.0.0, 224.0.0.1, 255.255.255.255, port 0 and ff02::1 are dropped; a real one is kept', async () => {
    const listener = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    const port = (listener.address() as net.AddressInfo).port;
    const v6 = Buffer.alloc(18);
    v6[0] = 0xff;
    v6[1] = 0x02;
    v6[15] = 1;
    v6.writeUInt16BE(6881, 16);
    const body = answerWith(compact4([['0.0.0.0', 6881], ['224.0.0.1', 6881], ['255.255.255.255', 6881], ['127.0.0.1', 0], ['127.0.0.1', port]]), v6);
    const url = await rawTracker((_req, res) => res.end(body));
    const { h } = await announceTo(url, 'bogons');
    await waitFor(() => h.trackers()[0]!.status === 'working', 10_000, 'the announce');
    expect(h.trackers()[0]!.num_peers).toBe(1);
  });
});

describe('hostile UDP trackers', () => {
  it(`a maximal UDP announce answer (~10,900 peers) gives at most ${MAX_PEERS_PER_ANSWER} peers`, async () => {
    const listener = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    const port = (listener.address() as net.AddressInfo).port;
    const n = Math.floor((65_507 - 20) / 6);
    const url = await udpTracker((tid) => {
      const b = Buffer.alloc(20 + n * 6);
      b.writeUInt32BE(1, 0);
      tid.copy(b, 4);
      b.writeUInt32BE(600, 8);
      for (let i = 0; i < n; i++) compact4([['127.0.0.1', port]]).copy(b, 20 + i * 6);
      return b;
    });
    const { h } = await announceTo(url, 'udpbig');
    await waitFor(() => h.trackers()[0]!.status === 'working', 10_000, 'the announce');
    expect(h.trackers()[0]!.num_peers).toBe(MAX_PEERS_PER_ANSWER);
    expect(h.status().announce_interval).toBe('600.0');
  });

  it('a lost connect request is sent again (BEP 15 retry) and the announce goes through', async () => {
    let connects = 0;
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const action = msg.readUInt32BE(8);
      const reply = Buffer.alloc(action === 0 ? 16 : 20);
      reply.writeUInt32BE(action, 0);
      msg.copy(reply, 4, 12, 16);
      if (action === 0 && ++connects === 1) return; // the first connect is "lost"
      if (action === 1) reply.writeUInt32BE(900, 8);
      sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => sock.close(() => resolve())));
    const { h } = await announceTo(`udp://127.0.0.1:${sock.address().port}`, 'udpretry');
    await waitFor(() => h.trackers()[0]!.status === 'working', 15_000, 'the announce after a retry');
    expect(connects).toBe(2);
    expect(h.status().announce_interval).toBe('900.0');
  });

  it('a UDP error answer (action 3) fails the announce with its message', async () => {
    const url = await udpTracker((tid) => Buffer.concat([Buffer.from([0, 0, 0, 3]), tid, Buffer.from('go away')]));
    const { h } = await announceTo(url, 'udperr');
    await waitFor(() => h.trackers()[0]!.status === 'error', 10_000, 'the announce to fail');
    expect(h.trackers()[0]!.message).toBe('go away');
  });
});

describe('peer addresses', () => {
  it('isDialable refuses unspecified, multicast, broadcast addresses and port 0', () => {
    for (const [host, port] of [['0.0.0.0', 1], ['224.0.0.1', 1], ['239.1.2.3', 1], ['255.255.255.255', 1], ['::', 1], ['ff02::1', 1], ['::ffff:0.0.0.0', 1], ['1.2.3.4', 0]] as const) {
      expect([host, port, isDialable(host, port)]).toEqual([host, port, false]);
    }
    for (const host of ['127.0.0.1', '10.0.0.1', '::1', '2001:db8::1', 'example.org']) expect(isDialable(host, 6881)).toBe(true);
  });
});

describe('tracker lists', () => {
  it('inserting 10,000 trackers in any tier order reads at most ~log2(n) tiers per insert', () => {
    for (const order of ['ascending', 'descending', 'random'] as const) {
      let reads = 0;
      const list: { readonly tier: number }[] = [];
      const n = 10_000;
      let x = 12345;
      for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        const tier = order === 'ascending' ? i : order === 'descending' ? n - i : x % 100;
        insertByTier(list, { get tier() {
          reads++;
          return tier;
        } });
      }
      // The old insert walked back over every later tier: ~n²/2 = 50,000,000 reads for the descending order.
      expect([order, reads <= n * (Math.ceil(Math.log2(n)) + 3)]).toEqual([order, true]);
      for (let i = 1; i < n; i++) if (list[i - 1]!.tier > list[i]!.tier) throw new Error(`${order}: out of order at ${i}`);
    }
  });

  it(`a torrent with ${MAX_TRACKERS} trackers is added; one more is refused, saying the cap`, async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' }, { discovery: FAST });
    sessions.push(s);
    const urls = Array.from({ length: MAX_TRACKERS }, (_, i) => `http://127.0.0.1:1/announce${i}`);
    const h = await s.addTorrent({ info_hash: 'ab'.repeat(20), trackers: urls, save_path: await tmpDir('trklim-cap'), paused: true });
    expect(h.trackers()).toHaveLength(MAX_TRACKERS);
    expect(() => h.addTracker('http://127.0.0.1:1/one-more')).toThrow(/more than 1000 trackers/);
  });
});

describe('tracker answer parsers (property: a typed error or a valid result, never another throw)', () => {
  const seed = Number(process.env.FC_SEED ?? 20261130);
  const benc = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.integer({ min: -1e12, max: 1e12 }).map((n) => `i${n}e`),
      fc.constantFrom('i-0e', 'i03e', 'ie', '-3:', '99999999999:', 'l-3:e', '0:', 'i9999999999999999999999e'),
      fc.string({ maxLength: 12 }).map((s) => `${Buffer.byteLength(s)}:${s}`),
      fc.tuple(fc.constantFrom('interval', 'min interval', 'peers', 'peers6', 'complete', 'incomplete', 'failure reason', 'warning message', 'tracker id', 'files', 'ip', 'port', 'x'), tie('value'))
        .map(([k, v]) => `d${k.length}:${k}${v}e`),
      fc.array(tie('value'), { maxLength: 4 }).map((vs) => `l${vs.join('')}e`),
      fc.array(fc.tuple(fc.constantFrom('interval', 'peers', 'peers6', 'files', 'ip', 'port', 'complete'), tie('value')), { maxLength: 4 })
        .map((kvs) => `d${kvs.map(([k, v]) => `${k.length}:${k}${v}`).join('')}e`),
    ),
  })).value;
  // Structure-aware text, then truncated or with a byte flipped half of the time.
  const bodies = fc.tuple(benc, fc.nat(), fc.nat(255), fc.boolean()).map(([s, cut, byte, mutate]) => {
    const b = Buffer.from(s, 'latin1');
    if (!mutate || b.length === 0) return new Uint8Array(b);
    const m = Buffer.from(b.subarray(0, 1 + (cut % b.length)));
    m[cut % m.length] = byte;
    return new Uint8Array(m);
  });
  const only = (f: () => unknown): boolean => {
    try {
      f();
      return true;
    } catch (e) {
      if (e instanceof SpritzleError) return true;
      throw e;
    }
  };

  it('parseHttpAnnounce and parseHttpScrape: 10,000 cases each', () => {
    console.log(`fast-check seed ${seed} (FC_SEED to replay)`);
    fc.assert(fc.property(bodies, (b) => only(() => {
      const r = parseHttpAnnounce(b);
      if (r.peers.length > MAX_PEERS_PER_ANSWER) throw new Error('too many peers');
    })), { seed, numRuns: 10_000 });
    fc.assert(fc.property(bodies, (b) => only(() => parseHttpScrape(b))), { seed, numRuns: 10_000 });
  });

  it('parseUdpAnnounce and parseUdpScrape: 10,000 cases each', () => {
    const datagrams = fc.tuple(fc.constantFrom(0, 1, 2, 3, 0xffffffff), fc.uint8Array({ maxLength: 2000 })).map(([action, rest]) => {
      const b = Buffer.alloc(4 + rest.length);
      b.writeUInt32BE(action, 0);
      b.set(rest, 4);
      return new Uint8Array(b);
    });
    fc.assert(fc.property(datagrams, fc.boolean(), (b, v6) => only(() => {
      const r = parseUdpAnnounce(b, v6);
      if (r.peers.length > MAX_PEERS_PER_ANSWER) throw new Error('too many peers');
    })), { seed, numRuns: 10_000 });
    fc.assert(fc.property(datagrams, (b) => only(() => parseUdpScrape(b))), { seed, numRuns: 10_000 });
  });
});
