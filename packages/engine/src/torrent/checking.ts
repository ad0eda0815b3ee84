import { stat } from 'node:fs/promises';
import type { TorrentInfo } from '../metainfo/metainfo.js';
import { resolveInside } from '../storage/paths.js';
import type { ResumeData } from './resume.js';

/**
 * Why resume data cannot be trusted, or null if it can: every file must have the size and modification
 * time recorded with the bitfield (libtorrent's rule), so data changed behind our back is re-hashed.
 */
export async function fastResumeMismatch(savePath: string, info: TorrentInfo, r: ResumeData): Promise<string | null> {
  if (r.pieces!.length !== Math.ceil(info.numPieces / 8)) return 'the piece bitfield does not fit the torrent';
  const sizes = r.file_sizes ?? [];
  if (sizes.length !== info.files.length) return 'file sizes do not fit the torrent';
  for (let i = 0; i < info.files.length; i++) {
    const f = info.files[i]!;
    if (f.pad) continue;
    const [size, mtime] = sizes[i]!;
    let st: { size: number; mtimeMs: number } | null = null;
    try {
      st = await stat(resolveInside(savePath, f.path));
    } catch {
      st = null;
    }
    if (!st) {
      if (size === 0) continue;
      return `${f.path} is missing`;
    }
    if (st.size !== size || Math.abs(Math.round(st.mtimeMs) - mtime) > 1) return `${f.path} changed on disk since the resume data was saved`;
  }
  return null;
}

/** Each file's [size, mtime in ms] as resume data records them ([0, 0] when missing). */
export function fileSizesOnDisk(savePath: string, info: TorrentInfo): Promise<[number, number][]> {
  return Promise.all(info.files.map(async (f): Promise<[number, number]> => {
    try {
      const st = await stat(resolveInside(savePath, f.path));
      return [st.size, Math.round(st.mtimeMs)];
    } catch {
      return [0, 0];
    }
  }));
}

/** Whether piece `i` is set in a wire bitfield (MSB first). */
export function bitfieldHas(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0;
}
