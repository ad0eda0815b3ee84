import type { TorrentInfo } from '../metainfo/metainfo.js';
import type { FileStat } from '../storage/torrent-storage.js';
import type { ResumeData } from './resume.js';

/**
 * Why resume data cannot be trusted, or null if it can: every file must have the size and modification
 * time recorded with the bitfield (libtorrent's rule), so data changed behind our back is re-hashed.
 * `onDisk`: each file's size and time now (storage's fileStats()).
 */
export function fastResumeMismatch(info: TorrentInfo, r: ResumeData, onDisk: readonly FileStat[]): string | null {
  if (r.pieces!.length !== Math.ceil(info.numPieces / 8)) return 'the piece bitfield does not fit the torrent';
  const sizes = r.file_sizes ?? [];
  if (sizes.length !== info.files.length) return 'file sizes do not fit the torrent';
  for (let i = 0; i < info.files.length; i++) {
    const f = info.files[i]!;
    if (f.pad) continue;
    const [size, mtime] = sizes[i]!;
    const [nowSize, nowMtime] = onDisk[i] ?? [0, 0];
    if (nowSize === 0 && nowMtime === 0) {
      if (size === 0) continue;
      return `${f.path} is missing`;
    }
    if (nowSize !== size || Math.abs(nowMtime - mtime) > 1) return `${f.path} changed on disk since the resume data was saved`;
  }
  return null;
}

/** Whether piece `i` is set in a wire bitfield (MSB first). */
export function bitfieldHas(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0;
}
