import { createHash } from 'node:crypto';
import { SpritzleError } from '../errors.js';
import { BLOCK_SIZE } from '../block-size.js';
import type { FileLayout } from './file-layout.js';
import type { FileStat, PieceWriter, StorageStats, TorrentStorage } from './torrent-storage.js';


/**
 * TorrentStorage in memory, for tests: each file a buffer made on its first write (pad files are never
 * stored and read as zeros). No file descriptors, so a piece writer is never called: the bytes are copied.
 */
export class MemoryStorage implements TorrentStorage {
  readonly stats: StorageStats = { writeOps: 0, readOps: 0, blocksWritten: 0, blocksRead: 0, blocksHashed: 0 };
  private readonly files: (Uint8Array | undefined)[];
  private readonly mtimes: number[];

  constructor(private readonly layout: FileLayout) {
    this.files = layout.files.map(() => undefined);
    this.mtimes = layout.files.map(() => 0);
  }

  /** Puts the whole torrent's bytes in place, as if they had been downloaded before (a seed's data). */
  fill(data: Uint8Array): void {
    if (data.length !== this.layout.totalLength) throw new RangeError(`the torrent is ${this.layout.totalLength} bytes, got ${data.length}`);
    this.layout.files.forEach((f, i) => {
      if (!f.pad) this.files[i] = Uint8Array.from(data.subarray(f.offset, f.offset + f.length));
    });
  }

  /** A file's bytes (undefined if never written). */
  file(index: number): Uint8Array | undefined {
    return this.files[index];
  }

  async writePiece(piece: number, data: Uint8Array, _writer?: PieceWriter): Promise<void> {
    const size = this.layout.pieceSize(piece);
    if (data.length !== size) throw new RangeError(`piece ${piece} is ${size} bytes, got ${data.length}`);
    const now = Date.now();
    for (const s of this.layout.spans(piece, 0, size)) {
      const f = this.layout.files[s.file]!;
      if (f.pad) continue;
      const buf = this.files[s.file] ??= new Uint8Array(f.length);
      buf.set(data.subarray(s.bufOffset, s.bufOffset + s.length), s.fileOffset);
      this.mtimes[s.file] = now;
      this.stats.writeOps++;
      this.stats.blocksWritten += Math.ceil(s.length / BLOCK_SIZE);
    }
  }

  async read(piece: number, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (const s of this.layout.spans(piece, offset, length)) {
      if (this.layout.files[s.file]!.pad) continue;
      const buf = this.files[s.file];
      if (!buf) throw new SpritzleError('disk_error', `file ${this.layout.files[s.file]!.path} is not there (memory storage)`);
      out.set(buf.subarray(s.fileOffset, s.fileOffset + s.length), s.bufOffset);
      this.stats.readOps++;
      this.stats.blocksRead += Math.ceil(s.length / BLOCK_SIZE);
    }
    return out;
  }

  async check(
    pieceHashes: readonly Uint8Array[],
    opts?: { onPiece?: (piece: number, ok: boolean) => void; signal?: AbortSignal },
  ): Promise<boolean[]> {
    const had = new Array<boolean>(this.layout.numPieces).fill(false);
    for (let p = 0; p < this.layout.numPieces && opts?.signal?.aborted !== true; p++) {
      let ok = true;
      let data: Uint8Array | null = null;
      try {
        data = await this.read(p, 0, this.layout.pieceSize(p));
      } catch {
        ok = false;
      }
      if (data) {
        this.stats.blocksHashed += Math.ceil(data.length / BLOCK_SIZE);
        ok = Buffer.compare(createHash('sha1').update(data).digest(), pieceHashes[p]!) === 0;
      }
      had[p] = ok;
      opts?.onPiece?.(p, ok);
    }
    return had;
  }

  async hasAnyFile(): Promise<boolean> {
    return this.files.some((f) => f !== undefined);
  }

  async fileStats(): Promise<FileStat[]> {
    return this.files.map((f, i): FileStat => (f ? [f.length, this.mtimes[i]!] : [0, 0]));
  }

  async deleteFiles(): Promise<void> {
    this.files.fill(undefined);
  }

  async close(): Promise<void> {}
}
