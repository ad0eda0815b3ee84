import { describe, it, expect, afterAll } from '@jest/globals';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from './helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from './helpers/engine.js';
import { servePeers, type PeerServer } from './helpers/raw-peer.js';

/** A peer that claims every piece and answers every request with random bytes. */
function startLiar(): Promise<PeerServer> {
  return servePeers((wire) => {
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, randomBytes(20), { fast: true });
      if (wire.hasFast) wire.haveAll();
      wire.unchoke();
    });
    wire.on('request', (_i: number, _o: number, length: number, respond: (e: Error | null, b?: Uint8Array) => void) => {
      respond(null, randomBytes(length));
    });
  });
}

const session = sessionsForThisFile();
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup) await f();
});

/** A liar, an honest session seeding `t`, and a leeching session that records the ports it bans. */
async function liarSeedAndLeech(t: Awaited<ReturnType<typeof makeTorrent>>) {
  const liar = await startLiar();
  cleanup.push(liar.close);
  const seed = await session();
  const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await waitFor(() => sh.status().is_seeding);
  const leech = await session();
  const banned: number[] = [];
  leech.on('peer_banned', ({ port }) => banned.push(port));
  return { liar, seed, leech, banned };
}

describe('a peer that sends corrupt data', () => {

  it('never lands on disk, is banned, and the honest peer completes the download', async () => {
    const t = await makeTorrent({ dir: await tmpDir('liar-src'), name: 'honest.bin', files: 2_000_000, pieceLength: 65536 });
    const { liar, seed, leech, banned } = await liarSeedAndLeech(t);
    const save = await tmpDir('liar-dl');
    // The liar first, alone for a moment, so that it certainly delivers whole pieces.
    const h = await leech.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${liar.port}`] });
    await waitFor(() => banned.length > 0, 10_000, 'the liar to be banned');
    h.connectPeer('127.0.0.1', seed.listenPort);
    await finished(leech, h);

    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(banned).toEqual([liar.port]);
    const s = leech.stats();
    expect(s['peer.banned_for_hash_failure']).toBe(1);
    expect(s['ses.num_piece_failed']!).toBeGreaterThanOrEqual(1);
    expect(s['net.recv_failed_bytes']!).toBeGreaterThanOrEqual(65536);
    expect(h.status().total_failed_bytes).toBe(s['net.recv_failed_bytes']);
    // Banned means banned: the liar is not dialled again.
    h.connectPeer('127.0.0.1', liar.port);
    await new Promise((r) => setTimeout(r, 300));
    expect(liar.connections()).toBe(1);
  });

  it('with the liar and an honest seed connected at once, only the liar is banned', async () => {
    const t = await makeTorrent({ dir: await tmpDir('liar2-src'), name: 'mixed.bin', files: 3_000_000, pieceLength: 32768 });
    const { liar, seed, leech, banned } = await liarSeedAndLeech(t);
    const save = await tmpDir('liar2-dl');
    const h = await leech.addTorrent({
      ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${liar.port}`, `127.0.0.1:${seed.listenPort}`],
    });
    await finished(leech, h);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(banned).toEqual([liar.port]);
  });

  it('a peer announcing an absurd message length is disconnected before it is buffered', async () => {
    const t = await makeTorrent({ dir: await tmpDir('huge-src'), name: 'x.bin', files: 100_000 });
    const target = await session();
    await target.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('huge-dl') });
    const closed = await new Promise<boolean>((resolve) => {
      const sock = net.connect(target.listenPort, '127.0.0.1', () => {
        const hs = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), Buffer.from(t.infoHash, 'hex'), randomBytes(20)]);
        sock.write(hs);
        // A 1 GiB bitfield "message": a hostile length prefix.
        sock.write(Buffer.from([0x40, 0, 0, 0, 5]));
      });
      sock.on('error', () => undefined);
      // Read what the engine sends (its handshake): a socket with unread data never reports the close.
      sock.resume();
      sock.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5000).unref();
    });
    expect(closed).toBe(true);
    expect(target.stats()['peer.invalid_arg_peers']).toBe(1);
  });
});

describe('a peer that serves the wrong metadata', () => {
  it('is dropped, and the magnet keeps waiting for metadata that matches', async () => {
    const { default: utMetadata } = await import('ut_metadata');
    const wanted = await makeTorrent({ dir: await tmpDir('meta-want'), name: 'wanted.bin', files: 50_000 });
    const other = await makeTorrent({ dir: await tmpDir('meta-other'), name: 'other.bin', files: 60_000 });
    // Answers the handshake for any info-hash and serves the other torrent's info dictionary.
    const server = await servePeers((wire) => {
      wire.use(utMetadata(other.torrentBytes));
      wire.on('handshake', (infoHash: string) => wire.handshake(infoHash, randomBytes(20), { fast: true }));
    });
    cleanup.push(server.close);
    const port = server.port;
    const s = await session();
    const reasons: string[] = [];
    s.on('peer_disconnected', ({ reason }) => reasons.push(reason));
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${wanted.infoHash}&x.pe=127.0.0.1:${port}`, save_path: await tmpDir('meta-dl') });
    await waitFor(() => reasons.length > 0, 10_000, 'the peer to be dropped');
    expect(reasons[0]).toMatch(/metadata/);
    expect(h.status().has_metadata).toBe(false);
    expect(h.status().state).toBe('downloading_metadata');
  });
});
