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
import type { PadBytes } from './pad-bytes.js';
import { BLOCK_SIZE } from '../metainfo/merkle.js';
import { fileAtPiece } from '../metainfo/v2.js';

/** Verified-but-unwritten and being-hashed bytes above which we stop requesting (disk back-pressure). */
export const MAX_PENDING_DISK_BYTES = 32 * 1024 * 1024;

interface PartialPiece {
  /** From the DiskBufferPool: shared memory. */
  buf: Buffer;
  contributors: Contributor[];
  /** v2: who sent each 16 KiB block (the one charged if that block fails). */
  from: (Contributor | undefined)[];
}

/** A v2 piece whose blocks are hashed but cannot be judged yet: its piece hash or block hashes are to come. */
interface WaitingPiece {
  part: PartialPiece;
  blocks: Uint8Array;
  size: number;
}

/** What becomes of an assembled piece. */
export interface AssemblyListener {
  /** The piece hashed right and is on disk; `contributors` sent its blocks. */
  pieceVerified(index: number, contributors: Contributor[]): void;
  /** The piece failed its hash check (`size` bytes wasted). */
  pieceFailed(index: number, contributors: Contributor[], size: number): void;
  /**
   * v2: these blocks of the piece failed (their hashes are known to be wrong); the rest are kept, only these
   * are wanted again; `bytes` wasted. Each bad block's sender alone sent it.
   */
  blocksFailed(index: number, bad: { block: number; peer: Contributor | undefined }[], bytes: number): void;
  /**
   * v2: the piece failed and its block hashes are not known: ask peers for them (the piece waits and is
   * judged again on rejudge()). False when no peer can be asked: the piece fails as a whole.
   */
  blockHashesWanted(index: number): boolean;
  /** A hash or write job failed: the piece is wanted again (done here), the torrent errs. */
  diskError(e: Error): void;
}

/** The disk threads as the assembly uses them (without hashBlocksAndWrite, v2 pieces are hashed, then written). */
export type AssemblyDiskIo = Pick<DiskIoThreads, 'hash' | 'hashBlocks' | 'write'> & Partial<Pick<DiskIoThreads, 'hashBlocksAndWrite'>>;

/** Where the pieces go, and what to hash and write them with. */
export interface AssemblyDeps {
  readonly info: TorrentInfo;
  readonly layout: FileLayout;
  readonly picker: PiecePicker;
  readonly storage: TorrentStorage;
  /** The disk threads (hashing and writing off the event loop). */
  readonly diskIo: AssemblyDiskIo;
  readonly bufferPool: Pick<DiskBufferPool, 'alloc' | 'release'>;
  readonly counters: Counters;
  /** BEP 47 padding: its blocks are never requested, so the assembly writes their zeros itself. */
  readonly pad?: PadBytes | null;
}

/**
 * Blocks become pieces: each piece under way has a buffer from the pool; a complete piece is hashed on a
 * disk thread and, if it matches, written, then its buffer goes back to the pool.
 */
export class PieceAssembly {
  private readonly partial = new Map<number, PartialPiece>();
  /** v2 pieces waiting for hashes from peers (their bytes count as pending: back-pressure if many wait). */
  private readonly waiting = new Map<number, WaitingPiece>();
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
      // Not zero-filled on reuse: every byte is overwritten by blocks before the piece is hashed, but for
      // the padding, which no peer sends (the picker counts those blocks as had): a hybrid's SHA-1 covers it.
      part = { buf: this.deps.bufferPool.alloc(this.deps.info.pieceLength), contributors: [], from: [] };
      this.deps.pad?.zero(index, part.buf);
      this.partial.set(index, part);
    }
    if (this.deps.info.v2) part.from[offset / BLOCK_SIZE] = peer;
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
    for (const w of this.waiting.values()) this.deps.bufferPool.release(w.part.buf);
    this.waiting.clear();
  }

  private verify(index: number, part: PartialPiece): void {
    const { v2, pieceHashes } = this.deps.info;
    // A hybrid whose v2 piece hash is not known yet (a magnet over a v1 connection, which cannot ask for
    // piece layers) is checked by its v1 SHA-1 meanwhile.
    if (v2 && (pieceHashes.length === 0 || this.knowsV2Hash(index))) {
      this.verifyV2(index, part);
      return;
    }
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
        this.write(index, part, size);
      },
      (e: Error) => this.jobFailed(index, part.buf, size, e),
    );
  }

  private write(index: number, part: PartialPiece, size: number): void {
    const { storage, diskIo, bufferPool: pool } = this.deps;
    const buf = part.buf.subarray(0, size);
    storage.writePiece(index, buf, (spans) => diskIo.write(buf, spans)).then(
      () => {
        this.pendingDiskBytes -= size;
        pool.release(part.buf);
        this.listener.pieceVerified(index, part.contributors);
      },
      (e: Error) => this.jobFailed(index, part.buf, size, e),
    );
  }

  /**
   * BEP 52: the piece's file bytes (not the pad after them) are hashed block by block on a disk thread and
   * judged against the file's merkle tree (v2 and hybrid torrents are both checked this way).
   */
  private verifyV2(index: number, part: PartialPiece): void {
    const { info, layout, picker, diskIo, counters } = this.deps;
    const size = layout.pieceSize(index);
    const at = fileAtPiece(info.v2!, index)!;
    const dataLen = Math.min(size, info.v2!.files[at.pieces.file]!.length - at.filePiece * info.pieceLength);
    this.pendingDiskBytes += size;
    const want = at.pieces.tree.pieceHash(at.filePiece);
    if (want !== undefined && diskIo.hashBlocksAndWrite !== undefined) {
      this.verifyAndWriteV2(index, part, size, dataLen, want);
      return;
    }
    diskIo.hashBlocks(part.buf.subarray(0, dataLen), at.pieces.tree.pieceHeight).then(
      (blocks) => {
        counters.inc(M.disk_num_blocks_hashed, picker.blocksInPiece(index));
        if (this.closed) {
          this.pendingDiskBytes -= size;
          return;
        }
        this.judgeV2(index, { part, blocks, size });
      },
      (e: Error) => this.jobFailed(index, part.buf, size, e),
    );
  }

  /**
   * A v2 piece whose hash is known: hashed and, if right, written in one disk job. Nothing is written when
   * it is wrong; judgeV2 then names the bad blocks from the hashes the job brought back.
   */
  private verifyAndWriteV2(index: number, part: PartialPiece, size: number, dataLen: number, want: Uint8Array): void {
    const { info, storage, diskIo, picker, counters, bufferPool: pool } = this.deps;
    const at = fileAtPiece(info.v2!, index)!;
    const buf = part.buf.subarray(0, size);
    let tree: Uint8Array | null = null;
    let passed = false;
    storage.writePiece(index, buf, async (spans) => {
      const r = await diskIo.hashBlocksAndWrite!(buf, dataLen, at.pieces.tree.pieceHeight, want, spans);
      counters.inc(M.disk_num_blocks_hashed, picker.blocksInPiece(index));
      tree = r.tree;
      passed = r.passed;
      // Not written: no file part counts as written.
      return passed ? r.write : { ops: 0, failedSpan: 0 };
    }).then(
      () => {
        if (passed) {
          at.pieces.tree.verifyPiece(at.filePiece, tree!); // keeps the piece's hashes (compares, hashes nothing)
          this.pendingDiskBytes -= size;
          pool.release(part.buf);
          this.listener.pieceVerified(index, part.contributors);
          return;
        }
        if (this.closed) {
          this.pendingDiskBytes -= size;
          return;
        }
        this.judgeV2(index, { part, blocks: tree!, size });
      },
      (e: Error) => this.jobFailed(index, part.buf, size, e),
    );
  }

  private knowsV2Hash(index: number): boolean {
    const at = fileAtPiece(this.deps.info.v2!, index);
    return at === undefined || at.pieces.tree.pieceHash(at.filePiece) !== undefined;
  }

  private judgeV2(index: number, w: WaitingPiece): void {
    const at = fileAtPiece(this.deps.info.v2!, index)!;
    const verdict = at.pieces.tree.verifyPiece(at.filePiece, w.blocks);
    if (verdict.result === 'passed') {
      this.write(index, w.part, w.size);
      return;
    }
    if (verdict.result === 'unknown' || (verdict.badBlocks.length === 0 && this.listener.blockHashesWanted(index))) {
      this.waiting.set(index, w);
      return;
    }
    this.pendingDiskBytes -= w.size;
    if (verdict.badBlocks.length === 0) {
      this.deps.bufferPool.release(w.part.buf);
      this.listener.pieceFailed(index, w.part.contributors, w.size);
      return;
    }
    // Only the bad blocks are fetched again: the piece goes back under way with the good ones kept.
    const picker = this.deps.picker;
    const bad = verdict.badBlocks.map((block) => ({ block, peer: w.part.from[block] }));
    const bytes = verdict.badBlocks.reduce((a, b) => a + picker.blockLength(index, b), 0);
    for (const b of bad) w.part.from[b.block] = undefined;
    w.part.contributors = w.part.from.filter((p, i, all): p is Contributor => p !== undefined && all.indexOf(p) === i);
    this.partial.set(index, w.part);
    this.listener.blocksFailed(index, bad, bytes);
  }

  /** Hashes came from a peer (a piece layer or block hashes): the pieces waiting for them are judged again. */
  rejudge(): void {
    if (this.closed || this.waiting.size === 0) return;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [index, w] of waiting) this.judgeV2(index, w);
  }

  /** Pieces waiting for hashes from peers. */
  get waitingForHashes(): number {
    return this.waiting.size;
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
