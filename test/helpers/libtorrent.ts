// Real libtorrent peers for tests: wrappers around test/peers/lt_peer.py (Debian's
// python3-libtorrent, run by /usr/bin/python3).  Everything is on 127.0.0.1.
//
// Every child is kept in a registry; killAllLtPeers() ends them all (it is also registered
// with jest's afterAll automatically when this module is imported from a test file).  The
// children run with --stdin-lifeline, so they also stop when the test process dies.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
export const LT_PEER_SCRIPT = fileURLToPath(new URL('../peers/lt_peer.py', import.meta.url));

/** python3-libtorrent importable by /usr/bin/python3 (checked once, synchronously). */
export const hasLibtorrent: boolean =
  spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

export const MISSING_LIBTORRENT =
  'python3-libtorrent is missing: `/usr/bin/python3 -c "import libtorrent"` fails. '
  + 'Install it with `apt-get install python3-libtorrent` (CI does); these tests need a real libtorrent peer.';

/** Throw (so the test fails, never skips) when libtorrent is not available. */
export function requireLibtorrent(): void {
  if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
}

/**
 * lt_peer.py --encryption: `plaintext` (default: plaintext out, either in), `enabled` (MSE tried both ways,
 * plaintext fallback), `forced` (pe_forced both ways, RC4 payload only), `refuse` (plaintext only).
 */
export type LtEncryption = 'plaintext' | 'enabled' | 'forced' | 'refuse';
/** encryption: libtorrent's peer_info flags, 'rc4', 'plaintext' (an MSE handshake, plaintext payload) or ''. */
export interface LtPeerSeen { endpoint: string; peer_id: string; client: string; encryption?: string }
export interface LtSeedStats { uploaded: number; peers_seen: LtPeerSeen[] }
export interface LtSeed {
  port: number;
  /** SIGTERM, wait for the exit and return the seed's upload summary */
  stop(): Promise<LtSeedStats>;
}
export interface LtSeedOptions {
  /** extra loopback tracker to announce to (trackers in the .torrent are used as well) */
  tracker?: string;
  /** make the seed dial these 127.0.0.1:PORT peers (re-dialled every second until connected) */
  peers?: string[];
  /** skip the hash check (trust the data) */
  seedMode?: boolean;
  /** listen port, default any free one */
  port?: number;
  /** 'utp': libtorrent with TCP off in both directions; default 'tcp' */
  transport?: 'tcp' | 'utp' | 'both';
  encryption?: LtEncryption;
}

export interface LtDownloadResult {
  ok: boolean;
  seconds: number;
  /** payload size of the torrent */
  bytes: number;
  hash_failures: number;
  info_hash: string;
  /** payload bytes actually received */
  downloaded: number;
  pieces: number;
  pieces_have: number;
  /** what peer_info said of the connections seen while downloading ('rc4', 'plaintext', '') */
  peer_encryption?: string[];
  error?: string;
}
export interface LtDownload {
  /** the downloader's listen port on 127.0.0.1 */
  port: Promise<number>;
  /** the result line (also for a timeout: ok false); rejects if lt_peer.py printed none */
  done: Promise<LtDownloadResult>;
  /** stop it now (SIGTERM, then SIGKILL) and wait for the exit */
  kill(): Promise<void>;
}
export interface LtDownloadOptions {
  /** listen port, default any free one */
  port?: number;
  /** 'utp': libtorrent with TCP off in both directions; default 'tcp' */
  transport?: 'tcp' | 'utp' | 'both';
  encryption?: LtEncryption;
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  stderr(): string;
}

const live = new Set<Child>();

function start(args: string[]): Child {
  const proc = spawn(PYTHON, [LT_PEER_SCRIPT, ...args, '--stdin-lifeline'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s: string) => {
    err = (err + s).slice(-20_000);
  });
  // Nothing is ever written to stdin; it only has to stay open (the lifeline).
  proc.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => {
    proc.on('error', (e) => {
      err += `\nspawn ${PYTHON}: ${e.message}`;
      resolve(null);
    });
    proc.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null)));
  });
  const child: Child = { proc, exited, stderr: () => err.trim() };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** SIGTERM, SIGKILL after `graceMs`; resolves when the process is gone. */
async function terminate(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
    await child.exited;
    return;
  }
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  try {
    await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** End every lt_peer.py started by this module (use in afterAll; also registered automatically). */
export async function killAllLtPeers(): Promise<void> {
  await Promise.all([...live].map((c) => terminate(c, 3_000)));
}

/** Call `fn` for every stdout line of the child. */
function onLines(child: Child, fn: (line: string) => void): void {
  createInterface({ input: child.proc.stdout }).on('line', fn);
}

function describeExit(what: string, code: number | null, child: Child): string {
  return `lt_peer.py ${what} exited (code ${code}) ${child.stderr() || '(no stderr)'}`;
}

function parseJson<T>(line: string): T | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

/** A peer address for lt_peer.py: "127.0.0.1:P" (a bare port number is also accepted). */
function peerArg(p: string | number): string {
  return typeof p === 'number' || /^\d+$/.test(p) ? `127.0.0.1:${p}` : p;
}

/**
 * Seed `torrentPath` with libtorrent from `savePath` (the folder that contains the torrent's
 * name).  Resolves once libtorrent has hash-checked the data and is seeding; rejects with
 * lt_peer.py's stderr if it exits first (e.g. incomplete data, exit 3) or after 30 s.
 */
export async function startLtSeed(torrentPath: string, savePath: string, opts: LtSeedOptions = {}): Promise<LtSeed> {
  requireLibtorrent();
  const args = ['seed', torrentPath, '--save-path', savePath, '--port', String(opts.port ?? 0)];
  if (opts.tracker) args.push('--tracker', opts.tracker);
  for (const p of opts.peers ?? []) args.push('--peer', peerArg(p));
  if (opts.seedMode) args.push('--seed-mode');
  if (opts.transport) args.push('--transport', opts.transport);
  if (opts.encryption) args.push('--encryption', opts.encryption);
  const child = start(args);
  let summary: LtSeedStats | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      void terminate(child, 2_000);
      reject(new Error(`lt_peer.py seed not READY after 30 s: ${child.stderr() || '(no stderr)'}`));
    }, 30_000);
    onLines(child, (line) => {
      const m = /^READY (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
        return;
      }
      summary = parseJson<LtSeedStats>(line) ?? summary;
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(describeExit('seed', code, child)));
    });
  });
  return {
    port,
    async stop(): Promise<LtSeedStats> {
      await terminate(child);
      const code = await child.exited;
      if (!summary) throw new Error(describeExit('seed (no summary)', code, child));
      return summary;
    },
  };
}

/**
 * Let libtorrent download `torrentOrMagnet` into `savePath`, dialling `peers`
 * ("127.0.0.1:P" or "P").  Returns at once: `port` is the downloader's own listen port (so the
 * engine could dial it too), `done` its result.
 */
export function startLtDownload(
  torrentOrMagnet: string,
  savePath: string,
  peers: (string | number)[],
  timeoutS = 120,
  opts: LtDownloadOptions = {},
): LtDownload {
  requireLibtorrent();
  const args = ['get', torrentOrMagnet, '--save-path', savePath, '--timeout', String(timeoutS),
    '--port', String(opts.port ?? 0)];
  for (const p of peers) args.push('--peer', peerArg(p));
  if (opts.transport) args.push('--transport', opts.transport);
  if (opts.encryption) args.push('--encryption', opts.encryption);
  const child = start(args);
  let result: LtDownloadResult | undefined;
  const port = new Promise<number>((resolve, reject) => {
    onLines(child, (line) => {
      const m = /^LISTEN (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else result = parseJson<LtDownloadResult>(line) ?? result;
    });
    void child.exited.then((code) => reject(new Error(describeExit('get', code, child))));
  });
  const done = child.exited.then((code) => {
    if (!result) throw new Error(describeExit('get', code, child));
    return result;
  });
  // Callers often await only one of the two; a rejection of the other must not become an
  // unhandled rejection (awaiting it still throws).
  port.catch(() => {});
  done.catch(() => {});
  return { port, done, kill: () => terminate(child, 5_000) };
}

/** startLtDownload(...).done */
export async function ltDownload(
  torrentOrMagnet: string,
  savePath: string,
  peers: (string | number)[],
  timeoutS = 120,
): Promise<LtDownloadResult> {
  return startLtDownload(torrentOrMagnet, savePath, peers, timeoutS).done;
}

// Automatic cleanup when imported from a jest test file (jest injects `afterAll` as a global).
const jestGlobals = globalThis as { afterAll?: (fn: () => Promise<void>, timeout?: number) => void };
if (typeof jestGlobals.afterAll === 'function') jestGlobals.afterAll(killAllLtPeers, 20_000);
