import { escapeControl, escapeControlKeepLines } from './format.js';

/** Exit codes: 1 for a failed command, 2 for bad usage (as most Unix tools), 128+n after signal n. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * An error the user caused or can act on (missing file, incomplete data, timeout...). Its message is the
 * whole story, so it is printed as one line without a stack trace.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Short wording for the system errors a user meets with files and sockets. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
};

interface SystemError extends Error {
  code: string;
  path?: string;
}

/**
 * A SpritzleError, recognised by shape: importing the engine here would make every command (even the
 * REST clients that never use it) pay for loading it.
 */
function isSpritzleError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && e.name === 'SpritzleError' && typeof (e as { code?: unknown }).code === 'string';
}

function isSystemError(e: unknown): e is SystemError {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as Error & { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/**
 * One line describing `e`. `expected` is false for errors that are none of ours or the user's (a bug):
 * those deserve a stack trace when debugging, which SPRITZLE_DEBUG=1 turns on.
 */
export function describeError(e: unknown): { message: string; expected: boolean } {
  if (e instanceof CliError) return { message: e.message, expected: true };
  // Every SpritzleError is raised on purpose with a message written for the user (bad torrent, port in use...).
  if (isSpritzleError(e)) return { message: e.message, expected: true };
  if (isSystemError(e)) {
    const text = ERRNO_TEXT[e.code] ?? e.message;
    // A path is data (it may hold a newline or ESC); it is escaped here so the message stays one line.
    return { message: e.path ? `${escapeControl(e.path)}: ${text}` : text, expected: true };
  }
  if (e instanceof Error) return { message: e.message || e.name, expected: false };
  return { message: String(e), expected: false };
}

/** Prints `spritzle: <message>` (one line) on stderr and returns the exit code to use. */
export function reportError(e: unknown): number {
  const { message, expected } = describeError(e);
  // Multi-line messages from libraries would break the one-line promise; keep the first line.
  const line = escapeControl(message.split('\n', 1)[0]!.trim());
  process.stderr.write(`spritzle: ${line}\n`);
  if (!expected && process.env.SPRITZLE_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${escapeControlKeepLines(e.stack)}\n`);
  return e instanceof CliError ? e.exitCode : EXIT_FAILURE;
}
