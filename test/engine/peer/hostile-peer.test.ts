import { describe, it, expect, afterAll } from '@jest/globals';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';
import { servePeers, handPeer, wireMessage, u32, type PeerServer } from '../../helpers/raw-peer.js';

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
  // The liar speaks TCP only: dialling it over TCP at once (not after a uTP attempt) keeps it "connected
  // at once" with the honest seed.
  const leech = await session({ enable_outgoing_utp: false });
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
    // Banned means banned: the liar is not dialled again. (Its first dial may have taken two connections:
    // an encrypted attempt, which the plaintext-only liar drops, then plaintext.)
    const dialled = liar.connections();
    h.connectPeer('127.0.0.1', liar.port);
    await new Promise((r) => setTimeout(r, 300));
    expect(liar.connections()).toBe(dialled);
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

describe('a peer that breaks the wire protocol', () => {
  // Three 256 KiB pieces: a 1-byte bitfield with 5 spare bits.
  let torrent: Awaited<ReturnType<typeof makeTorrent>> | null = null;
  async function seeding(settings: Record<string, unknown> = {}) {
    torrent ??= await makeTorrent({ dir: await tmpDir('wire-src'), name: 'w.bin', files: 600_000, pieceLength: 262144 });
    const s = await session(settings);
    const h = await s.addTorrent({ ti: torrent.torrentBytes, save_path: torrent.dataRoot });
    await waitFor(() => h.status().is_seeding);
    const reasons: string[] = [];
    s.on('peer_disconnected', ({ reason }) => reasons.push(reason));
    return { s, t: torrent, reasons };
  }
  const UNCHOKE = wireMessage(1);

  /** Connects, lets the engine unchoke us, sends `bytes`; returns the reason the engine gave for hanging up. */
  async function hostile(bytes: number[], unchoked = false): Promise<{ reason: string; stats: Record<string, number> }> {
    const { s, t, reasons } = await seeding();
    const p = await handPeer(s.listenPort, t.infoHash);
    if (unchoked) {
      p.send(wireMessage(2)); // interested
      await p.waitFor(UNCHOKE);
    }
    p.send(bytes);
    await p.closed;
    await waitFor(() => reasons.length > 0, 5000, 'the disconnect event');
    return { reason: reasons[0]!, stats: s.stats() };
  }

  it.each([
    ['a bitfield of the wrong length', wireMessage(5, 0, 0), /bitfield of 2 bytes for 3 pieces/],
    ['a bitfield with spare bits set', wireMessage(5, 0b00010000), /spare bits/],
    ['a second bitfield', [...wireMessage(5, 0), ...wireMessage(5, 0)], /second bitfield/],
    ['a have for piece 99999', wireMessage(4, u32(99999)), /have for piece 99999/],
    ['a choke with a payload', wireMessage(0, 0), /choke message of 2 bytes/],
    ['an extended handshake l-3:e', wireMessage(20, 0, Buffer.from('l-3:e')), /invalid bencode/],
    ['a ut_pex message l-3:e', [...wireMessage(20, 0, Buffer.from('d1:md6:ut_pexi1eee')), ...wireMessage(20, 1, Buffer.from('l-3:e'))], /invalid ut_pex message/],
  ])('%s: disconnected and counted', async (_name, bytes, reason) => {
    const { reason: got, stats } = await hostile(bytes);
    expect(got).toMatch(reason);
    expect(stats['peer.invalid_arg_peers']).toBe(1);
  });

  it.each([
    ['beyond the piece', wireMessage(6, u32(2), u32(600_000 - 524288 - 100), u32(16384)), /request for 16384 bytes/],
    ['of length 0', wireMessage(6, u32(0), u32(0), u32(0)), /request for 0 bytes/],
    ['of more than 128 KiB', wireMessage(6, u32(0), u32(0), u32(131073)), /request for 131073 bytes/],
    ['for piece 99999', wireMessage(6, u32(99999), u32(0), u32(16384)), /request for piece 99999/],
  ])('a request %s: disconnected and counted', async (_name, bytes, reason) => {
    const { reason: got, stats } = await hostile(bytes, true);
    expect(got).toMatch(reason);
    expect(stats['peer.invalid_arg_peers']).toBe(1);
  });

  it('blocks nobody asked for: a few are tolerated, a stream of them is disconnected', async () => {
    const block = (i: number) => wireMessage(7, u32(0), u32(i * 16384), new Uint8Array(16384));
    const { reason, stats } = await hostile([...Array(10).keys()].flatMap(block));
    expect(reason).toMatch(/sent 9 blocks we never requested/);
    expect(stats['peer.invalid_arg_peers']).toBe(1);
  });

  it('metadata requests: one copy and a few more are answered, the rest rejected, a flood disconnected (issue 9, 6)', async () => {
    const { s, t, reasons } = await seeding();
    const p = await handPeer(s.listenPort, t.infoHash);
    p.send(wireMessage(20, 0, Buffer.from('d1:md11:ut_metadatai3eee')));
    // Requests go to the id the engine's extended handshake gave ut_metadata.
    await p.waitFor([...Buffer.from('11:ut_metadatai')]);
    const id = Number(/11:ut_metadatai(\d+)e/.exec(p.received().toString('latin1'))![1]);
    const request = wireMessage(20, id, Buffer.from('d8:msg_typei0e5:piecei0ee'));
    p.send(Array.from({ length: 5000 }, () => request).flat());
    await p.closed;
    await waitFor(() => reasons.length > 0, 5000, 'the disconnect event');
    expect(reasons[0]).toMatch(/metadata: more than 64 requests refused/);
    const stats = s.stats();
    // The info dictionary is one piece: 1 + 2 answered, 65 rejected, then the connection ends.
    expect(stats['ses.num_outgoing_metadata']).toBe(3 + 65);
    expect(p.received().length).toBeLessThan(20_000);
  });

  it('metadata bytes count against the upload rate limit: in debt, requests are rejected', async () => {
    const { s, t } = await seeding();
    s.applySettings({ upload_rate_limit: 100 });
    const p = await handPeer(s.listenPort, t.infoHash);
    p.send(wireMessage(20, 0, Buffer.from('d1:md11:ut_metadatai3eee')));
    await p.waitFor([...Buffer.from('11:ut_metadatai')]);
    const id = Number(/11:ut_metadatai(\d+)e/.exec(p.received().toString('latin1'))![1]);
    const request = wireMessage(20, id, Buffer.from('d8:msg_typei0e5:piecei0ee'));
    p.send([...request, ...request, ...request]);
    const count = (what: string): number => p.received().toString('latin1').split(what).length - 1;
    await waitFor(() => count('8:msg_typei1e') + count('8:msg_typei2e') === 3, 5000, 'three answers');
    // The first answer overdraws the 100 B/s budget (the info dictionary is larger): the other two wait for it.
    expect(count('8:msg_typei1e')).toBe(1);
    p.socket.destroy();
  });

  it('a peer that asks for much and reads nothing pins at most the send watermark; once it reads, it gets every block', async () => {
    const { s, t } = await seeding();
    const p = await handPeer(s.listenPort, t.infoHash);
    p.send(wireMessage(2)); // interested
    await p.waitFor(UNCHOKE);
    p.socket.pause(); // reads nothing from now on
    const n = 2000;
    const request = wireMessage(6, u32(0), u32(0), u32(32768));
    p.send(Array.from({ length: n }, () => request).flat());
    await new Promise((r) => setTimeout(r, 1500));
    // 64 MiB asked for; what left the engine is what the kernel's socket buffers took plus at most 1 MiB.
    const sent = s.stats()['net.sent_payload_bytes']!;
    expect(sent).toBeLessThan(24 * 1024 * 1024);
    p.socket.resume();
    await waitFor(() => p.received().length >= n * (13 + 32768), 20_000, 'every block');
    expect(s.stats()['net.sent_payload_bytes']).toBe(n * 32768);
  });

  it('an encrypted (MSE) handshake is closed at once, not counted as a protocol violation (no MSE transport yet)', async () => {
    const { s } = await seeding();
    const sock = net.connect(s.listenPort, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.resume();
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    // An MSE initiator starts with its 96-byte Diffie-Hellman key: the first byte is anything but 19.
    const key = randomBytes(96);
    key[0] = 0x8c;
    sock.write(key);
    await closed;
    expect(s.stats()['peer.invalid_arg_peers']).toBe(0);
  });
});
