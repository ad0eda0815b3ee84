import { expect } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './fixtures.js';

// The `spritzle` command run as a real subprocess from its built dist (jest maps @spritzle/* to sources
// only inside jest; a child process needs the compiled packages). Each test file gets its own copy of
// this module, so `children` and the temp dirs below belong to the file that uses them.

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const CLI = join(ROOT, 'packages/cli/dist/main.js');

export interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
export interface Running { child: ChildProcess; stdout: () => string; stderr: () => string; done: Promise<Run> }
export interface Started { child: ChildProcess; match: RegExpExecArray; done: Promise<Run> }

/** Every CLI process still running; killChildren() (afterAll) ends them. */
const children = new Set<ChildProcess>();
const tmpDirs: string[] = [];

/** Builds the workspace (beforeAll): the CLI runs from dist in a real process. */
export function buildCli(): void {
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: ROOT, encoding: 'utf8' });
  // Type errors elsewhere in the workspace do not stop tsc -b from emitting; what the tests need is
  // the CLI's dist. Show the errors but only fail if nothing runnable was built.
  if (r.status !== 0) console.warn(`tsc -b exited ${r.status}:\n${r.stdout}${r.stderr}`);
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built:\n${r.stdout}${r.stderr}`);
}

/** A temp dir that cleanup() removes. */
export async function tmp(prefix: string): Promise<string> {
  const d = await tmpDir(prefix);
  tmpDirs.push(d);
  return d;
}

/** SIGKILLs every CLI process still running and waits until they are gone. */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((c) => new Promise<void>((res) => {
    c.once('close', () => res());
    c.kill('SIGKILL');
  })));
}

/** afterAll: killChildren(), then removes the dirs tmp() made. */
export async function cleanup(): Promise<void> {
  await killChildren();
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
}

/** A TCP port nothing listens on on 127.0.0.1 (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface CliOptions {
  /** Rewrites the arguments of every invocation (a test file's `offline()`). */
  rewrite?: (args: string[]) => string[];
  /** Variables not passed on from the environment the tests run in. */
  unset?: string[];
  /** How long runCli lets a command run before SIGKILL, unless a call says otherwise. */
  timeout?: number;
}

export interface CliRunner {
  /** Starts the CLI with `env` on top of the tests' environment. */
  spawnCli(args: string[], env?: NodeJS.ProcessEnv): Running;
  /** Runs to completion, killed after `ms` (a command that should have ended must not hang the suite). */
  runCli(args: string[], env?: NodeJS.ProcessEnv, ms?: number): Promise<Run>;
  /** A long-running CLI process: resolves once stdout matches `re`. */
  startCli(args: string[], re: RegExp, ms?: number): Promise<Started>;
}

export function cliRunner({ rewrite = (a) => a, unset = [], timeout = 30_000 }: CliOptions = {}): CliRunner {
  function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
    const base = { ...process.env };
    for (const k of unset) delete base[k];
    const child = spawn(process.execPath, [CLI, ...rewrite(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const done = new Promise<Run>((res, rej) => {
      child.on('error', rej);
      child.on('close', (code, signal) => {
        children.delete(child);
        res({ code, signal, stdout, stderr });
      });
    });
    return { child, stdout: () => stdout, stderr: () => stderr, done };
  }

  async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, ms = timeout): Promise<Run> {
    const r = spawnCli(args, env);
    const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
    try {
      return await r.done;
    } finally {
      clearTimeout(timer);
    }
  }

  async function startCli(args: string[], re: RegExp, ms = 30_000): Promise<Started> {
    const r = spawnCli(args);
    const match = await waitForOutput(r, re, ms);
    return { child: r.child, match, done: r.done };
  }

  return { spawnCli, runCli, startCli };
}

/** Waits until stdout matches `re`, failing early if the process exits first. */
export async function waitForOutput(r: Running, re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  let exited: Run | null = null;
  void r.done.then((x) => { exited = x; }, () => {});
  for (;;) {
    const m = re.exec(r.stdout());
    if (m) return m;
    if (exited) throw new Error(`exited before printing ${re}: ${JSON.stringify(exited)}`);
    if (Date.now() > end) throw new Error(`no ${re} in ${ms} ms; stdout so far: ${r.stdout()} stderr: ${r.stderr()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/**
 * The error contract: exactly one line `spritzle: ...` on stderr and a non-zero exit; unless
 * `stackAllowed`, no stack trace either.
 */
export function expectOneLineError(r: Run, pattern: RegExp, { stackAllowed = false } = {}): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^spritzle: /);
  expect(lines[0]).toMatch(pattern);
  if (!stackAllowed) expect(r.stderr).not.toMatch(/\n\s+at /);
}
