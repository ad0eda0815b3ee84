/**
 * Encrypted connections (MSE/PE) with real peers on 127.0.0.1: libtorrent (pe_forced and enabled, both
 * directions, a magnet's metadata), Transmission (encryption required, both directions), spritzle with
 * itself (forced both sides), and forced against a plaintext-only peer failing with the reason.
 */
import { describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import Wire from 'bittorrent-protocol';
import type { PeerInfo, TorrentHandle } from '@spritzle/engine';
import { dataFiles, makeTorrent, sameBytes, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { finished, sessionsForThisFile, waitFor } from '../helpers/engine.js';
import { startLtDownload, startLtSeed } from '../helpers/libtorrent.js';
import { startTransmission } from '../helpers/transmission.js';
import { generateDhKeyPair } from '../../packages/engine/src/transport/mse-handshake.js';
import { MseTransport } from '../../packages/engine/src/transport/mse.js';
import { TcpTransport } from '../../packages/engine/src/transport/tcp.js';
import { createTorrentFromData } from '@spritzle/engine';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

const newSession = sessionsForThisFile();
const FORCED = { out_enc_policy: 'forced', in_enc_policy: 'forced', allowed_enc_level: 'rc4' } as const;
/** A downloader that takes a second or two, so that its connection is still in the peer list when looked at. */
const SLOW = { download_rate_limit: 1024 * 1024 } as const;
/** The same for a seed. */
const SLOW_UP = { upload_rate_limit: 1024 * 1024 } as const;

async function sameData(t: TestTorrent, save: string): Promise<void> {
  const src = dataFiles(t, t.dataRoot);
  const dst = dataFiles(t, save);
  for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
}

/** The peer list's view of a connection that is (or was, while it lasted) up: polled until one appears. */
async function peerSeen(h: TorrentHandle): Promise<PeerInfo> {
  let seen: PeerInfo | undefined;
  await waitFor(() => (seen = h.peers()[0]) !== undefined, 30_000, 'a connected peer');
  return seen!;
}

async function torrent(name: string, size = 3_000_000): Promise<TestTorrent> {
  return makeTorrent({ dir: await tmpDir(`mse-${name}`), name: `${name}.bin`, files: size, pieceLength: 65536 });
}

describe('MSE with libtorrent', () => {
  it('downloads from a libtorrent seed whose encryption is forced (RC4), and says so in the peer list', async () => {
    const t = await torrent('lt-forced-seed');
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { encryption: 'forced' });
    const session = await newSession(SLOW); // default policy: enabled, tries encryption first
    const save = await tmpDir('mse-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    const p = await peerSeen(h);
    expect(p.rc4_encrypted).toBe(true);
    expect(p.flags).toContain('E');
    await finished(session, h);
    await sameData(t, save);
    const stats = await seed.stop();
    expect(stats.peers_seen.some((s) => s.encryption === 'rc4')).toBe(true);
    expect(session.stats()['net.recv_payload_bytes']!).toBeGreaterThanOrEqual(3_000_000);
  });

  it('seeds to a libtorrent whose encryption is forced, with ours forced too', async () => {
    const t = await torrent('lt-forced-get', 2_500_000);
    const session = await newSession({ ...FORCED, ...SLOW_UP });
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('mse-lt-get');
    const dl = startLtDownload(t.torrentPath, save, [session.listenPort], 60, { encryption: 'forced' });
    expect((await peerSeen(h)).rc4_encrypted).toBe(true);
    const result = await dl.done;
    expect(result.ok).toBe(true);
    expect(result.peer_encryption).toEqual(['rc4']);
    await sameData(t, save);
    expect(session.stats()['net.sent_payload_bytes']!).toBeGreaterThanOrEqual(2_500_000);
  });

  it('is dialled by a libtorrent with encryption enabled and accepts it encrypted (incoming detection)', async () => {
    const t = await torrent('lt-enabled-in', 1_500_000);
    const session = await newSession({ prefer_rc4: true, ...SLOW_UP });
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('mse-lt-enabled');
    const dl = startLtDownload(t.torrentPath, save, [session.listenPort], 60, { encryption: 'enabled' });
    expect((await peerSeen(h)).rc4_encrypted).toBe(true);
    const result = await dl.done;
    expect(result.ok).toBe(true);
    expect(result.peer_encryption).toEqual(['rc4']);
    await sameData(t, save);
  });

  it('downloads from a libtorrent with encryption enabled: MSE, and plaintext payload as libtorrent prefers', async () => {
    const t = await torrent('lt-enabled-seed', 1_500_000);
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { encryption: 'enabled' });
    const session = await newSession(SLOW);
    const save = await tmpDir('mse-dl-enabled');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    const p = await peerSeen(h);
    expect(p.plaintext_encrypted).toBe(true);
    await finished(session, h);
    await sameData(t, save);
    await seed.stop();
  });

  it('fetches a magnet\'s metadata over an encrypted connection', async () => {
    const t = await torrent('lt-magnet', 1_000_000);
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { encryption: 'forced' });
    const session = await newSession(FORCED);
    const save = await tmpDir('mse-magnet');
    const h = await session.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}&x.pe=127.0.0.1:${seed.port}`, save_path: save });
    await finished(session, h);
    await sameData(t, save);
    expect(h.status().has_metadata).toBe(true);
    await seed.stop();
  });

  it('falls back to plaintext, by default, when a libtorrent refuses encryption', async () => {
    const t = await torrent('lt-refuse', 1_000_000);
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { encryption: 'refuse' });
    const session = await newSession();
    const save = await tmpDir('mse-fallback');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    await finished(session, h);
    await sameData(t, save);
    expect(session.stats()['peer.error_encrypted_peers']!).toBeGreaterThanOrEqual(1);
    await seed.stop();
  });
});

describe('MSE with Transmission (encryption required)', () => {
  it('downloads from Transmission', async () => {
    const t = await torrent('tr-seed', 2_000_000);
    const tr = await startTransmission(await tmpDir('mse-tr'), { encryption: 2 });
    try {
      const id = await tr.add(t.torrentBytes, t.dataRoot);
      await tr.waitFor(id, (x) => x.percentDone === 1);
      const session = await newSession({ ...FORCED, ...SLOW });
      const save = await tmpDir('mse-tr-dl');
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${tr.peerPort}`] });
      const p = await peerSeen(h);
      expect(p.rc4_encrypted).toBe(true);
      await finished(session, h);
      await sameData(t, save);
    } finally {
      await tr.stop();
    }
  });

  it('seeds to Transmission', async () => {
    const t = await torrent('tr-get', 2_000_000);
    const tr = await startTransmission(await tmpDir('mse-tr2'), { encryption: 2 });
    try {
      const session = await newSession(FORCED);
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
      await waitFor(() => h.status().state === 'seeding');
      const save = await tmpDir('mse-tr-got');
      const id = await tr.add(t.torrentBytes, save);
      h.connectPeer('127.0.0.1', tr.peerPort); // Transmission dials no one it was not told of
      const done = await tr.waitFor(id, (x) => x.percentDone === 1);
      expect(done.error).toBe(0);
      await sameData(t, save);
    } finally {
      await tr.stop();
    }
  });
});

describe('MSE with Transmission preferring plaintext, against our default settings', () => {
  // Transmission's encryption 0 (prefer plaintext) answers our crypto_provide (plaintext and RC4) with
  // plaintext and then reads our BitTorrent handshake in the clear: an RC4-encrypted IA read as garbage
  // made it close every connection. With encryption 1 it selects RC4.
  for (const [encryption, level] of [[0, 'both'], [0, 'plaintext'], [1, 'both']] as const) {
    it(`downloads from Transmission (encryption ${encryption}) with allowed_enc_level ${level}`, async () => {
      const t = await torrent(`tr${encryption}-${level}`, 1_500_000);
      const tr = await startTransmission(await tmpDir('mse-tr-pref'), { encryption });
      try {
        const id = await tr.add(t.torrentBytes, t.dataRoot);
        await tr.waitFor(id, (x) => x.percentDone === 1);
        const session = await newSession({ enable_outgoing_utp: false, allowed_enc_level: level, ...SLOW });
        const save = await tmpDir('mse-tr-pref-dl');
        const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${tr.peerPort}`] });
        const p = await peerSeen(h);
        expect(encryption === 0 ? p.plaintext_encrypted : p.rc4_encrypted).toBe(true);
        await finished(session, h);
        await sameData(t, save);
        expect(session.stats()['peer.error_encrypted_peers'] ?? 0).toBe(0);
      } finally {
        await tr.stop();
      }
    });
  }

  it('seeds to Transmission (encryption 0) that it dials', async () => {
    const t = await torrent('tr0-get', 1_500_000);
    const tr = await startTransmission(await tmpDir('mse-tr0-get'), { encryption: 0 });
    try {
      const session = await newSession({ enable_outgoing_utp: false });
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
      await waitFor(() => h.status().state === 'seeding');
      const save = await tmpDir('mse-tr0-got');
      const id = await tr.add(t.torrentBytes, save);
      h.connectPeer('127.0.0.1', tr.peerPort); // Transmission dials no one it was not told of
      const done = await tr.waitFor(id, (x) => x.percentDone === 1);
      expect(done.error).toBe(0);
      await sameData(t, save);
      expect(session.stats()['peer.error_encrypted_peers'] ?? 0).toBe(0);
    } finally {
      await tr.stop();
    }
  });
});

describe('plaintext retry (out_enc_policy enabled)', () => {
  it('dials in plaintext after an encrypted attempt fails in the handshake, even when the peer answered our key', async () => {
    // In front of a plaintext-only seed: a peer that answers an MSE public key with one of its own, then
    // closes (as Transmission did before; a fast plaintext redial is only for peers that never answer).
    const t = await torrent('retry', 500_000);
    const plain = await newSession({ out_enc_policy: 'disabled', in_enc_policy: 'disabled' });
    const hp = await plain.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => hp.status().state === 'seeding');
    const kinds: string[] = [];
    const sockets = new Set<net.Socket>();
    const front = net.createServer((sock) => {
      sockets.add(sock);
      sock.once('data', (first: Buffer) => {
        if (first[0] === 19) {
          kinds.push('plaintext');
          const up = net.connect(plain.listenPort, '127.0.0.1', () => up.write(first));
          sockets.add(up);
          sock.pipe(up).pipe(sock);
          up.on('error', () => sock.destroy());
          sock.on('error', () => up.destroy());
          return;
        }
        kinds.push('mse');
        sock.write(generateDhKeyPair().publicKey);
        sock.once('data', () => sock.destroy()); // step 3: refused
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (front.address() as net.AddressInfo).port;
      const session = await newSession({ enable_outgoing_utp: false });
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('mse-retry'), peers: [`127.0.0.1:${port}`] });
      await waitFor(() => kinds.length >= 2, 30_000, 'a second dial');
      expect(kinds.slice(0, 2)).toEqual(['mse', 'plaintext']);
      await finished(session, h);
      expect(h.status().total_payload_download).toBeGreaterThanOrEqual(500_000);
    } finally {
      for (const s of sockets) s.destroy();
      front.close();
    }
  });
});

describe('incoming MSE handshakes find their torrent by its SKEY', () => {
  /** An encrypted handshake naming `skey` to the session: the method, or why it failed. */
  async function handshake(port: number, skey: Uint8Array): Promise<string> {
    const tcp = TcpTransport.connect('127.0.0.1', port);
    await new Promise<void>((r) => tcp.socket.once('connect', () => r()));
    return new Promise<string>((resolve) => {
      const mse = MseTransport.outgoing(tcp, {
        skey, level: 'rc4',
        onHandshakeEnd: (r, reason) => {
          resolve(r ? r.method : reason ?? 'failed');
          mse.close('done');
        },
      });
      mse.attach({ onData() {}, onDrain() {}, onClosed() {} });
    });
  }

  it('by a hybrid\'s v1 hash and its truncated v2 hash, and by neither once it is removed', async () => {
    const data = randomBytes(50_000);
    const t = createTorrentFromData([{ path: ['h.bin'], data }], { version: 'hybrid', pieceLength: 16384, name: 'h.bin', singleFile: true });
    const dir = await tmpDir('mse-skey');
    await writeFile(path.join(dir, 'h.bin'), data);
    const session = await newSession();
    const h = await session.addTorrent({ ti: t.torrent, save_path: dir });
    await waitFor(() => h.status().state === 'seeding');
    const v1 = Buffer.from(t.infoHashV1!, 'hex');
    const v2 = Buffer.from(t.infoHashV2!.slice(0, 40), 'hex');
    expect(await handshake(session.listenPort, v1)).toBe('rc4');
    expect(await handshake(session.listenPort, v2)).toBe('rc4');
    await session.removeTorrent(t.infoHashV1!);
    expect(await handshake(session.listenPort, v1)).toMatch(/closed/);
    expect(await handshake(session.listenPort, v2)).toMatch(/closed/);
  });
});

describe('MSE between spritzles', () => {
  it('forced on both sides: the download is RC4-encrypted end to end', async () => {
    const t = await torrent('sz-forced', 2_000_000);
    const seeder = await newSession(FORCED);
    const hs = await seeder.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => hs.status().state === 'seeding');
    const leecher = await newSession({ ...FORCED, ...SLOW });
    const save = await tmpDir('mse-sz');
    const h = await leecher.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seeder.listenPort}`] });
    const p = await peerSeen(h);
    expect(p.rc4_encrypted).toBe(true);
    expect((await peerSeen(hs)).rc4_encrypted).toBe(true);
    await finished(leecher, h);
    await sameData(t, save);
  });

  it('forced against a plaintext-only peer fails cleanly, with the reason in the disconnect event', async () => {
    const t = await torrent('sz-refused', 500_000);
    const plain = await newSession({ out_enc_policy: 'disabled', in_enc_policy: 'disabled' });
    const hp = await plain.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => hp.status().state === 'seeding');
    const forced = await newSession(FORCED);
    const disconnects: { ip: string; port: number; reason: string }[] = [];
    forced.on('peer_disconnected', (e) => disconnects.push(e));
    const h = await forced.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('mse-refused'), peers: [`127.0.0.1:${plain.listenPort}`] });
    // The plaintext-only side drops the encrypted handshake; the forced side says so and never falls back.
    await waitFor(() => disconnects.length > 0, 30_000, 'a disconnect event');
    expect(disconnects[0]).toMatchObject({ port: plain.listenPort });
    expect(disconnects[0]!.reason).toMatch(/during the encryption handshake/);
    expect(forced.stats()['peer.error_encrypted_peers']!).toBeGreaterThanOrEqual(1);
    expect(h.peers()).toEqual([]);
    expect(h.status().total_payload_download).toBe(0);
  });

  it('forced refuses a plaintext connection: the peer is closed before any BitTorrent byte reaches it', async () => {
    const t = await torrent('sz-refuse-in', 100_000);
    const forced = await newSession(FORCED);
    await forced.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const sock = net.connect(forced.listenPort, '127.0.0.1');
    const handshake = Buffer.alloc(68);
    handshake[0] = 19;
    handshake.write('BitTorrent protocol', 1);
    Buffer.from(t.infoHash, 'hex').copy(handshake, 28);
    sock.write(handshake);
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    expect(Buffer.concat(got).length).toBe(0);
    expect(forced.stats()['peer.disconnected_peers']!).toBeGreaterThanOrEqual(1);
  });
});

describe('MSE with WebTorrent\'s wire', () => {
  // The webtorrent package needs Node 22 and a native WebRTC build, so it is not installed here; its peer wire,
  // bittorrent-protocol 5 (a devDependency), carries its MSE. This is how WebTorrent dials a peer with its
  // default `secure`: the encrypted handshake first, the BitTorrent one once it is done.
  it('downloads every block from a spritzle seed over a real socket, RC4-encrypted', async () => {
    const t = await makeTorrent({ dir: await tmpDir('mse-wt'), name: 'wt.bin', files: 300_000, pieceLength: 32768 });
    const session = await newSession();
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const sock = net.connect(session.listenPort, '127.0.0.1');
    const wire = new Wire('tcpOutgoing', 2);
    sock.pipe(wire as never);
    wire.pipe(sock);
    try {
      await new Promise<void>((resolve, reject) => {
        wire.on('crypto-handshake', () => wire.handshake(t.infoHash, Buffer.from('-WW0208-000000000000'), { fast: true }));
        wire.on('unchoke', () => resolve());
        wire.on('close', () => reject(new Error('closed')));
        wire.on('bitfield', () => wire.interested());
        wire.on('have-all', () => wire.interested());
        sock.on('connect', () => wire.startEncryption(t.infoHash));
      });
      const data = await readFile(dataFiles(t, t.dataRoot)[0]!);
      const got = Buffer.alloc(data.length);
      const blocks: Promise<void>[] = [];
      for (let piece = 0; piece * 32768 < data.length; piece++) {
        for (let off = 0; off < 32768 && piece * 32768 + off < data.length; off += 16384) {
          const len = Math.min(16384, data.length - piece * 32768 - off);
          blocks.push(new Promise((resolve, reject) => wire.request(piece, off, len, (err, block) => {
            if (err || !block) return reject(err ?? new Error('no block'));
            got.set(block, piece * 32768 + off);
            resolve();
          })));
        }
      }
      await Promise.all(blocks);
      expect(got.equals(data)).toBe(true);
      const p = h.peers()[0]!;
      expect(p.rc4_encrypted).toBe(true);
      expect(Buffer.from(p.peer_id, 'hex').toString()).toBe('-WW0208-000000000000');
    } finally {
      wire.destroy();
      sock.destroy();
    }
  });
});
