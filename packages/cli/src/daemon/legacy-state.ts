import { readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from './atomic-write.js';

/**
 * The per-torrent-file layout of the state directory (releases before the state journal):
 * `<dir>/<info-hash>.resume` (fast-resume data), `<dir>/<info-hash>.torrent` (the metadata alone) and
 * `<dir>/<info-hash>.save_path` (where its files are). Read once, moved into the journal, removed.
 */

const LEGACY_NAME = /^([0-9a-f]{40})\.(resume|torrent|save_path)$/;

/** The info-hashes that have at least one file of the old layout in `dir`. */
export async function legacyHashes(dir: string): Promise<Set<string>> {
  const hashes = new Set<string>();
  for (const n of await readdir(dir)) {
    const m = LEGACY_NAME.exec(n);
    if (m) hashes.add(m[1]!);
  }
  return hashes;
}

export interface LegacyTorrent {
  resume: Uint8Array | null;
  torrent: Uint8Array | null;
  savePath: string | null;
}

/** One torrent's files of the old layout (null for a missing one). */
export async function readLegacyTorrent(dir: string, hash: string): Promise<LegacyTorrent> {
  const read = (ext: string): Promise<Buffer | null> => readFile(join(dir, `${hash}.${ext}`)).catch(() => null);
  const [resume, torrent, savePath] = await Promise.all([read('resume'), read('torrent'), read('save_path')]);
  return { resume, torrent, savePath: savePath ? savePath.toString('utf8') : null };
}

/** Keeps an unusable resume file for inspection (`*.resume.bad`), out of the way of the next start. */
export async function setAsideLegacyResume(dir: string, hash: string): Promise<void> {
  const path = join(dir, `${hash}.resume`);
  await rename(path, `${path}.bad`);
}

/**
 * Removes the old-layout files of torrents now in the journal. The .resume goes last: a crash in the
 * middle leaves a torrent's resume file (usable on its own) rather than a lone .torrent that would bring it
 * back in an error state.
 */
export async function forgetLegacyFiles(dir: string, hashes: readonly string[]): Promise<void> {
  for (const hash of hashes) {
    for (const ext of ['torrent', 'save_path', 'resume']) await unlink(join(dir, `${hash}.${ext}`)).catch(() => undefined);
  }
  await syncDir(dir);
}
