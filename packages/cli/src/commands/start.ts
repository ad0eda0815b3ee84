import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import type { Session } from '@spritzle/engine';
import { startServer } from '@spritzle/server';
import { CliError, describeError } from '../errors.js';
import { formatHostPort } from '../net.js';
import { openSession } from '../session.js';
import { trapSignals } from '../signals.js';

export interface StartOptions {
  port: number;
  host: string;
  listenPort: number;
  listenHost: string;
  downloadDir?: string;
  stateDir?: string;
  token?: string;
  dht: boolean;
}

/** $XDG_DOWNLOAD_DIR/spritzle when the desktop names a download folder, else ~/Downloads/spritzle. */
export function defaultDownloadDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DOWNLOAD_DIR;
  return join(xdg && xdg.trim() !== '' ? xdg : join(homedir(), 'Downloads'), 'spritzle');
}

/** XDG base-directory spec: state (resume data, the torrent list) lives in $XDG_STATE_HOME. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return join(xdg && xdg.trim() !== '' ? xdg : join(homedir(), '.local', 'state'), 'spritzle');
}

async function ensureDir(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new CliError(`cannot create the ${what} ${describeError(e).message}`);
  }
}

/** The errno code of a listen failure, also when the server wrapped it (as `cause`) in its own message. */
function errnoOf(e: unknown, depth = 0): string | undefined {
  if (typeof e !== 'object' || e === null || depth > 3) return undefined;
  const { code, cause } = e as { code?: unknown; cause?: unknown };
  return typeof code === 'string' ? code : errnoOf(cause, depth + 1);
}

/**
 * `spritzle start`: a session plus the REST API, until SIGINT/SIGTERM; then the API stops first (no new
 * requests into a closing session) and the session closes.
 */
export async function runStart(opts: StartOptions): Promise<number> {
  const downloadDir = resolvePath(opts.downloadDir ?? defaultDownloadDir());
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  await ensureDir(downloadDir, 'download directory');
  // Nothing is persisted yet; creating the state directory now still catches an unusable path at start.
  await ensureDir(stateDir, 'state directory');
  // An empty SPRITZLE_TOKEN= is the shell's way of unsetting it, not a request for an empty token.
  const token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
  const trap = trapSignals();
  let session: Session | null = null;
  let server: { url: string; close(): unknown } | null = null;
  try {
    session = await openSession(opts.listenHost, opts.listenPort, { save_path: downloadDir, enable_dht: opts.dht });
    let api: { url: string; close(): unknown };
    try {
      api = await startServer(session, {
        host: opts.host, port: opts.port, token, downloadRoot: downloadDir,
      });
      server = api;
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'EADDRINUSE') {
        throw new CliError(`API port ${opts.port} on ${opts.host} is already in use (choose another with --port)`);
      }
      if (code === 'EADDRNOTAVAIL') throw new CliError(`cannot serve the API on ${opts.host}: not an address of this machine`);
      throw e;
    }
    process.stdout.write(`spritzle API on ${api.url}\n`);
    process.stdout.write(`peers on ${formatHostPort(opts.listenHost, session.listenPort)}\n`);
    process.stdout.write(`downloads go to ${downloadDir}\n`);
    const sig = await trap.received;
    process.stderr.write(`spritzle: ${sig} received, shutting down\n`);
    return 0;
  } finally {
    try {
      await server?.close();
    } finally {
      await session?.close();
      trap.dispose();
    }
  }
}
