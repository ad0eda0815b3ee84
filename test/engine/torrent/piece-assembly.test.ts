import { describe, it, expect } from '@jest/globals';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { DiskBufferPool } from '../../../packages/engine/src/disk/disk-buffer-pool.js';
import { Counters, M } from '../../../packages/engine/src/stats/counters.js';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';
import { MemoryStorage } from '../../../packages/engine/src/storage/memory-storage.js';
import type { PeerConnection } from '../../../packages/engine/src/peer/peer-connection.js';
import type { Contributor } from '../../../packages/engine/src/torrent/piece-assembly.js';
import { PieceAssembly, type AssemblyListener } from '../../../packages/engine/src/torrent/piece-assembly.js';
import { BLOCK_SIZE as BLOCK } from '../../../packages/engine/src/block-size.js';
import { InlineDiskIo, fakePeer, infoFor, testData } from '../../helpers/memory-torrent.js';

type Outcome =
  | { kind: 'verified'; index: number; contributors: Contributor[] }
  | { kind: 'failed'; index: number; contributors: Contributor[]; size: number }
  | { kind: 'error'; message: string };

/** Three pieces of two blocks (the last one short), assembled into memory storage. */
function setup() {
  const pieceLength = 2 * BLOCK;
  const data = testData(3 * pieceLength - 1000);
  const info = infoFor(data, pieceLength);
  const layout = new FileLayout(info.files, info.pieceLength);
  const picker = new PiecePicker(info.numPieces, info.pieceLength, info.totalLength, BLOCK, 1);
  const storage = new MemoryStorage(layout);
  const diskIo = new InlineDiskIo();
  const pool = new DiskBufferPool();
  const buffers = { allocated: 0, released: 0 };
  const bufferPool = {
    alloc: (size: number): Buffer => (buffers.allocated++, pool.alloc(size)),
    release: (buf: Buffer): void => (buffers.released++, pool.release(buf)),
  };
  const counters = new Counters();
  let settle: (o: Outcome) => void = () => undefined;
  const listener: AssemblyListener = {
    pieceVerified: (index, contributors) => settle({ kind: 'verified', index, contributors }),
    pieceFailed: (index, contributors, size) => settle({ kind: 'failed', index, contributors, size }),
    blocksFailed: () => undefined,
    blockHashesWanted: () => false,
    diskError: (e) => settle({ kind: 'error', message: e.message }),
  };
  const assembly = new PieceAssembly({ info, layout, picker, storage, diskIo, bufferPool, counters }, listener);
  const outcome = (): Promise<Outcome> => new Promise((resolve) => (settle = resolve));
  /** The blocks of `piece` arrive, the i-th from peers[i % peers.length], with `mutate` applied to the bytes. */
  const deliver = (piece: number, peers: PeerConnection[], mutate = (b: Uint8Array): Uint8Array => b): void => {
    const size = layout.pieceSize(piece);
    for (let b = 0; b * BLOCK < size; b++) {
      const start = piece * pieceLength + b * BLOCK;
      const bytes = mutate(Uint8Array.from(data.subarray(start, Math.min(start + BLOCK, piece * pieceLength + size))));
      expect(picker.markReceived(piece * picker.blocksPerPiece + b)).toBe(true);
      assembly.add(peers[b % peers.length]!, piece, b * BLOCK, bytes);
    }
  };
  return { data, layout, picker, storage, diskIo, buffers, counters, assembly, outcome, deliver };
}

describe('PieceAssembly', () => {
  it('hashes a complete piece, writes it and reports who sent its blocks', async () => {
    const { data, storage, counters, assembly, outcome, deliver, buffers } = setup();
    const a = fakePeer(counters, 7000).peer;
    const b = fakePeer(counters, 7001).peer;
    const done = outcome();
    deliver(2, [a, b]);
    expect(await done).toEqual({ kind: 'verified', index: 2, contributors: [a, b] });
    expect(Buffer.from(storage.file(0)!.subarray(2 * 2 * BLOCK))).toEqual(Buffer.from(data.subarray(2 * 2 * BLOCK)));
    expect(counters.get(M.disk_num_blocks_hashed)).toBe(2);
    expect(assembly.pendingDiskBytes).toBe(0);
    expect(buffers).toEqual({ allocated: 1, released: 1 });
  });

  it('reports a piece that fails its hash with its contributors and size, and writes nothing', async () => {
    const { counters, assembly, storage, outcome, deliver, layout } = setup();
    const a = fakePeer(counters).peer;
    const done = outcome();
    deliver(0, [a], (bytes) => {
      bytes[5]! ^= 1;
      return bytes;
    });
    expect(await done).toEqual({ kind: 'failed', index: 0, contributors: [a], size: layout.pieceSize(0) });
    expect(storage.file(0)).toBeUndefined();
    expect(assembly.pendingDiskBytes).toBe(0);
  });

  it('on a failed disk job reports the error and wants the piece again', async () => {
    const { counters, diskIo, picker, outcome, deliver, buffers } = setup();
    diskIo.failNext = new Error('disk on fire');
    const done = outcome();
    deliver(1, [fakePeer(counters).peer]);
    expect(await done).toEqual({ kind: 'error', message: 'disk on fire' });
    expect(picker.isPieceComplete(1)).toBe(false);
    expect(picker.have(1)).toBe(false);
    expect(buffers.released).toBe(buffers.allocated);
  });

  it('gives the buffers of unfinished pieces back to the pool when closed', () => {
    const { counters, assembly, picker, buffers } = setup();
    const peer = fakePeer(counters).peer;
    picker.markReceived(0);
    assembly.add(peer, 0, 0, new Uint8Array(BLOCK));
    picker.markReceived(picker.blocksPerPiece);
    assembly.add(peer, 1, 0, new Uint8Array(BLOCK));
    assembly.close();
    expect(buffers).toEqual({ allocated: 2, released: 2 });
  });
});
