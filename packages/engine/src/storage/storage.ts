/**
 * Piece storage on the local file system: writes verified pieces into the torrent's files, reads
 * blocks back for uploads, and re-checks existing data against the piece hashes.
 *
 * Files are created lazily on the first write and never pre-filled, so they stay sparse, and
 * existing data is never truncated. Files are opened through the session's FilePool (file_pool_size
 * handles across all torrents, least recently used closed first), because the download/upload path issues
 * thousands of operations per second and the session may hold many thousands of torrents.
 */
import { constants as fsc, existsSync, stat as statCb, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, mkdir, open, readlink, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { SpritzleError, errnoCode } from '../errors.js';
import type { FileLayout } from './file-layout.js';
import { isInside, resolveInside } from './paths.js';
import { BLOCK_SIZE } from '../block-size.js';
import { FilePool, type FileGroup, type PooledFile } from './file-pool.js';
import { sha1PieceCheck, type FileStat, type PieceCheck, type PieceWriteResult, type PieceWriter, type StorageStats, type TorrentStorage } from './torrent-storage.js';

export type { PieceWriteResult, PieceWriter, StorageStats } from './torrent-storage.js';

export interface StorageOptions {
  savePath: string;
  layout: FileLayout;
  /** The session's pool; a storage made without one gets a pool of its own (tests, one-off tools). */
  pool?: FilePool;
}

/** check(): pieces hashed in parallel, each through a buffer of CHECK_CHUNK, so memory stays at a few MiB whatever the piece size. */
const CHECK_PARALLEL = 4;
const CHECK_CHUNK = 1024 * 1024;
const STAT_PARALLEL = 16;
/**
 * Whether a relative path might not resolve strictly below the save path (a superset, by plain string
 * tests, cheap enough for 100,000 files): empty, absolute, starting with a dot or a drive letter, holding
 * `..` or a NUL. Any other path resolves strictly inside.
 */
function mayEscape(p: string): boolean {
  const c = p.charCodeAt(0);
  return p.length === 0 || c === 0x2f || c === 0x5c || c === 0x2e || p.charCodeAt(1) === 0x3a || p.includes('..') || p.includes('\0');
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'file already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EBADF: 'bad file descriptor',
  EBUSY: 'resource busy',
  ENOTEMPTY: 'directory not empty',
};

function errnoMeaning(e: unknown): string {
  const code = errnoCode(e);
  if (code !== undefined) {
    const known = ERRNO_TEXT[code];
    if (known !== undefined) return `${known} (${code})`;
    // Node messages look like "ECODE: meaning, syscall 'path'"; keep just the meaning.
    const m = e instanceof Error ? /^[A-Z0-9_]+: ([^,]+)/.exec(e.message) : null;
    return m?.[1] !== undefined ? `${m[1]} (${code})` : code;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A storage failure that concerns one of the torrent's files: `file` is its index (libtorrent's error_file). */
export class FileError extends SpritzleError {
  constructor(code: 'disk_error' | 'invalid_path', message: string, readonly file: number, cause?: unknown) {
    super(code, message, cause !== undefined ? { cause } : undefined);
  }
}

function diskError(e: unknown, action: string, file: string, index = -1): SpritzleError {
  if (e instanceof SpritzleError) return e;
  return new FileError('disk_error', `${errnoMeaning(e)} ${action} ${file}`, index, e);
}

/** Opening for writes: never through a link as the last component (ELOOP instead); libuv adds O_CLOEXEC. */
const OPEN_RW = fsc.O_RDWR | fsc.O_NOFOLLOW;
const CREATE_RW = fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
/** Whether the kernel names the file behind an fd (/proc/self/fd on Linux): checked once, at load. */
const FD_PATHS = process.platform === 'linux' && existsSync('/proc/self/fd');

/** The errno behind an error, looking through our own disk_error wrapping. */
function rootErrno(e: unknown): string | undefined {
  return e instanceof SpritzleError ? errnoCode(e.cause) : errnoCode(e);
}

function isMissing(e: unknown): boolean {
  const code = rootErrno(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The in-process writer: async positional writes through the open handles, retried on short writes. */
async function writeSpans(data: Uint8Array, entries: PooledFile[], spans: number[]): Promise<PieceWriteResult> {
  let ops = 0;
  for (let i = 0; i < entries.length; i++) {
    const bufOffset = spans[i * 4 + 1]!;
    const length = spans[i * 4 + 2]!;
    const fileOffset = spans[i * 4 + 3]!;
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesWritten: n } = await entries[i]!.fh.write(data, bufOffset + done, length - done, fileOffset + done));
      } catch (e) {
        return { ops, error: { code: errnoCode(e), message: e instanceof Error ? e.message : String(e) }, failedSpan: i };
      }
      ops++;
      // A zero-byte write would loop forever; the kernel only does that when it cannot make progress.
      if (n <= 0) return { ops, error: { code: 'ENOSPC', message: 'ENOSPC: no space left on device, write' }, failedSpan: i };
      done += n;
    }
  }
  return { ops };
}

/** The file-system back-end of TorrentStorage. */
export class Storage implements TorrentStorage {
  readonly stats: StorageStats = { writeOps: 0, readOps: 0, blocksWritten: 0, blocksRead: 0, blocksHashed: 0 };
  private readonly savePath: string;
  private readonly layout: FileLayout;
  /**
   * Absolute path per file, checked against savePath on first use: resolving 100,000 paths up front held
   * the event loop for over 100 ms in the constructor (issue 9, section 5).
   */
  private readonly paths: string[] = [];
  /** This storage's files in the session's pool: handles are pinned between acquire and release. */
  private readonly files: FileGroup;
  private zeros: Uint8Array | undefined;
  private realRootPromise: Promise<string> | undefined;

  constructor(opts: StorageOptions) {
    this.savePath = path.resolve(opts.savePath);
    this.layout = opts.layout;
    // The layout's paths were sanitised when the torrent was parsed; an escaping one is still refused here
    // (defence in depth), by a cheap scan: only a suspicious path pays for resolveInside, which throws.
    for (const f of opts.layout.files) if (mayEscape(f.path)) resolveInside(this.savePath, f.path);
    this.files = (opts.pool ?? new FilePool()).group((file, write) => (write ? this.openWritable(file) : this.openReadable(file)));
  }

  /** This storage's files open in the pool right now. */
  get openFiles(): number {
    return this.files.openFiles;
  }

  /**
   * Writes one whole verified piece: one positional write per file span; creates parent dirs and files
   * lazily on first write (sparse: never pre-fill); never writes pad files. The writes themselves are done
   * by `writer` when given (the disk threads, with the fds opened here and kept open until it settles),
   * else here with async file I/O.
   */
  /** Creates the empty files (no piece writes them), as libtorrent does once a torrent is complete. */
  async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.layout.files.length; i++) {
      const f = this.layout.files[i]!;
      if (f.pad || f.length !== 0) continue;
      this.files.release(await this.files.acquire(i, true));
    }
  }

  async writePiece(piece: number, data: Uint8Array, writer?: PieceWriter): Promise<void> {
    const size = this.layout.pieceSize(piece);
    if (data.length !== size) throw new RangeError(`piece ${piece} is ${size} bytes, got ${data.length}`);
    const entries: PooledFile[] = [];
    const files: number[] = [];
    const spans: number[] = [];
    try {
      for (const s of this.layout.spans(piece, 0, size)) {
        if (this.layout.files[s.file]!.pad) continue;
        const entry = await this.files.acquire(s.file, true);
        entries.push(entry);
        files.push(s.file);
        spans.push(entry.fh.fd, s.bufOffset, s.length, s.fileOffset);
      }
      const r = writer ? await writer(spans) : await writeSpans(data, entries, spans);
      this.stats.writeOps += r.ops;
      const written = r.failedSpan ?? files.length;
      for (let i = 0; i < written; i++) this.stats.blocksWritten += Math.ceil(spans[i * 4 + 2]! / BLOCK_SIZE);
      if (r.error) {
        const e = Object.assign(new Error(r.error.message), { code: r.error.code });
        const failed = files[r.failedSpan ?? 0]!;
        throw diskError(e, 'writing', this.pathOf(failed), failed);
      }
    } finally {
      for (const entry of entries) this.files.release(entry);
    }
  }

  /** Reads for uploads; pad-file ranges read as zeros; throws disk_error if the data is not there. */
  async read(piece: number, offset: number, length: number): Promise<Uint8Array> {
    const spans = this.layout.spans(piece, offset, length);
    const buf = Buffer.allocUnsafe(length);
    for (const s of spans) {
      if (this.layout.files[s.file]!.pad) {
        buf.fill(0, s.bufOffset, s.bufOffset + s.length);
        continue;
      }
      const file = this.pathOf(s.file);
      const entry = await this.files.acquire(s.file, false);
      try {
        let done = 0;
        while (done < s.length) {
          const { bytesRead } = await entry.fh.read(buf, s.bufOffset + done, s.length - done, s.fileOffset + done);
          this.stats.readOps++;
          this.stats.blocksRead += Math.ceil(bytesRead / BLOCK_SIZE);
          if (bytesRead <= 0) {
            throw new SpritzleError(
              'disk_error',
              `file is shorter than expected (end of file at byte ${s.fileOffset + done}, needed ${s.fileOffset + s.length}) reading ${file}`,
            );
          }
          done += bytesRead;
        }
      } catch (e) {
        throw diskError(e, 'reading', file, s.file);
      } finally {
        this.files.release(entry);
      }
    }
    return buf;
  }

  /** Reads each piece and SHA-1 checks it against pieceHashes[piece] (20-byte Uint8Array); missing or short files mean "not had" (not an error); returns which pieces are had. onPiece is called after each piece (for progress / counters). Stops early (returns what it has) when signal aborts. Reads ahead with bounded parallelism; reading a 512 MiB torrent must not hold more than a few MiB in memory. */
  async check(
    pieceHashes: readonly Uint8Array[] | PieceCheck,
    opts?: { onPiece?: (piece: number, ok: boolean) => void; signal?: AbortSignal },
  ): Promise<boolean[]> {
    const numPieces = this.layout.numPieces;
    if (Array.isArray(pieceHashes) && pieceHashes.length !== numPieces) {
      throw new RangeError(`expected ${numPieces} piece hashes, got ${pieceHashes.length}`);
    }
    const checker: PieceCheck = Array.isArray(pieceHashes) ? sha1PieceCheck(pieceHashes) : pieceHashes as PieceCheck;
    const had = new Array<boolean>(numPieces).fill(false);
    const chunk = Math.min(CHECK_CHUNK, this.layout.pieceLength);
    // One stat per file per check, so missing/short files are rejected without opening or reading them.
    const sizes = new Map<number, Promise<number>>();
    const signal = opts?.signal;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      const buf = Buffer.allocUnsafe(chunk);
      while (!failed && signal?.aborted !== true) {
        const p = next++;
        if (p >= numPieces) return;
        try {
          const ok = await this.checkPiece(p, checker, buf, sizes);
          had[p] = ok;
        } catch (e) {
          failed = true; // stop the other workers from issuing more I/O
          throw e;
        }
        opts?.onPiece?.(p, had[p]!);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(CHECK_PARALLEL, numPieces); i++) workers.push(worker());
    await Promise.all(workers);
    return had;
  }

  /** Each file's [size, mtime ms] now, [0, 0] when it is missing (STAT_PARALLEL at a time: one batch per turn). */
  async fileStats(): Promise<FileStat[]> {
    const n = this.layout.files.length;
    const out: FileStat[] = new Array(n);
    for (let i = 0; i < n; i += STAT_PARALLEL) {
      const batch: Promise<void>[] = [];
      for (let f = i; f < Math.min(n, i + STAT_PARALLEL); f++) {
        batch.push(statOrNull(this.pathOf(f)).then((st) => { out[f] = st ? [st.size, Math.round(st.mtimeMs)] : [0, 0]; }));
      }
      await Promise.all(batch);
    }
    return out;
  }

  /** File `f`'s absolute path. The layout's paths were sanitised when the torrent was parsed; checked again (defence in depth). */
  private pathOf(f: number): string {
    return (this.paths[f] ??= resolveInside(this.savePath, this.layout.files[f]!.path));
  }

  /** Whether any of the torrent's (non-pad) files exists on disk. */
  async hasAnyFile(): Promise<boolean> {
    const candidates: number[] = [];
    for (let i = 0; i < this.layout.files.length; i++) if (!this.layout.files[i]!.pad) candidates.push(i);
    for (let i = 0; i < candidates.length; i += STAT_PARALLEL) {
      const batch = candidates.slice(i, i + STAT_PARALLEL).map(async (f) => {
        const file = this.pathOf(f);
        try {
          await lstat(file);
          return true;
        } catch (e) {
          if (isMissing(e)) return false;
          throw diskError(e, 'looking up', file, f);
        }
      });
      if ((await Promise.all(batch)).includes(true)) return true;
    }
    return false;
  }

  /** Deletes the torrent's files and then the directories under savePath that became empty because of it (only those the layout names, deepest first); never touches anything else, never savePath itself. Missing files are fine. */
  async deleteFiles(): Promise<void> {
    // Cached handles would otherwise keep writing into unlinked inodes.
    await this.close();
    let firstError: SpritzleError | undefined;
    const root = await realpath(this.savePath).catch(() => null);
    if (root === null) return; // no save path, nothing of ours to delete
    const dirs = new Set<string>();
    for (let i = 0; i < this.layout.files.length; i++) {
      const f = this.layout.files[i]!;
      if (f.pad) continue;
      const parts = f.path.split('/');
      for (let d = 1; d < parts.length; d++) dirs.add(parts.slice(0, d).join('/'));
      const file = this.pathOf(i);
      try {
        // unlink does not follow the file's own link, but it does follow its folders': only delete inside.
        const where = await this.folderOutside(root, file);
        if (where !== null) {
          firstError ??= new FileError('invalid_path', `not deleting ${file}: its folder is ${where}, outside the save path ${this.savePath}`, i);
          continue;
        }
        await unlink(file);
      } catch (e) {
        if (!isMissing(e)) firstError ??= diskError(e, 'deleting', file, i);
      }
    }
    const ordered = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const rel of ordered) {
      const dir = resolveInside(this.savePath, rel);
      try {
        if ((await this.folderOutside(root, dir)) !== null) continue;
        await rmdir(dir);
      } catch (e) {
        // Not empty means someone else's files live there too: leave it.
        const code = errnoCode(e);
        if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') {
          firstError ??= diskError(e, 'removing directory', dir);
        }
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** The real folder of `p` when it is outside `root` (reached through a link), else null; throws if missing. */
  private async folderOutside(root: string, p: string): Promise<string | null> {
    const real = await realpath(path.dirname(p));
    return isInside(root, real) ? null : real;
  }

  /** Closes this storage's open files. Handles still in use by an in-flight operation close when it finishes. */
  async close(): Promise<void> {
    await this.files.close();
  }

  private async checkPiece(piece: number, checker: PieceCheck, buf: Buffer, sizes: Map<number, Promise<number>>): Promise<boolean> {
    const size = this.layout.pieceSize(piece);
    const spans = this.layout.spans(piece, 0, size);
    for (const s of spans) {
      if (this.layout.files[s.file]!.pad) continue;
      if ((await this.fileSize(s.file, sizes)) < s.fileOffset + s.length) return false;
    }
    const hash = checker.start(piece);
    for (const s of spans) {
      if (this.layout.files[s.file]!.pad) {
        const zeros = (this.zeros ??= new Uint8Array(buf.length));
        for (let left = s.length; left > 0; left -= zeros.length) hash.update(zeros.subarray(0, Math.min(left, zeros.length)));
        continue;
      }
      const file = this.pathOf(s.file);
      let entry: PooledFile;
      try {
        entry = await this.files.acquire(s.file, false);
      } catch (e) {
        if (isMissing(e)) return false; // deleted since the stat
        throw e;
      }
      try {
        let done = 0;
        while (done < s.length) {
          const { bytesRead } = await entry.fh.read(buf, 0, Math.min(buf.length, s.length - done), s.fileOffset + done);
          this.stats.readOps++;
          this.stats.blocksRead += Math.ceil(bytesRead / BLOCK_SIZE);
          if (bytesRead <= 0) return false; // truncated since the stat
          // update() consumes the bytes synchronously, so buf can be reused straight away.
          hash.update(buf.subarray(0, bytesRead));
          done += bytesRead;
        }
      } catch (e) {
        throw diskError(e, 'reading', file, s.file);
      } finally {
        this.files.release(entry);
      }
    }
    this.stats.blocksHashed += Math.ceil(size / BLOCK_SIZE);
    return hash.matches();
  }

  /** Size of a file on disk for check(), or -1 when it is missing or not a regular file. */
  private fileSize(file: number, sizes: Map<number, Promise<number>>): Promise<number> {
    let p = sizes.get(file);
    if (p === undefined) {
      const filePath = this.pathOf(file);
      p = stat(filePath).then(
        (st) => (st.isFile() ? st.size : -1),
        (e: unknown) => {
          if (isMissing(e)) return -1;
          throw diskError(e, 'checking', filePath, file);
        },
      );
      sizes.set(file, p);
    }
    return p;
  }

  /** Reads may follow links (seeding from linked data is common, and only verified pieces are ever sent). */
  private async openReadable(file: number): Promise<FileHandle> {
    const filePath = this.pathOf(file);
    try {
      return await open(filePath, 'r');
    } catch (e) {
      throw diskError(e, 'opening', filePath, file);
    }
  }

  /**
   * Opens a file for writing without ever following a link out of the save path, at every open (a folder
   * may have changed since the last): the file itself is opened with O_NOFOLLOW, a file is created only in
   * folders checked one by one first, and where an opened file really is is checked through its fd.
   * Existing data is never truncated.
   */
  private async openWritable(file: number): Promise<FileHandle> {
    const fh = await this.openWritableAt(file);
    try {
      await this.assertOpenedInside(fh, file);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    return fh;
  }

  /** Linux names the file behind an fd: proof of where the writes go, whatever its folders are. */
  private async assertOpenedInside(fh: FileHandle, file: number): Promise<void> {
    if (!FD_PATHS) return;
    const real = await readlink(`/proc/self/fd/${fh.fd}`).catch((e: unknown) => {
      throw diskError(e, 'looking up', this.pathOf(file), file);
    });
    if (!isInside(await this.realRoot(), real)) throw this.linkOut(this.pathOf(file), real, file);
  }

  private async openWritableAt(file: number): Promise<FileHandle> {
    const filePath = this.pathOf(file);
    // Where an fd cannot be traced back, the folders are checked before any open, not only before a create.
    let dirsChecked = false;
    if (!FD_PATHS) {
      await this.ensureDirs(file);
      dirsChecked = true;
    }
    let target = filePath;
    for (let attempt = 0; ; attempt++) {
      try {
        return await open(target, OPEN_RW);
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'ELOOP' && attempt === 0) {
          target = await this.linkTarget(file);
          continue;
        }
        if (code !== 'ENOENT') throw diskError(e, 'opening', filePath, file);
      }
      // Nothing is created anywhere before its folders are proven inside the save path.
      if (!dirsChecked) {
        await this.ensureDirs(file);
        dirsChecked = true;
      }
      try {
        return await open(target, CREATE_RW, 0o666);
      } catch (e) {
        // EEXIST: someone else (another process) created it in between: open what is there.
        if (errnoCode(e) !== 'EEXIST' || attempt > 0) throw diskError(e, 'creating', filePath, file);
      }
    }
  }

  /** The real path of a file that is a link, when it stays inside the save path; otherwise invalid_path. */
  private async linkTarget(file: number): Promise<string> {
    const filePath = this.pathOf(file);
    let real: string;
    try {
      real = await realpath(filePath);
    } catch (e) {
      throw new FileError('invalid_path', `${filePath} is a symbolic link to nothing usable (${errnoMeaning(e)}); spritzle does not write through it`, file, e);
    }
    if (!isInside(await this.realRoot(), real)) throw this.linkOut(filePath, real, file);
    return real;
  }

  private linkOut(link: string, real: string, file: number): FileError {
    return new FileError('invalid_path',
      `${link} is a symbolic link to ${real}, outside the save path ${this.savePath}; spritzle does not write through links out of the save path (remove or replace the link, or choose another save path)`, file);
  }

  /** The save path as the kernel sees it (created if missing): what every real path must stay inside. */
  private realRoot(): Promise<string> {
    this.realRootPromise ??= (async () => {
      try {
        await mkdir(this.savePath, { recursive: true });
        return await realpath(this.savePath);
      } catch (e) {
        this.realRootPromise = undefined;
        throw diskError(e, 'creating directory', this.savePath);
      }
    })();
    return this.realRootPromise;
  }

  /**
   * Creates the folders of a file under the save path one level at a time, and proves each one is a folder
   * inside the save path: a link is allowed only when its real path stays inside.
   */
  private async ensureDirs(file: number): Promise<void> {
    const root = await this.realRoot();
    const parts = this.layout.files[file]!.path.split('/');
    let rel = '';
    for (let d = 0; d < parts.length - 1; d++) {
      rel = rel === '' ? parts[d]! : `${rel}/${parts[d]!}`;
      const dir = resolveInside(this.savePath, rel);
      let st = await lstat(dir).catch((e: unknown) => {
        if (errnoCode(e) !== 'ENOENT') throw diskError(e, 'looking up', dir, file);
        return null;
      });
      if (st === null) {
        try {
          await mkdir(dir);
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw diskError(e, 'creating directory', dir, file);
        }
        st = await lstat(dir).catch((e: unknown) => {
          throw diskError(e, 'looking up', dir, file);
        });
      }
      if (st.isSymbolicLink()) {
        const real = await realpath(dir).catch((e: unknown) => {
          throw new FileError('invalid_path', `${dir} is a symbolic link to nothing usable (${errnoMeaning(e)}); spritzle does not write through it`, file, e);
        });
        if (!isInside(root, real)) throw this.linkOut(dir, real, file);
        st = await stat(real).catch((e: unknown) => {
          throw diskError(e, 'looking up', dir, file);
        });
      }
      if (!st.isDirectory()) throw new FileError('disk_error', `${ERRNO_TEXT.ENOTDIR} (ENOTDIR) creating directory ${dir}`, file);
    }
  }
}

/**
 * stat, null on any failure. Through the callback API: a missing file costs about a third of what a rejection
 * of fs/promises' stat costs (that one captures a stack trace), and the files of a torrent that never got
 * any data are all missing, which is most of a 50,000-torrent restore.
 */
function statOrNull(file: string): Promise<Stats | null> {
  return new Promise((resolve) => statCb(file, (err, st) => resolve(err ? null : st)));
}
