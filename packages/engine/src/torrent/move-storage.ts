import { copyFile, constants, lstat, mkdir, rename, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { SpritzleError, errnoCode } from '../errors.js';
import { resolveInside } from '../storage/paths.js';
import type { FileLayout } from '../storage/file-layout.js';
import type { FileStat, PieceWriter, StorageStats, TorrentStorage } from '../storage/torrent-storage.js';

/** Moves one file: a rename, or a copy and unlink across file systems (EXDEV). Never replaces a file. */
async function moveOne(src: string, dst: string): Promise<void> {
  await mkdir(path.dirname(dst), { recursive: true });
  try {
    await lstat(dst);
    throw new SpritzleError('disk_error', `cannot move storage: ${dst} already exists (spritzle does not replace files)`);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  try {
    await rename(src, dst);
  } catch (e) {
    if (errnoCode(e) !== 'EXDEV') throw e;
    await copyFile(src, dst, constants.COPYFILE_EXCL);
    await unlink(src);
  }
}

/**
 * libtorrent's move_storage for the files of a layout: each file under `from` that exists goes to the same
 * relative path under `to` (folders made as needed, nothing replaced). If one fails, those already moved go
 * back, so the data stays whole in one place; then the error is thrown. Folders left empty under `from`
 * (only those the layout names) are removed.
 */
export async function moveFiles(from: string, to: string, relPaths: readonly string[]): Promise<void> {
  if (path.resolve(from) === path.resolve(to)) return;
  const moved: [string, string][] = [];
  try {
    for (const rel of relPaths) {
      const src = resolveInside(from, rel);
      const dst = resolveInside(to, rel);
      try {
        await lstat(src);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // not written yet: nothing to move
        throw e;
      }
      await moveOne(src, dst);
      moved.push([src, dst]);
    }
  } catch (e) {
    for (const [src, dst] of moved.reverse()) await moveOne(dst, src).catch(() => undefined);
    throw e instanceof SpritzleError ? e : new SpritzleError('disk_error', `cannot move storage to ${to}: ${(e as Error).message}`, { cause: e });
  }
  // Folders the layout names, deepest first; rmdir refuses a folder that still holds anything.
  const dirs = new Set<string>();
  for (const rel of relPaths) for (let d = path.dirname(rel); d !== '.' && d !== path.sep; d = path.dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await rmdir(resolveInside(from, d)).catch(() => undefined);
}

function addStats(a: StorageStats, b: StorageStats): StorageStats {
  return {
    writeOps: a.writeOps + b.writeOps, readOps: a.readOps + b.readOps, blocksWritten: a.blocksWritten + b.blocksWritten,
    blocksRead: a.blocksRead + b.blocksRead, blocksHashed: a.blocksHashed + b.blocksHashed,
  };
}

/**
 * A torrent's storage that can move to another save path while the torrent runs: operations wait while the
 * files move (they queue behind a gate), writes under way finish first, the back-end is closed, the files
 * move, and a back-end opened at the new path takes over. Its counts carry on across the move.
 */
export class MovableStorage implements TorrentStorage {
  private gate: Promise<void> | null = null;
  private inFlight = 0;
  private idle: (() => void) | null = null;
  private carried: StorageStats = { writeOps: 0, readOps: 0, blocksWritten: 0, blocksRead: 0, blocksHashed: 0 };

  constructor(
    private inner: TorrentStorage,
    private savePath: string,
    private layout: FileLayout,
    private readonly open: (savePath: string, layout: FileLayout) => TorrentStorage,
  ) {}

  /** The back-end in use now (the one the host opened, until a move). */
  get current(): TorrentStorage {
    return this.inner;
  }

  get stats(): StorageStats {
    return addStats(this.carried, this.inner.stats);
  }

  /** Runs an operation on the current back-end, after a move under way. */
  private async run<T>(op: (s: TorrentStorage) => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    this.inFlight++;
    try {
      return await op(this.inner);
    } finally {
      if (--this.inFlight === 0 && this.idle) this.idle();
    }
  }

  writePiece(piece: number, data: Uint8Array, writer?: PieceWriter): Promise<void> {
    return this.run((s) => s.writePiece(piece, data, writer));
  }

  /**
   * Reads (per block, for uploads) are not counted: no allocation on that path. One in flight when a move
   * starts finishes on its open descriptor, which still names the same data after a rename or a copy.
   */
  read(piece: number, offset: number, length: number): Promise<Uint8Array> {
    if (this.gate === null) return this.inner.read(piece, offset, length);
    return this.run((s) => s.read(piece, offset, length));
  }

  check(pieceHashes: readonly Uint8Array[], opts?: { onPiece?: (piece: number, ok: boolean) => void; signal?: AbortSignal }): Promise<boolean[]> {
    return this.run((s) => s.check(pieceHashes, opts));
  }

  hasAnyFile(): Promise<boolean> {
    return this.run((s) => s.hasAnyFile());
  }

  /** Forwarded like every other operation: a wrapper that dropped it left a v2 torrent's empty files uncreated. */
  createEmptyFiles(): Promise<void> {
    return this.run((s) => s.createEmptyFiles?.() ?? Promise.resolve());
  }

  fileStats(): Promise<FileStat[]> {
    return this.run((s) => s.fileStats());
  }

  deleteFiles(): Promise<void> {
    return this.run((s) => s.deleteFiles());
  }

  close(): Promise<void> {
    return this.run((s) => s.close());
  }

  /**
   * Closes the back-end once writes under way are done, runs `change` with no operation in flight, and opens
   * a back-end at the (new) save path and layout; if `change` fails, the old ones are opened again.
   */
  private async swap(savePath: string, layout: FileLayout, change: () => Promise<void>): Promise<void> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => { open = resolve; });
    try {
      if (this.inFlight > 0) await new Promise<void>((resolve) => { this.idle = resolve; });
      this.idle = null;
      await this.inner.close();
      this.carried = addStats(this.carried, this.inner.stats);
      try {
        await change();
      } catch (e) {
        this.inner = this.open(this.savePath, this.layout);
        throw e;
      }
      this.inner = this.open(savePath, layout);
      this.savePath = savePath;
      this.layout = layout;
    } finally {
      this.gate = null;
      open();
    }
  }

  /** Moves the files to `savePath` (see moveFiles); on failure they stay (or are put back) where they were. */
  moveTo(savePath: string): Promise<void> {
    const rel = this.layout.files.filter((f) => !f.pad).map((f) => f.path);
    return this.swap(savePath, this.layout, () => moveFiles(this.savePath, savePath, rel));
  }

  /**
   * libtorrent's rename_file: file `index` of `layout` (the old one, with that file's new path) is renamed on
   * disk (if it is there yet) and the back-end follows the new layout. Nothing is replaced.
   */
  renameFile(index: number, layout: FileLayout): Promise<void> {
    const from = resolveInside(this.savePath, this.layout.files[index]!.path);
    const to = resolveInside(this.savePath, layout.files[index]!.path);
    return this.swap(this.savePath, layout, async () => {
      try {
        await lstat(from);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return; // not written yet: only the name changes
        throw e;
      }
      try {
        await moveOne(from, to);
      } catch (e) {
        throw e instanceof SpritzleError ? e : new SpritzleError('disk_error', `cannot rename ${from} to ${to}: ${(e as Error).message}`, { cause: e });
      }
    });
  }
}
