// A whole Torrent without sockets or files: its storage opened through the host (memory), its peers over
// fake transports fed by the test.
import { describe, it, expect } from '@jest/globals';
import { RateLimiter } from '../../../packages/engine/src/algo/bandwidth.js';
import { DiskBufferPool } from '../../../packages/engine/src/disk/disk-buffer-pool.js';
import { normalizeAddParams, TORRENT_FLAGS } from '../../../packages/engine/src/session/add-torrent-params.js';
import { DEFAULT_SETTINGS } from '../../../packages/engine/src/session/settings.js';
import { Counters, M } from '../../../packages/engine/src/stats/counters.js';
import { MemoryStorage } from '../../../packages/engine/src/storage/memory-storage.js';
import { Torrent, type TorrentHost } from '../../../packages/engine/src/torrent/torrent.js';
import { BLOCK_SIZE as BLOCK } from '../../../packages/engine/src/block-size.js';
import { InlineDiskIo, fakePeer, infoFor, multiFileInfoFor, sentRequests, startWithSeedPeer, testData, wire } from '../../helpers/memory-torrent.js';
import { buildStatus, buildSummary, SUMMARY_FIELDS } from '../../../packages/engine/src/torrent/status.js';
import type { TorrentInfo } from '../../../packages/engine/src/metainfo/metainfo.js';
import { MovableStorage } from '../../../packages/engine/src/torrent/move-storage.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTorrentFromPath } from '../../../packages/engine/src/metainfo/create.js';
import { parseTorrentFile } from '../../../packages/engine/src/metainfo/metainfo.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Feeds a seed's blocks to every request the torrent makes until it seeds; the requests it made. */
async function downloadFromSeed(t: ReturnType<typeof memoryTorrent>): Promise<[number, number, number][]> {
  const { data, info, counters, torrent } = t;
  const { peer, transport } = await startWithSeedPeer(torrent, info, counters);
  transport.feed(wire.unchoke());
  let answered = 0;
  for (let round = 0; round < 100 && torrent.state !== 'seeding'; round++) {
    peer.flushBatch();
    const asked = sentRequests(transport);
    for (const [index, offset, length] of asked.slice(answered)) {
      const at = index * info.pieceLength + offset;
      transport.feed(wire.piece(index, offset, data.subarray(at, at + length)));
    }
    answered = asked.length;
    await turn();
  }
  return sentRequests(transport);
}

function memoryTorrent(opts: { seed?: boolean; data?: Uint8Array; info?: TorrentInfo } = {}) {
  const pieceLength = 4 * BLOCK;
  const data = opts.data ?? testData(5 * pieceLength - 3000, 7);
  const info = opts.info ?? infoFor(data, pieceLength);
  const counters = new Counters();
  const storages: MemoryStorage[] = [];
  const events: string[] = [];
  const host: TorrentHost = {
    counters, settings: DEFAULT_SETTINGS, diskIo: new InlineDiskIo(), bufferPool: new DiskBufferPool(),
    peerId: new Uint8Array(20), listenPort: 0,
    emit: (name) => void events.push(name),
    connect: () => undefined, requestRechoke: () => undefined,
    downLimiter: new RateLimiter(), upLimiter: new RateLimiter(), limiterWake: () => undefined,
    openStorage: (_savePath, layout) => {
      const s = new MemoryStorage(layout);
      if (opts.seed) s.fill(data);
      storages.push(s);
      return s;
    },
  };
  const params = normalizeAddParams({ save_path: '/nowhere', info_hash: info.infoHash });
  const torrent = new Torrent(host, params, info, info.infoHash, null, info.name);
  return { data, info, counters, storages, events, torrent };
}

describe('Torrent over memory storage', () => {
  it('opens its storage through its host', () => {
    const { torrent, storages } = memoryTorrent();
    expect(storages).toHaveLength(1);
    // Wrapped so that move_storage can swap it (torrent/move-storage.ts).
    expect((torrent.storage as MovableStorage).current).toBe(storages[0]);
  });

  it('downloads every piece from a seed into its storage and finishes', async () => {
    const t = memoryTorrent();
    await downloadFromSeed(t);
    expect(t.torrent.state).toBe('seeding');
    expect(t.events).toContain('torrent_finished');
    expect(Buffer.from(t.storages[0]!.file(0)!)).toEqual(Buffer.from(t.data));
    expect(t.torrent.totalPayloadDownload).toBe(t.data.length);
  });

  it('adds its picker\'s counts into the session\'s picker.* counters on its tick', async () => {
    const t = memoryTorrent();
    await downloadFromSeed(t);
    t.torrent.tick(Date.now(), 1);
    const picks = t.torrent.picker!;
    expect(t.counters.get(M.picker_incoming_piece_picks)).toBeGreaterThan(0);
    expect(t.counters.get(M.picker_unchoke_piece_picks)).toBe(1);
    expect(t.counters.get(M.picker_piece_picker_rand_start_loops)).toBe(picks.counters.piece_picker_rand_start_loops);
    expect(t.counters.get(M.picker_piece_picker_rand_start_loops)).toBeGreaterThan(0);
    t.torrent.tick(Date.now(), 1); // deltas: a second tick adds nothing new
    expect(t.counters.get(M.picker_piece_picker_rand_start_loops)).toBe(picks.counters.piece_picker_rand_start_loops);
  });

  it('serves a block from its storage to a peer it unchoked', async () => {
    const { data, info, counters, torrent } = memoryTorrent({ seed: true });
    torrent.setFlag(TORRENT_FLAGS.seed_mode, true);
    await torrent.start();
    expect(torrent.state).toBe('seeding');
    const { peer, transport } = fakePeer(counters);
    peer.setPieceCount(info.numPieces);
    transport.feed(wire.handshake(true));
    torrent.attachPeer(peer);
    peer.unchoke(Date.now(), false);
    transport.feed(wire.request(1, BLOCK, BLOCK));
    for (let i = 0; i < 10 && torrent.totalPayloadUpload === 0; i++) await turn();
    expect(torrent.totalPayloadUpload).toBe(BLOCK);
    const sent = transport.sent();
    const block = Buffer.from(data.subarray(info.pieceLength + BLOCK, info.pieceLength + 2 * BLOCK));
    expect(sent.subarray(sent.length - BLOCK)).toEqual(block);
  });

  it('summarises itself with the values its full status has for those fields, downloading and seeding', async () => {
    const data = testData(3 * 4 * BLOCK + 777, 9);
    const t = memoryTorrent({ data, info: infoFor(data, 4 * BLOCK) });
    const same = (): void => {
      const now = Date.now();
      const st: Record<string, unknown> = { ...buildStatus(t.torrent, now) };
      expect(buildSummary(t.torrent, now)).toEqual(Object.fromEntries(SUMMARY_FIELDS.map((f) => [f, st[f]])));
    };
    same();
    await downloadFromSeed(t);
    expect(t.torrent.state).toBe('seeding');
    same();
  });

  it('does not count BEP 47 pad files as the user\'s bytes in its status or the payload counters', async () => {
    // A hybrid torrent's layout: each file padded to the piece boundary; the pad bytes are zeros.
    const pieceLength = 4 * BLOCK;
    const a = 2 * pieceLength + 5000, b = pieceLength + 123;
    const padA = 3 * pieceLength - a;
    const data = new Uint8Array(a + padA + b);
    data.set(testData(a, 3), 0);
    data.set(testData(b, 4), a + padA);
    const info = multiFileInfoFor(data, pieceLength, [[a, false], [padA, true], [b, false]]);
    const t = memoryTorrent({ data, info });
    const before = buildStatus(t.torrent, Date.now());
    expect(before.total).toBe(a + b);
    expect(before.total_wanted).toBe(a + b);
    await downloadFromSeed(t);
    const st = buildStatus(t.torrent, Date.now());
    expect(st.state).toBe('seeding');
    expect([st.total_done, st.total_wanted, st.total_wanted_done, st.total_payload_download]).toEqual([a + b, a + b, a + b, a + b]);
    expect(t.counters.get(M.net_recv_payload_bytes)).toBe(a + b);
  });

  for (const version of ['hybrid', 'v2'] as const) {
    it(`never requests a block that lies wholly in BEP 47 padding (${version}), and verifies its pieces without it`, async () => {
      // Two files that end inside a piece: the rest of that piece is padding (a hybrid's pad file, a v2 file's tail).
      const pieceLength = 4 * BLOCK;
      const a = testData(2 * pieceLength + 5000, 3), b = testData(pieceLength + 123, 4);
      const dir = mkdtempSync(path.join(tmpdir(), 'spritzle-pad-'));
      try {
        writeFileSync(path.join(dir, 'a.bin'), a);
        writeFileSync(path.join(dir, 'b.bin'), b);
        const info = parseTorrentFile((await createTorrentFromPath(dir, { version, pieceLength })).torrent);
        // The pieces' bytes: each file from a piece boundary, zeros after it.
        const data = new Uint8Array(info.numPieces * pieceLength);
        data.set(a, 0);
        data.set(b, 3 * pieceLength);
        const t = memoryTorrent({ data, info });
        const asked = await downloadFromSeed(t);
        expect(t.torrent.state).toBe('seeding');
        const real = info.files.map((f, i) => ({ f, i })).filter(({ f }) => !f.pad);
        expect(real.map(({ i }) => Buffer.from(t.storages[0]!.file(i)!))).toEqual([Buffer.from(a), Buffer.from(b)]);
        const wholePad = asked.filter(([index, offset]) => (index === 2 && offset >= 5000) || (index === 4 && offset >= 123));
        expect(wholePad).toEqual([]);
        // What remains was asked for: the files' blocks, each once.
        expect(asked).toHaveLength(2 * 4 + 1 + 4 + 1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
