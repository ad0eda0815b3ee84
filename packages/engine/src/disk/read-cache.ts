import { BLOCK_SIZE } from '../block-size.js';

/**
 * Whole pieces read ahead for uploads (libtorrent's read cache): the first request for a block of a piece
 * reads the whole piece in one disk read, and the requests that follow (a downloader asks for a piece's
 * blocks one after another) are served from memory, with no disk read, promise or buffer per block.
 * Session-wide and bounded in bytes; the oldest piece goes first (a downloader does not come back to a piece
 * it has, so first-in first-out is what least-recently-used would do here, without work per hit).
 * A piece's buffer is left to the GC rather than to the buffer pool: its blocks may still sit in a
 * socket's send queue when the piece is evicted.
 */
export class CachedPiece {
  /** The piece once read; null while the read is under way (requests then wait in `waiting`). */
  data: Uint8Array | null = null;
  /** Views of whole aligned blocks, made once per piece: sending a block allocates nothing. */
  private readonly blocks: (Uint8Array | undefined)[] = [];
  /** Called once the read settles (either way). */
  readonly waiting: (() => void)[] = [];
  error: Error | null = null;

  constructor(readonly owner: object, readonly piece: number, readonly size: number) {}

  /** The bytes [offset, offset + length) of the piece (`data` must be set). */
  block(offset: number, length: number): Uint8Array {
    const data = this.data!;
    if (length !== BLOCK_SIZE || offset % BLOCK_SIZE !== 0) return data.subarray(offset, offset + length);
    const i = offset / BLOCK_SIZE;
    return this.blocks[i] ??= data.subarray(offset, offset + length);
  }
}

/** Default budget: libtorrent 1.2's cache_size (1,024 blocks of 16 KiB). */
export const READ_CACHE_BYTES = 16 << 20;

export class ReadCache {
  private readonly byOwner = new Map<object, Map<number, CachedPiece>>();
  /** Oldest first. */
  private readonly order: CachedPiece[] = [];
  private bytes = 0;

  constructor(readonly capacity = READ_CACHE_BYTES) {}

  /** Pieces bigger than this are not read whole: one request would read too much ahead. */
  get maxPiece(): number {
    return this.capacity / 4;
  }

  get(owner: object, piece: number): CachedPiece | undefined {
    return this.byOwner.get(owner)?.get(piece);
  }

  /**
   * Reads `piece` (`size` bytes) with `read`, keeping it while the budget allows; the returned entry's
   * `waiting` callbacks run once the read settles. A failed read is forgotten (the next request reads again).
   */
  load(owner: object, piece: number, size: number, read: () => Promise<Uint8Array>): CachedPiece {
    const entry = new CachedPiece(owner, piece, size);
    let pieces = this.byOwner.get(owner);
    if (!pieces) this.byOwner.set(owner, (pieces = new Map()));
    pieces.set(piece, entry);
    this.order.push(entry);
    this.bytes += size;
    while (this.bytes > this.capacity && this.order.length > 1) this.evict(this.order[0]!);
    read().then(
      (data) => { entry.data = data; this.settle(entry); },
      (e: Error) => { entry.error = e; this.evict(entry); this.settle(entry); },
    );
    return entry;
  }

  private settle(entry: CachedPiece): void {
    const waiting = entry.waiting.splice(0);
    for (const w of waiting) w();
  }

  private evict(entry: CachedPiece): void {
    const pieces = this.byOwner.get(entry.owner);
    if (pieces?.get(entry.piece) !== entry) return;
    pieces.delete(entry.piece);
    if (pieces.size === 0) this.byOwner.delete(entry.owner);
    this.order.splice(this.order.indexOf(entry), 1);
    this.bytes -= entry.size;
  }

  /** Forgets every piece of `owner` (a torrent closed or its data moved). */
  drop(owner: object): void {
    const pieces = this.byOwner.get(owner);
    if (!pieces) return;
    for (const entry of [...pieces.values()]) this.evict(entry);
  }

  /** Bytes held (or being read). */
  get size(): number {
    return this.bytes;
  }
}
