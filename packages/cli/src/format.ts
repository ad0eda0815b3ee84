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

// C0 controls (tab and newline included), DEL and C1 controls: what a terminal acts on instead of showing.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

function hexEscape(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * Text from outside (torrent names, paths, error messages, anything the daemon or a peer sent) made safe
 * for a terminal: every control character is shown as \xNN, so "\x1b]0;PWNED\x07" is printed, not obeyed
 * (it would set the window title, clear the screen, move the cursor...).
 */
export function escapeControl(s: string): string {
  return s.replace(CONTROL, hexEscape);
}

/** escapeControl for text made of lines: newlines stay, every other control character is escaped. */
export function escapeControlKeepLines(s: string): string {
  return s.replace(CONTROL_BUT_NEWLINE, hexEscape);
}

// eslint-disable-next-line no-control-regex
export const JSON_RAW_CONTROL = /[\u007f-\u009f]/g;

export function jsonRawControlEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * JSON.stringify, safe for a terminal and still the same JSON: it escapes C0 controls itself but leaves DEL
 * and C1 controls (U+0080-U+009F, which some terminals obey) raw; those become \u00NN escapes.
 */
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW_CONTROL, jsonRawControlEscape);
}

/** "0", "512", "1.5K", "15K", "1.2M", "3.4G": bytes (or bytes per second) in at most 5 columns, for tables. */
export function compactBytes(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let v = Math.max(0, bytes);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u > 0 && v < 9.95 ? `${v.toFixed(1)}${units[u]}` : `${Math.round(v)}${units[u]}`;
}

/** Seconds in at most 5 columns: "45s", "12m", "5h12m", "14h", "3d" (from two days); "-" for unknown (negative). */
export function compactDuration(s: number): string {
  if (s < 0 || !Number.isFinite(s)) return '-';
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.ceil(s / 60)}m`;
  if (s < 10 * 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  const d = Math.floor(s / 86400);
  return d < 100 ? `${d}d` : '>99d';
}

/** A share ratio in at most 5 columns: "0.00", "1.25", "12.3", "123", ">999". */
export function compactRatio(r: number): string {
  if (r < 10) return r.toFixed(2);
  if (r < 100) return r.toFixed(1);
  return r < 1000 ? String(Math.floor(r)) : '>999';
}

// Characters a terminal draws two columns wide (CJK, Hangul, full-width forms, most emoji) and
// zero-width ones (combining marks, joiners): enough for names to line up.
const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const ZERO = /[\u0300-\u036f\u200b-\u200f\ufe00-\ufe0f]/u;

function charWidth(c: string): number {
  if (ZERO.test(c)) return 0;
  return WIDE.test(c) ? 2 : 1;
}

/** Columns `s` takes on a terminal. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const c of s) w += charWidth(c);
  return w;
}

/** `s` cut (with "…") or padded with spaces to exactly `width` columns. */
export function fitWidth(s: string, width: number): string {
  if (displayWidth(s) <= width) return s + ' '.repeat(width - displayWidth(s));
  let out = '';
  let w = 0;
  for (const c of s) {
    const cw = charWidth(c);
    if (w + cw > width - 1) break;
    out += c;
    w += cw;
  }
  return `${out}…${' '.repeat(Math.max(0, width - 1 - w))}`;
}
