// BitTorrent v2 and hybrid torrents (BEP 52) with a real peer written by someone else: Debian's libtorrent
// 2.0. Torrents from libtorrent's create_torrent (test/peers/lt_create.py) or spritzle's; data verified.
import { describe, it, expect, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from '@spritzle/engine';
import { tmpDir, sameBytes } from '../helpers/fixtures.js';
import { PYTHON, startLtSeed, startLtDownload, requireLibtorrent } from '../helpers/libtorrent.js';
import { waitFor, finished } from '../helpers/engine.js';
import { createTorrentFromPath } from '../../packages/engine/src/metainfo/create.js';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import {
  MSG, WireDecoder, encodeHandshake, encodeHashMessage, encodePieceHeader, encodeSimple, type WireHandler,
} from '../../packages/engine/src/wire/codec.js';
import { parseTorrentFile } from '../../packages/engine/src/metainfo/metainfo.js';
import type { SessionEvents } from '../../packages/engine/src/session/events.js';
import { ResumeStore } from '../../packages/cli/src/daemon/resume-store.js';
import { decodeResumeData } from '../../packages/engine/src/torrent/resume.js';
import { postForm, startApi } from '../helpers/server.js';
import { startLocalTracker } from '../helpers/trackers.js';

const LT_CREATE = fileURLToPath(new URL('../peers/lt_create.py', import.meta.url));
const PIECE = 32768;
/** Relative paths and sizes: an empty file, files smaller than a piece, one of several pieces, a subfolder. */
const FILES: [string, number][] = [['a.bin', 40_000], ['empty', 0], ['sub/big.bin', 700_001], ['sub/small', 100], ['z.txt', 16_384]];

/** A folder `name` under a fresh directory with FILES of random bytes; returns [parent, folder]. */
async function dataTree(name: string): Promise<[string, string]> {
  const parent = await tmpDir(`v2-${name}`);
  const root = path.join(parent, name);
  for (const [rel, size] of FILES) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), randomBytes(size));
  }
  return [parent, root];
}

/** libtorrent's .torrent for `root` (v2 or hybrid), written beside it; its path and v1/v2 hashes. */
function libtorrentTorrent(root: string, mode: 'v2' | 'hybrid'): { file: string; v1: string | null; v2: string } {
  const out = execFileSync(PYTHON, [LT_CREATE, root, String(PIECE), mode], { encoding: 'utf8', timeout: 60_000 });
  const ref = JSON.parse(out.trim()) as { torrent: string; v1: string | null; v2: string };
  const file = `${root}.${mode}.torrent`;
  writeFileSync(file, Buffer.from(ref.torrent, 'hex'));
  return { file, v1: ref.v1, v2: ref.v2 };
}

async function expectSameTree(a: string, b: string): Promise<void> {
  for (const [rel] of FILES) expect([rel, await sameBytes(path.join(a, rel), path.join(b, rel))]).toEqual([rel, true]);
}

describe('BitTorrent v2 and hybrid torrents with libtorrent', () => {
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
  });
  const session = async (): Promise<Session> => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    return s;
  };

  for (const mode of ['v2', 'hybrid'] as const) {
    it(`downloads a ${mode} multi-file torrent from a libtorrent seed (an empty file, files smaller than a piece)`, async () => {
      requireLibtorrent();
      const [parent, root] = await dataTree(`from-lt-${mode}`);
      const t = libtorrentTorrent(root, mode);
      const seed = await startLtSeed(t.file, parent);
      const s = await session();
      const save = await tmpDir(`v2-dl-${mode}`);
      const h = await s.addTorrent({ ti: readFileSync(t.file), save_path: save, peers: [`127.0.0.1:${seed.port}`] });
      expect(h.infoHash).toBe(t.v1 ?? t.v2.slice(0, 40));
      await finished(s, h);
      await expectSameTree(root, path.join(save, path.basename(root)));
      expect(s.stats()['ses.num_piece_failed'] ?? 0).toBe(0);
      await seed.stop();
    });
  }

  it('seeds a v2 torrent it created to libtorrent', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('to-lt-v2');
    const created = await createTorrentFromPath(root, { version: 'v2', pieceLength: PIECE });
    const file = `${root}.torrent`;
    writeFileSync(file, created.torrent);
    const s = await session();
    const h = await s.addTorrent({ ti: created.torrent, save_path: parent });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('v2-lt-get');
    const result = await startLtDownload(file, save, [s.listenPort], 60).done;
    expect(result).toMatchObject({ ok: true, hash_failures: 0 });
    await expectSameTree(root, path.join(save, 'to-lt-v2'));
  });

  it('seeds a v2 torrent to libtorrent from a v2 magnet, as the only peer (answering its hash requests)', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('magnet-v2');
    const created = await createTorrentFromPath(root, { version: 'v2', pieceLength: PIECE });
    const s = await session();
    const h = await s.addTorrent({ ti: created.torrent, save_path: parent });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('v2-lt-magnet');
    const result = await startLtDownload(`magnet:?xt=urn:btmh:1220${created.infoHashV2}&dn=magnet-v2`, save, [s.listenPort], 60).done;
    expect(result).toMatchObject({ ok: true, hash_failures: 0 });
    await expectSameTree(root, path.join(save, 'magnet-v2'));
    expect(s.stats()['ses.num_outgoing_hashes']!).toBeGreaterThan(0);
  });

  for (const mode of ['v2', 'hybrid'] as const) {
    it(`downloads a ${mode} torrent from a libtorrent seed by magnet (piece layers asked of the seed) and resumes it`, async () => {
      requireLibtorrent();
      const [parent, root] = await dataTree(`magnet-from-lt-${mode}`);
      const t = libtorrentTorrent(root, mode);
      const seed = await startLtSeed(t.file, parent);
      const s = await session();
      const save = await tmpDir(`v2-magnet-dl-${mode}`);
      const xt = `xt=urn:btmh:1220${t.v2}${t.v1 ? `&xt=urn:btih:${t.v1}` : ''}`;
      const h = await s.addTorrent({ url: `magnet:?${xt}`, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
      await finished(s, h);
      await expectSameTree(root, path.join(save, path.basename(root)));
      expect(s.stats()['ses.num_outgoing_hash_request']!).toBeGreaterThan(0);
      await seed.stop();
      // Resumed in a new session with no peer: the piece layers came with the resume data, so a recheck of
      // the data on disk finds every piece (nothing would verify without them).
      const resume = await h.saveResumeData();
      const s2 = await session();
      const h2 = await s2.addTorrent({ resume_data: resume, save_path: save });
      await waitFor(() => h2.status().state === 'seeding');
      await h2.forceRecheck();
      await waitFor(() => h2.status().state === 'seeding' && h2.status().progress === 1);
      expect(s2.stats()['ses.num_outgoing_hash_request'] ?? 0).toBe(0);
    });
  }

  it('seeds a hybrid to a libtorrent that knows only its v1 hash and to one that knows its v2 torrent', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('hybrid-seed');
    const created = await createTorrentFromPath(root, { version: 'hybrid', pieceLength: PIECE });
    const file = `${root}.torrent`;
    writeFileSync(file, created.torrent);
    const s = await session();
    const h = await s.addTorrent({ ti: created.torrent, save_path: parent });
    await waitFor(() => h.status().state === 'seeding');
    const [v1Save, v2Save] = [await tmpDir('hybrid-v1-get'), await tmpDir('hybrid-v2-get')];
    const [v1, v2] = await Promise.all([
      startLtDownload(`magnet:?xt=urn:btih:${created.infoHashV1!}`, v1Save, [s.listenPort], 60).done,
      startLtDownload(file, v2Save, [s.listenPort], 60).done,
    ]);
    expect([v1, v2]).toMatchObject([{ ok: true, hash_failures: 0 }, { ok: true, hash_failures: 0 }]);
    await expectSameTree(root, path.join(v1Save, 'hybrid-seed'));
    await expectSameTree(root, path.join(v2Save, 'hybrid-seed'));
  });

  it('a hybrid added by a btmh-only magnet is known by its v1 hash once the metadata shows it: every earlier hash still names it, both swarms take it, a restart keeps it under v1', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('btmh-hybrid');
    const t = libtorrentTorrent(root, 'hybrid');
    const v1 = t.v1!;
    const truncated = t.v2.slice(0, 40);
    const seed = await startLtSeed(t.file, parent);
    const tracker = await startLocalTracker();
    const api = await startApi();
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const stateDir = await tmpDir('btmh-hybrid-state');
    try {
      const store = new ResumeStore(api.session, stateDir, quiet, { defaultSavePath: api.root });
      await store.loadAll();
      store.start();
      const updates: SessionEvents['torrent_update'][] = [];
      api.session.on('torrent_update', (e) => updates.push(e));
      const res = await postForm(api, { url: `magnet:?xt=urn:btmh:1220${t.v2}&x.pe=127.0.0.1:${seed.port}&tr=${encodeURIComponent(tracker.httpUrl)}` });
      expect(res.status).toBe(201);
      // Before the metadata, libtorrent's get_best() of a v2 hash alone: the truncated v2 hash.
      expect(await res.json()).toEqual({ info_hash: truncated });
      const location = res.headers.get('location')!;
      const h = api.session.findTorrent(truncated)!;
      await finished(api.session, h);
      await expectSameTree(root, path.join(api.root, path.basename(root)));
      expect(updates).toEqual([{ info_hash: v1, old_info_hash: truncated, info_hashes: { v1, v2: t.v2 } }]);
      expect(h.infoHash).toBe(v1);
      for (const url of [location, `${api.url}/torrent/${truncated}`, `${api.url}/torrent/${t.v2}`, `${api.url}/torrent/${v1}`]) {
        expect([url, await (await fetch(url)).json()]).toMatchObject([url, { info_hash: v1, info_hashes: { v1, v2: t.v2 } }]);
      }
      expect(await (await fetch(`${api.url}/torrent`)).json()).toEqual([v1]);
      // Announced in both swarms, the v1 one as a swarm just joined.
      const ours = (hash: string): boolean => tracker.events.some((e) => e.infoHash === hash && e.event === 'start' && e.port === api.session.listenPort);
      await waitFor(() => ours(v1) && ours(truncated));
      // The v1 swarm takes it too: a libtorrent that knows only the v1 hash downloads from it alone.
      await seed.stop();
      const v1Save = await tmpDir('btmh-hybrid-v1-get');
      const got = await startLtDownload(`magnet:?xt=urn:btih:${v1}`, v1Save, [api.session.listenPort], 60).done;
      expect(got).toMatchObject({ ok: true, hash_failures: 0 });
      await expectSameTree(root, path.join(v1Save, path.basename(root)));
      // A restart: the state journal holds the torrent under its v1 hash alone (the magnet's record is gone).
      await store.close();
      const s2 = await session();
      const restored = await new ResumeStore(s2, stateDir, quiet, { defaultSavePath: api.root }).loadAll();
      expect(restored).toMatchObject({ restored: 1, broken: 0, failed: 0 });
      expect(s2.torrents().map((x) => x.infoHash)).toEqual([v1]);
      const h2 = s2.findTorrent(truncated)!;
      await waitFor(() => h2.status().state === 'seeding');
      expect(h2.status().info_hashes).toEqual({ v1, v2: t.v2 });
    } finally {
      await seed.stop();
      await api.close();
      await tracker.close();
    }
  });

  it('a hybrid is one torrent whichever of its hashes adds it; a btmh magnet whose metadata shows another torrent\'s v1 hash stops with duplicate_torrent', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('btmh-duplicate');
    const t = libtorrentTorrent(root, 'hybrid');
    const v1 = t.v1!;
    const truncated = t.v2.slice(0, 40);
    const seed = await startLtSeed(t.file, parent);
    try {
      const s = await session();
      const save = await tmpDir('btmh-duplicate-dl');
      // The same hybrid by its v1 hash (no peer: no metadata) and by its v2 hash alone (from the seed).
      const byV1 = await s.addTorrent({ url: `magnet:?xt=urn:btih:${v1}`, save_path: save });
      const byV2 = await s.addTorrent({ url: `magnet:?xt=urn:btmh:1220${t.v2}`, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
      expect([byV1.infoHash, byV2.infoHash]).toEqual([v1, truncated]);
      await waitFor(() => byV2.status().error !== '');
      expect(byV2.status().error).toMatch(/v1 info-hash .* already in the session/);
      expect([byV2.infoHash, s.findTorrent(v1)?.infoHash, s.findTorrent(truncated)?.infoHash]).toEqual([truncated, v1, truncated]);
      // Its .torrent names both hashes: it is the torrent already there, not a third one.
      expect((await s.addTorrent({ ti: readFileSync(t.file), save_path: save })).infoHash).toBe(v1);
      expect(s.torrents()).toHaveLength(2);
    } finally {
      await seed.stop();
    }
  });

  it('the same hybrid added by its .torrent, its v2 hash or a btmh magnet is the one torrent already in the session', async () => {
    const [, root] = await dataTree('hybrid-readd');
    const created = await createTorrentFromPath(root, { version: 'hybrid', pieceLength: PIECE });
    const s = await session();
    const save = await tmpDir('hybrid-readd-dl');
    const h = await s.addTorrent({ ti: created.torrent, save_path: save, flags: ['paused'] });
    for (const again of [{ url: `magnet:?xt=urn:btmh:1220${created.infoHashV2}` }, { info_hash: created.infoHashV2 }, { info_hash: created.infoHashV2.slice(0, 40) }, { ti: created.torrent }]) {
      expect((await s.addTorrent({ ...again, save_path: save, flags: ['paused'] })).infoHash).toBe(h.infoHash);
    }
    expect(s.torrents()).toHaveLength(1);
  });

  it('a btmh magnet saved before its metadata came resumes as one: restarted, it checks the metadata by its v2 hash and takes its v1 hash', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('btmh-resume');
    const t = libtorrentTorrent(root, 'hybrid');
    const seed = await startLtSeed(t.file, parent);
    try {
      const save = await tmpDir('btmh-resume-dl');
      const s1 = await session();
      const before = await (await s1.addTorrent({ url: `magnet:?xt=urn:btmh:1220${t.v2}`, save_path: save })).saveResumeData();
      expect(decodeResumeData(before)).toMatchObject({ info_hash: t.v2.slice(0, 40), info_hash2: t.v2 });
      expect(decodeResumeData(before).info).toBeUndefined();
      const s2 = await session();
      const h = await s2.addTorrent({ resume_data: before, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
      expect(h.status().info_hashes).toEqual({ v1: '', v2: t.v2 });
      await finished(s2, h, 30_000);
      await expectSameTree(root, path.join(save, path.basename(root)));
      expect([h.infoHash, h.status().info_hashes]).toEqual([t.v1, { v1: t.v1, v2: t.v2 }]);
    } finally {
      await seed.stop();
    }
  });

  it('fetches again only the one bad 16 KiB block a peer sent, and bans that peer', async () => {
    requireLibtorrent();
    const [parent, root] = await dataTree('bad-block');
    const t = libtorrentTorrent(root, 'v2');
    const torrentBytes = readFileSync(t.file);
    const info = parseTorrentFile(torrentBytes);
    const seed = await startLtSeed(t.file, parent);
    const liar = await lyingPeer(info, parent);
    const s = await session();
    const save = await tmpDir('bad-block-dl');
    // The liar first, the seed once the bad block's piece has failed (the engine then asks the liar for its
    // block hashes): with the seed there earlier, its copy of the block could win (end-game) and the lie would
    // never be checked. The seed brings the v2 hashes that name the bad block.
    const h = await s.addTorrent({ ti: torrentBytes, save_path: save, peers: [`127.0.0.1:${liar.port}`] });
    await waitFor(() => liar.blockHashRequests >= 1);
    h.connectPeer('127.0.0.1', seed.port);
    await finished(s, h);
    await expectSameTree(root, path.join(save, 'bad-block'));
    const st = s.stats();
    expect(liar.corrupted).toBe(1);
    // One block was wasted and fetched again, not its whole piece.
    expect([st['net.recv_failed_bytes'], st['ses.num_piece_failed'], st['peer.banned_for_hash_failure']]).toEqual([16384, 1, 1]);
    // Payload: at most every block of the torrent once and the bad block once more (a whole piece again
    // would be 32 KiB more).
    expect(st['net.recv_payload_bytes']! - (st['net.recv_redundant_bytes'] ?? 0)).toBeLessThanOrEqual(info.totalLength + 16384);
    liar.close();
    await seed.stop();
  });
});

/**
 * A v2 peer that has everything and serves it, except that the first second block of a piece it is asked
 * for whose first byte is a file's (not the pad after a file's last piece, which no hash covers) goes out
 * corrupted; it refuses every hash request (so another peer must tell which block was bad) and counts the
 * requests for block hashes (layer 0).
 */
async function lyingPeer(info: ReturnType<typeof parseTorrentFile>, parent: string): Promise<{ port: number; corrupted: number; blockHashRequests: number; close(): void }> {
  const data = Buffer.alloc(info.totalLength);
  const isPad = new Uint8Array(info.totalLength);
  let off = 0;
  for (const f of info.files) {
    if (!f.pad && f.length > 0) readFileSync(path.join(parent, f.path)).copy(data, off);
    if (f.pad) isPad.fill(1, off, off + f.length);
    off += f.length;
  }
  const state = { corrupted: 0, blockHashRequests: 0 };
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const none = (): void => undefined;
    const handler: WireHandler = {
      onHandshake: () => {
        socket.write(encodeHandshake({ infoHash: info.infoHashBytes, peerId: Buffer.alloc(20, 7), dht: false, fast: true, extended: false, v2: true }));
        socket.write(encodeSimple(MSG.haveAll));
        socket.write(encodeSimple(MSG.unchoke));
      },
      onKeepAlive: none, onChoke: none, onUnchoke: none, onInterested: none, onNotInterested: none, onHave: none,
      onBitfield: none, onCancel: none, onPort: none, onSuggest: none, onHaveAll: none, onHaveNone: none, onReject: none,
      onAllowedFast: none, onExtended: none, onPiece: none, onHashes: none, onHashReject: none,
      onRequest: (index, offset, length) => {
        const at = index * info.pieceLength + offset;
        const block = Buffer.from(data.subarray(at, at + length));
        if (offset === 16384 && state.corrupted === 0 && isPad[at] === 0) {
          block[0] ^= 0xff;
          state.corrupted++;
        }
        socket.write(Buffer.concat([encodePieceHeader(index, offset, length), block]));
      },
      onHashRequest: (root, base, index, count, proofLayers) => {
        if (base === 0) state.blockHashRequests++;
        socket.write(encodeHashMessage(MSG.hashReject, root, base, index, count, proofLayers));
      },
    };
    const decoder = new WireDecoder(handler);
    socket.on('data', (d: Buffer) => {
      try {
        decoder.feed(d);
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get corrupted() { return state.corrupted; },
    get blockHashRequests() { return state.blockHashRequests; },
    close: () => server.close(),
  };
}
