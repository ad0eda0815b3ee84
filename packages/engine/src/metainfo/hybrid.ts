/**
 * A hybrid torrent (BEP 52 with a v1 `pieces`/`files` part) describes its files twice. Both views must
 * put the same bytes at the same offsets, or a v1 peer and a v2 peer would build different files from one
 * swarm. The check is libtorrent's files_compatible: same count (a v1 list without the v2 tail padding is
 * accepted, as libtorrent accepts torrents from its older versions), same total size, and every non-empty
 * non-pad file equal in index, path, size and offset; pad files and empty files may differ.
 */
import { SpritzleError } from '../errors.js';
import type { LayoutFile } from './v2.js';

/** Why the two views disagree, or null when they agree. */
export function hybridMismatch(v1: readonly LayoutFile[], v2Layout: readonly LayoutFile[]): string | null {
  let v2 = v2Layout;
  if (v2.length === v1.length + 1 && v2[v2.length - 1]!.pad) v2 = v2.slice(0, -1);
  if (v1.length !== v2.length) return `the v1 list has ${v1.length} files (pad files included), the v2 file tree ${v2.length}`;
  const total = (fs: readonly LayoutFile[]): number => fs.reduce((a, f) => a + f.length, 0);
  let offset1 = 0;
  let offset2 = 0;
  for (let i = 0; i < v1.length; i++) {
    const a = v1[i]!;
    const b = v2[i]!;
    const relevantA = !a.pad && a.length > 0;
    const relevantB = !b.pad && b.length > 0;
    if (relevantA !== relevantB) return `file ${i} is "${a.path}" (${a.length} bytes${a.pad ? ', padding' : ''}) in v1 but "${b.path}" (${b.length} bytes${b.pad ? ', padding' : ''}) in v2`;
    if (relevantA) {
      if (a.path !== b.path) return `file ${i} is "${a.path}" in v1 but "${b.path}" in v2`;
      if (a.length !== b.length) return `"${a.path}" is ${a.length} bytes in v1 but ${b.length} in v2`;
      if (offset1 !== offset2) return `"${a.path}" starts at byte ${offset1} in v1 but ${offset2} in v2`;
    }
    offset1 += a.length;
    offset2 += b.length;
  }
  if (total(v1) !== total(v2)) return `the v1 files add up to ${total(v1)} bytes, the v2 files to ${total(v2)}`;
  return null;
}

/** Refuses a hybrid whose views disagree, saying where. */
export function checkHybrid(v1: readonly LayoutFile[], v2Layout: readonly LayoutFile[]): void {
  const why = hybridMismatch(v1, v2Layout);
  if (why !== null) {
    throw new SpritzleError('invalid_torrent', `not a valid hybrid .torrent: its v1 and v2 parts disagree (${why})`);
  }
}
