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
