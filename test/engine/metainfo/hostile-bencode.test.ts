import { describe, it, expect, afterAll } from '@jest/globals';
import dgram from 'node:dgram';
import { Session, SpritzleError, parseTorrentFile, decodeResumeData, encodeResumeData } from '@spritzle/engine';
import { MAX_FILES, MAX_TORRENT_FILE_SIZE } from '../../../packages/engine/src/metainfo/metainfo.js';
import { parsePexMessage } from '../../../packages/engine/src/discovery/pex.js';
import { isKrpcDatagram, krpcQuery } from '../../../packages/engine/src/discovery/dht-socket.js';
import { startPlainDhtNodes, stopPlainDhtNodes, type PlainDhtNode } from '../../helpers/dht.js';
import { waitFor } from '../../helpers/engine.js';
import { tmpDir } from '../../helpers/fixtures.js';

// Issue 9, section 1: bencode 4 (and k-rpc-socket's bencode 2) walk backwards on a negative string length,
// so these five bytes looped until the heap was gone in every decoder of outside bytes.
const L_MINUS_3 = Buffer.from('l-3:e');

function errorOf(f: () => unknown): SpritzleError {
  try {
    f();
  } catch (e) {
    if (e instanceof SpritzleError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** A multi-file .torrent of `n` one-byte files, written directly (create-torrent is far too slow for 300k files). */
function manyFilesTorrent(n: number): Uint8Array {
  const pieceLength = 1 << 20;
  const numPieces = Math.ceil(n / pieceLength);
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${i}`;
    files.push(`d6:lengthi1e4:pathl${name.length}:${name}ee`);
  }
  const head = `d4:infod5:filesl${files.join('')}e4:name4:many12:piece lengthi${pieceLength}e6:pieces${numPieces * 20}:`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(numPieces * 20), Buffer.from('ee')]);
}

describe('the library refuses hostile bencode with typed errors', () => {
  it('parseTorrentFile(l-3:e) is an invalid_torrent error', () => {
    const e = errorOf(() => parseTorrentFile(L_MINUS_3));
    expect(e.code).toBe('invalid_torrent');
    expect(e.message).toMatch(/not bencoded/);
  });

  it('Session.addTorrent({ ti: l-3:e }) rejects with invalid_torrent and the session keeps working', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('hostile-ti') });
    try {
      await expect(s.addTorrent({ ti: L_MINUS_3 })).rejects.toMatchObject({ code: 'invalid_torrent' });
      expect(s.torrents()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('decodeResumeData(l-3:e) is an invalid_param error for resume_data', () => {
    const e = errorOf(() => decodeResumeData(L_MINUS_3));
    expect(e.code).toBe('invalid_param');
    expect(e.field).toBe('resume_data');
  });

  it('a resume file whose info-bytes are l-3:e is refused when the torrent is added', async () => {
    const resume = encodeResumeData({
      info_hash: 'aa'.repeat(20), name: 'x', save_path: '/tmp', flags: 0, trackers: [], tracker_tiers: [], peers: [],
      added_time: 0, completed_time: 0, total_uploaded: 0, total_downloaded: 0, active_time: 0, finished_time: 0, seeding_time: 0,
    });
    // Splice an info-bytes entry in by hand: encodeResumeData would decode it.
    const bytes = Buffer.concat([resume.subarray(0, resume.length - 1), Buffer.from('10:info-bytes5:l-3:ee')]);
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('hostile-resume') });
    try {
      await expect(s.addTorrent({ resume_data: bytes })).rejects.toBeInstanceOf(SpritzleError);
    } finally {
      await s.close();
    }
  });

  it('a PEX payload l-3:e gives no peers', () => {
    expect(parsePexMessage(L_MINUS_3)).toEqual([]);
  });

  it('the DHT socket lets no datagram through that is not one bencoded dictionary', () => {
    expect(isKrpcDatagram(L_MINUS_3)).toBe(false);
    expect(isKrpcDatagram(Buffer.from('d1:y-3:qe'))).toBe(false);
    expect(isKrpcDatagram(Buffer.from('d1:y1:qe1:x'))).toBe(false);
    expect(isKrpcDatagram(Buffer.from('d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe'))).toBe(true);
  });
});

describe('metadata size limits (issue 9, section 5)', () => {
  it(`a .torrent with 300,000 one-byte files is refused quickly, the error naming the limit of ${MAX_FILES} and the count`, () => {
    const bytes = manyFilesTorrent(300_000);
    expect(bytes.length).toBeLessThan(MAX_TORRENT_FILE_SIZE);
    const e = errorOf(() => parseTorrentFile(bytes));
    expect(e.code).toBe('invalid_torrent');
    expect(e.message).toContain(`more than ${MAX_FILES} files`);
    expect(e.message).toContain('300000');
  });

  it(`a .torrent with exactly ${MAX_FILES} files loads`, () => {
    const t = parseTorrentFile(manyFilesTorrent(MAX_FILES));
    expect(t.files.length).toBe(MAX_FILES);
    expect(t.totalLength).toBe(MAX_FILES);
  });

  it('a .torrent larger than the limit is refused before it is decoded', () => {
    const e = errorOf(() => parseTorrentFile(new Uint8Array(MAX_TORRENT_FILE_SIZE + 1)));
    expect(e.code).toBe('invalid_torrent');
    expect(e.message).toContain(`limit of ${MAX_TORRENT_FILE_SIZE}`);
  });

  it('a .torrent nested deeper than 100 levels is refused', () => {
    const deep = Buffer.from(`d4:infod1:x${'l'.repeat(200)}${'e'.repeat(200)}ee`);
    expect(errorOf(() => parseTorrentFile(deep)).code).toBe('invalid_torrent');
  });

  it('a .torrent with two info dictionaries is refused (the hashed bytes and the fields read must be the same)', () => {
    const info = (name: string): string => `d6:lengthi1e4:name1:${name}12:piece lengthi16384e6:pieces20:${'a'.repeat(20)}e`;
    const e = errorOf(() => parseTorrentFile(Buffer.from(`d4:info${info('a')}4:info${info('b')}e`)));
    expect(e.code).toBe('invalid_torrent');
    expect(e.message).toMatch(/"info" appears twice/);
  });
});

describe('the DHT port under garbage datagrams', () => {
  let plain: PlainDhtNode[] = [];
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await stopPlainDhtNodes(plain);
  });

  it('l-3:e and other garbage sent to a session\'s DHT port are dropped; the node still answers and a new node joins through it', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: true, dht_bootstrap_nodes: '' });
    sessions.push(s);
    await waitFor(() => s.dhtPort > 0, 10_000, 'the DHT to listen');
    const port = s.dhtPort;
    const garbage = [
      L_MINUS_3, Buffer.from('d1:t2:aa1:y1:q1:q4:ping1:ad2:id-20:e'), Buffer.from('l'.repeat(5000)), Buffer.from('i-0e'),
      Buffer.from('d1:ad2:id20:'), Buffer.from(`d1:x${'9'.repeat(30)}:e`), Buffer.alloc(0), Buffer.from('de garbage'),
    ];
    const client = dgram.createSocket('udp4');
    const heapBefore = process.memoryUsage().heapUsed;
    const rounds = 100;
    for (let i = 0; i < rounds; i++) {
      for (const g of garbage) await new Promise<void>((resolve) => client.send(g, port, '127.0.0.1', () => resolve()));
      // The session reads in this process: a pause per round keeps the socket's receive buffer from overflowing.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    client.close();
    const dropped = (): number => s.stats()['dht.dht_messages_in_dropped'] ?? 0;
    // Loopback UDP may still lose a few under load: most, not all, must have arrived and been dropped.
    await waitFor(() => dropped() >= rounds * garbage.length * 0.9, 10_000, 'the garbage to be counted as dropped');
    // 800 dropped datagrams cost no memory worth the name (the old decoder's loop grew the heap until it died).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);

    // The node still answers: a plain node pings it into its table, and a second session bootstraps from it.
    plain = await startPlainDhtNodes(1);
    plain[0]!.dht.addNode({ host: '127.0.0.1', port });
    await waitFor(() => plain[0]!.dht.nodes.count() > 0, 10_000, 'the plain node to reach the session');
    const second = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: true, dht_bootstrap_nodes: `127.0.0.1:${port}` });
    sessions.push(second);
    await waitFor(() => (second.stats()['dht.dht_nodes'] ?? 0) > 0, 10_000, 'the second session to bootstrap from the first');
    // The per-method counters, read from the datagrams' bytes, saw the plain node's ping and the second session's queries.
    expect(s.stats()['dht.dht_ping_in']).toBeGreaterThan(0);
    expect(second.stats()['dht.dht_find_node_out']).toBeGreaterThan(0);
    await waitFor(() => (s.stats()['dht.dht_find_node_in'] ?? 0) > 0, 10_000, 'find_node to be counted');
  });

  it('krpcQuery names the method of a query and nothing else', () => {
    const id = 'a'.repeat(20);
    expect(krpcQuery(Buffer.from(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:qe`))).toBe(0);
    expect(krpcQuery(Buffer.from(`d1:ad2:id20:${id}9:info_hash20:${id}e1:q9:get_peers1:t2:aa1:y1:qe`))).toBe(2);
    expect(krpcQuery(Buffer.from(`d1:q4:ping1:rd2:id20:${id}e1:t2:aa1:y1:re`))).toBe(-1);
    expect(krpcQuery(Buffer.from('d1:q5:other1:t2:aa1:y1:qe'))).toBe(-1);
  });
});
