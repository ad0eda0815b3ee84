/** Number formatting shared by the commands' human-readable output. */

const MIB = 1024 * 1024;

export function mib(bytes: number): number {
  return bytes / MIB;
}

/** "12.3 MiB", "1.5 GiB", "512 B": for one-line summaries. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Rounds to `digits` decimals for JSON output (so consumers do not see 0.30000000000000004). */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
