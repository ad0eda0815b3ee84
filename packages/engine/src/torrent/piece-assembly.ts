import type { TorrentInfo } from '../metainfo/metainfo.js';
import type { FileLayout } from '../storage/file-layout.js';
import type { PiecePicker } from '../algo/piece-picker.js';
import type { DiskIoThreads } from '../disk/disk-io-thread.js';
import type { DiskBufferPool } from '../disk/disk-buffer-pool.js';
import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import type { WebSeed } from './web-seeds.js';

/** Who sent a piece's blocks: peers, and web seeds (BEP 19). */
export type Contributor = PeerConnection | WebSeed;
import type { TorrentStorage } from '../storage/torrent-storage.js';

/** Verified-but-unwritten and being-hashed bytes above which we stop requesting (disk back-pressure). */
export const MAX_PENDING_DISK_BYTES = 32 * 1024 * 1024;

interface PartialPiece {
  /** From the DiskBufferPool: shared memory. */
  buf: Buffer;
  contributors: Contributor[];
}

/** What becomes of an assembled piece. */
export interface AssemblyListener {
  /** The piece hashed right and is on disk; `contributors` sent its blocks. */
  pieceVerified(index: number, contributors: Contributor[]): void;
  /** The piece failed its hash check (`size` bytes wasted). */
  pieceFailed(index: number, contributors: Contributor[], size: number): void;
  /** A hash or write job failed: the piece is wanted again (done here), the torrent errs. */
  diskError(e: Error): void;
}

/** Where the pieces go, and what to hash and write them with. */
export interface AssemblyDeps {
  readonly info: TorrentInfo;
  readonly layout: FileLayout;
  readonly picker: PiecePicker;
  readonly storage: TorrentStorage;
  /** The disk threads (hashing and writing off the event loop). */
  readonly diskIo: Pick<DiskIoThreads, 'hash' | 'write'>;
  readonly bufferPool: Pick<DiskBufferPool, 'alloc' | 'release'>;
  readonly counters: Counters;
}

/**
 * Blocks become pieces: each piece under way has a buffer from the pool; a complete piece is hashed on a
 * disk thread and, if it matches, written, then its buffer goes back to the pool.
 */
export class PieceAssembly {
  private readonly partial = new Map<number, PartialPiece>();
  /** Bytes being hashed or written (see MAX_PENDING_DISK_BYTES). */
  pendingDiskBytes = 0;
  private closed = false;

  constructor(private readonly deps: AssemblyDeps, private readonly listener: AssemblyListener) {}

  get backlogged(): boolean {
    return this.pendingDiskBytes > MAX_PENDING_DISK_BYTES;
  }

  /** A block the picker had not yet received: copied into its piece; the piece is verified once complete. */
  add(peer: Contributor, index: number, offset: number, buf: Uint8Array): void {
    let part = this.partial.get(index);
    if (!part) {
      // Not zero-filled on reuse: every byte is overwritten by blocks before the piece is hashed.
      part = { buf: this.deps.bufferPool.alloc(this.deps.info.pieceLength), contributors: [] };
      this.partial.set(index, part);
    }
    // Not set(): V8 copies into shared memory with relaxed atomics, byte by byte when source and target
    // are not equally aligned (block data sits at any offset in a socket read): 5x slower than fill's memcpy.
    part.buf.fill(buf, offset, offset + buf.length);
    if (!part.contributors.includes(peer)) part.contributors.push(peer);
    if (this.deps.picker.isPieceComplete(index)) {
      this.partial.delete(index);
      this.verify(index, part);
    }
  }

  /** Unfinished pieces are dropped; their buffers serve the next download (none is being hashed). */
  close(): void {
    this.closed = true;
    for (const part of this.partial.values()) this.deps.bufferPool.release(part.buf);
    this.partial.clear();
  }

  private verify(index: number, part: PartialPiece): void {
    const { info, layout, picker, storage, diskIo, bufferPool: pool, counters } = this.deps;
    const size = layout.pieceSize(index);
    const blocks = picker.blocksInPiece(index);
    this.pendingDiskBytes += size;
    const buf = part.buf.subarray(0, size);
    diskIo.hash(buf).then(
      (digest) => {
        counters.inc(M.disk_num_blocks_hashed, blocks);
        if (this.closed) {
          this.pendingDiskBytes -= size;
          return;
        }
        if (Buffer.compare(digest, info.pieceHashes[index]!) !== 0) {
          this.pendingDiskBytes -= size;
          pool.release(part.buf);
          this.listener.pieceFailed(index, part.contributors, size);
          return;
        }
        storage.writePiece(index, buf, (spans) => diskIo.write(buf, spans)).then(
          () => {
            this.pendingDiskBytes -= size;
            pool.release(part.buf);
            this.listener.pieceVerified(index, part.contributors);
          },
          (e: Error) => this.jobFailed(index, part.buf, size, e),
        );
      },
      (e: Error) => this.jobFailed(index, part.buf, size, e),
    );
  }

  /** A hash or write job failed (no thread uses the buffer any more): the piece is wanted again, the torrent errs. */
  private jobFailed(index: number, buf: Buffer, size: number, e: Error): void {
    this.pendingDiskBytes -= size;
    this.deps.bufferPool.release(buf);
    if (this.closed) return;
    this.deps.picker.pieceFailed(index);
    this.listener.diskError(e);
  }
}
