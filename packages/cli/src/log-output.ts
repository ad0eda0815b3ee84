/** Where the daemon's log lines go, made safe for a terminal either way (see escapeControl). */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { CliError } from './errors.js';
import { prettyFactory } from 'pino-pretty';
import { escapeControl, escapeControlKeepLines, JSON_RAW_CONTROL, jsonRawControlEscape } from './format.js';

/** Copies a log record with every string made terminal-safe; stack traces keep their lines. */
function escapeRecord(value: unknown, key: string, depth: number): unknown {
  if (typeof value === 'string') return key === 'stack' ? escapeControlKeepLines(value) : escapeControl(value);
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => escapeRecord(v, '', depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[escapeControl(k)] = escapeRecord(v, k, depth + 1);
  return out;
}

/**
 * pino's human-readable output for a terminal (pino-pretty), with control characters in the logged values
 * escaped first: JSON lines carry a torrent name's ESC as \u001b, but pino-pretty would print it raw and the
 * terminal would obey it. Escaping the record, not the formatted line, keeps pino-pretty's own colours.
 * In-process rather than a pino transport: a transport loads its target in a worker thread by module name,
 * which fails when the CLI runs as one bundled file (the npx package).
 */
export function humanLogStream(fd = 2): DestinationStream {
  const format = prettyFactory({ translateTime: 'SYS:HH:MM:ss' });
  // sonic-boom, synchronous: it retries a full pipe (EAGAIN) where a bare writeSync would throw.
  const out = pino.destination({ fd, sync: true });
  return {
    write(line: string): void {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        out.write(escapeControlKeepLines(line));
        return;
      }
      const text = format(escapeRecord(record, '', 0) as Record<string, unknown>);
      if (text) out.write(text);
    },
  };
}

/**
 * pino's JSON lines on `fd`, with DEL and C1 controls (which JSON leaves raw, and some terminals obey) as
 * \u00NN escapes: the same JSON, safe to tail in a terminal.
 */
export function jsonLogStream(fd = 2): DestinationStream {
  const out = pino.destination({ fd, sync: true });
  return {
    write(line: string): void {
      out.write(line.replace(JSON_RAW_CONTROL, jsonRawControlEscape));
    },
  };
}

/**
 * The same JSON lines appended to a file (--log-file): created with its folder if missing; a file that
 * cannot be opened is a one-line error at start, not a crash later.
 */
export function jsonLogFile(path: string): DestinationStream {
  let out: ReturnType<typeof pino.destination>;
  try {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'a'));
    out = pino.destination({ dest: path, append: true, sync: true });
  } catch (e) {
    throw new CliError(`cannot open the log file ${path}: ${(e as Error).message}`);
  }
  return {
    write(line: string): void {
      out.write(line.replace(JSON_RAW_CONTROL, jsonRawControlEscape));
    },
  };
}
