/**
 * Piece buffers for the whole session (libtorrent's disk_buffer_pool): blocks are assembled into them, the
 * hashing threads read them in place and the disk writes from them. They live in shared memory so hashing
 * needs no transfer: a buffer transferred to a worker comes back as newly allocated external memory, and
 * V8 starts a major GC for every 64 MiB of that, i.e. every 256 pieces of 256 KiB during a download.
 * Free buffers are kept for reuse up to `retainBytes`, and dropped once no allocation happened for
 * `idleMs` (a finished download does not hold its buffers forever).
 */
export class DiskBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  private lastAllocAt = 0;

  constructor(
    readonly retainBytes = 64 * 1024 * 1024,
    readonly idleMs = 30_000,
  ) {}

  /** A buffer of exactly `size` bytes, its own SharedArrayBuffer; contents are undefined. */
  alloc(size: number, now = Date.now()): Buffer {
    this.lastAllocAt = now;
    const buf = this.free.get(size)?.pop();
    if (buf) {
      this.freeBytes -= size;
      return buf;
    }
    return Buffer.from(new SharedArrayBuffer(size));
  }

  /** Returns a buffer from alloc() (the whole of it); kept for reuse while under the retain limit. */
  release(buf: Buffer): void {
    const size = buf.byteLength;
    if (this.freeBytes + size > this.retainBytes || buf.buffer.byteLength !== size) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.freeBytes += size;
  }

  /** Bytes held in free buffers. */
  get retained(): number {
    return this.freeBytes;
  }

  /** Called periodically: frees every retained buffer once allocations have stopped for idleMs. */
  trim(now = Date.now()): void {
    if (this.freeBytes === 0 || now - this.lastAllocAt < this.idleMs) return;
    this.free.clear();
    this.freeBytes = 0;
  }
}
