import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

let serial = 0;

/**
 * Writes a file so that a crash at any moment leaves either the old or the new content, never a torn
 * one: write a temporary file, fsync it, rename it over the target, fsync the directory. `data` may be
 * a list of chunks (written with one writev, not joined into one buffer first).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.${process.pid}.${serial++}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    if (Array.isArray(data)) await writeAll(fh, data as readonly Uint8Array[]);
    else await fh.writeFile(data as Uint8Array | string);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Makes a directory's entries (a file created, renamed or removed in it) durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await fh.close();
  }
}

/** Writes `chunks` at `position` (the file's current offset when omitted), all of them or an error. */
export async function writeAll(fh: FileHandle, chunks: readonly Uint8Array[], position?: number): Promise<void> {
  // writev takes at most IOV_MAX buffers per call in some Node versions: write in slices of 1,024.
  let pos = position;
  for (let i = 0; i < chunks.length; i += 1024) {
    const slice = chunks.slice(i, i + 1024) as Uint8Array[];
    let len = 0;
    for (const c of slice) len += c.length;
    const { bytesWritten } = await fh.writev(slice, pos);
    if (bytesWritten !== len) throw new Error(`short write: ${bytesWritten} of ${len} bytes`);
    if (pos !== undefined) pos += len;
  }
}

/** The temporary names writeFileAtomic uses: `<name>.<pid>.<serial>.tmp`. */
const TEMP_NAME = /^[^/]+\.\d+\.\d+\.tmp$/;

/**
 * Removes the temporary files an interrupted writeFileAtomic left in `dir` (a crash, or a shutdown cut
 * short): they hold nothing the target does not, and would pile up forever. Only for a directory no
 * other process writes to (the daemon holds the state lock). Returns the names removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const n of names) {
    if (!TEMP_NAME.test(n)) continue;
    try {
      await unlink(join(dir, n));
      removed.push(n);
    } catch {
      // Gone already, or not ours to remove (a folder): leave it.
    }
  }
  return removed;
}
