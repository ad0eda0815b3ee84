/** Display formatting: pure functions, no DOM. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : '–';
}

/** Seconds left at the current rate; Infinity when nothing is coming in. */
export function etaSeconds(remaining: number, rate: number): number {
  if (remaining <= 0) return 0;
  return rate > 0 ? remaining / rate : Infinity;
}

export function formatDuration(s: number): string {
  if (s === 0) return 'done';
  if (!Number.isFinite(s)) return '∞';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.ceil(s)}s`;
}

export function formatPercent(progress: number): string {
  return `${(Math.floor(progress * 1000) / 10).toFixed(1)} %`;
}

export function formatRatio(up: number, down: number): string {
  if (down <= 0) return up > 0 ? '∞' : '0.00';
  return (up / down).toFixed(2);
}

export function formatDate(unixSeconds: number | undefined): string {
  if (!unixSeconds) return '–';
  const d = new Date(unixSeconds * 1000);
  const pad = (x: number): string => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
