import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { cliRunner, killChildren, waitForOutput } from './cli.js';
import { tmpDir } from './fixtures.js';

export interface Daemon {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or null and the signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const { spawnCli } = cliRunner();

/** Starts `spritzle start` on 127.0.0.1 with free ports, resolves once its start-up lines are all printed. */
export async function startDaemon(stateDir: string, downloadDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  // DHT off unless the caller passes '--dht' (and then, always with its own local --dht-bootstrap).
  const dht = extra.includes('--dht');
  const args = extra.filter((a) => a !== '--dht');
  const run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0',
    '--listen-host', '127.0.0.1', ...(dht ? [] : ['--no-dht']), '--state-dir', stateDir, '--download-dir', downloadDir, ...args],
  { SPRITZLE_TOKEN: '', ...env });
  const exited = run.done.then(({ code, signal }) => ({ code, signal }));
  // "state in ..." is the last start-up line: waiting for it means every line before it is there too.
  const m = await waitForOutput(run, /spritzle API on (http:\/\/\S+)[\s\S]*\nstate in /, 30_000).catch(() => {
    // Tests match on what the daemon said when it refused to start.
    throw new Error(`daemon did not start: ${run.stdout()}\n${run.stderr()}`);
  });
  return {
    child: run.child, url: m[1]!.replace(/\/$/, ''), stdout: run.stdout, stderr: run.stderr, exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      run.child.kill(signal);
      return exited;
    },
  };
}

/**
 * A daemon started with SPRITZLE_TOKEN under a fresh temp dir: its state in base/state, downloads in
 * base/downloads, and an empty base/work for the client's own files.
 */
export async function startTokenDaemon(prefix: string, token: string): Promise<{ daemon: Daemon; downloads: string; work: string }> {
  const base = await tmpDir(prefix);
  const downloads = path.join(base, 'downloads');
  const work = path.join(base, 'work');
  await mkdir(downloads, { recursive: true });
  await mkdir(work, { recursive: true });
  const daemon = await startDaemon(path.join(base, 'state'), downloads, [], { SPRITZLE_TOKEN: token });
  return { daemon, downloads, work };
}

/** Kills every daemon still running (afterAll). */
export const killAllDaemons = killChildren;

export async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** POST /torrent with a .torrent file and add params. */
export async function addTorrentFile(base: string, torrent: Uint8Array, args: Record<string, unknown>): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([torrent]), 'x.torrent');
  form.append('args', JSON.stringify(args));
  const r = await fetch(`${base}/torrent`, { method: 'POST', body: form });
  if (r.status !== 201) throw new Error(`POST /torrent: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { info_hash: string }).info_hash;
}
