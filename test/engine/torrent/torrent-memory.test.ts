// A whole Torrent without sockets or files: its storage opened through the host (memory), its peers over
// fake transports fed by the test.
import { describe, it, expect } from '@jest/globals';
import { RateLimiter } from '../../../packages/engine/src/algo/bandwidth.js';
import { DiskBufferPool } from '../../../packages/engine/src/disk/disk-buffer-pool.js';
import { normalizeAddParams, TORRENT_FLAGS } from '../../../packages/engine/src/session/add-torrent-params.js';
import { DEFAULT_SETTINGS } from '../../../packages/engine/src/session/settings.js';
import { Counters } from '../../../packages/engine/src/stats/counters.js';
import { MemoryStorage } from '../../../packages/engine/src/storage/memory-storage.js';
import { Torrent, type TorrentHost } from '../../../packages/engine/src/torrent/torrent.js';
import { BLOCK } from '../../../packages/engine/src/torrent/requests.js';
import { InlineDiskIo, fakePeer, infoFor, sentRequests, testData, wire } from '../../helpers/memory-torrent.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function memoryTorrent(opts: { seed?: boolean } = {}) {
  const pieceLength = 4 * BLOCK;
  const data = testData(5 * pieceLength - 3000, 7);
  const info = infoFor(data, pieceLength);
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
    expect(torrent.storage).toBe(storages[0]);
  });

  it('downloads every piece from a seed into its storage and finishes', async () => {
    const { data, info, counters, storages, events, torrent } = memoryTorrent();
    await torrent.start();
    expect(torrent.state).toBe('downloading');
    const { peer, transport } = fakePeer(counters);
    peer.setPieceCount(info.numPieces);
    transport.feed(wire.handshake(true));
    torrent.attachPeer(peer);
    transport.feed(wire.bitfieldAll(info.numPieces));
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
    expect(torrent.state).toBe('seeding');
    expect(events).toContain('torrent_finished');
    expect(Buffer.from(storages[0]!.file(0)!)).toEqual(Buffer.from(data));
    expect(torrent.totalPayloadDownload).toBe(data.length);
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
});
