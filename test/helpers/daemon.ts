import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const CLI = join(ROOT, 'packages/cli/dist/main.js');

/** Builds the workspace once (the CLI runs from dist in a real process). */
export function buildCli(): void {
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: ROOT, encoding: 'utf8' });
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built:\n${r.stdout}${r.stderr}`);
}

export interface Daemon {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or null and the signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** Starts `spritzle start` on 127.0.0.1 with free ports, resolves once the API URL is printed. */
export async function startDaemon(stateDir: string, downloadDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  // DHT off unless the caller passes '--dht' (and then, always with its own local --dht-bootstrap).
  const dht = extra.includes('--dht');
  const args = extra.filter((a) => a !== '--dht');
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0',
    '--listen-host', '127.0.0.1', ...(dht ? [] : ['--no-dht']), '--state-dir', stateDir, '--download-dir', downloadDir, ...args],
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPRITZLE_TOKEN: '', ...env } });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      res({ code, signal });
    });
  });
  let gone = false;
  void exited.then(() => { gone = true; });
  const end = Date.now() + 30_000;
  for (;;) {
    const m = /spritzle API on (http:\/\/\S+)/.exec(out);
    if (m) {
      return {
        child, url: m[1]!.replace(/\/$/, ''), stdout: () => out, stderr: () => err, exited,
        stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
          child.kill(signal);
          return exited;
        },
      };
    }
    if (gone || Date.now() > end) throw new Error(`daemon did not start: ${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Kills every daemon still running (afterAll). */
export async function killAllDaemons(): Promise<void> {
  await Promise.all([...live].map((c) => new Promise<void>((res) => {
    c.once('close', () => res());
    c.kill('SIGKILL');
  })));
}

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
