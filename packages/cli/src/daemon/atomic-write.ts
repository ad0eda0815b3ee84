import { open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

let serial = 0;

/**
 * Writes a file so that a crash at any moment leaves either the old or the new content, never a torn
 * one: write a temporary file, fsync it, rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.${serial++}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await dir.close();
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
