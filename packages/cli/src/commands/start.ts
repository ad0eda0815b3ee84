import { mkdir } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Session } from '@spritzle/engine';
import { startServer } from '@spritzle/server';
import { CliError, describeError } from '../errors.js';
import { escapeControl } from '../format.js';
import { humanLogStream, jsonLogFile, jsonLogStream } from '../log-output.js';
import { logSessionEvents } from '../event-log.js';
import { formatHostPort } from '../net.js';
import { dhtSettings, openSession } from '../session.js';
import { trapSignals } from '../signals.js';
import { loadConfigFile } from '../daemon/config.js';
import { acquireStateLock } from '../daemon/lock.js';
import { ResumeStore, saveBudgetMs } from '../daemon/resume-store.js';
import { removeStaleTemps } from '../daemon/atomic-write.js';
import { SessionStateStore } from '../daemon/session-state.js';

export interface StartOptions {
  port: number;
  host: string;
  listenPort: number;
  listenHost: string;
  downloadDir?: string;
  stateDir?: string;
  token?: string;
  dht: boolean;
  dhtBootstrap?: string[];
  logLevel: string;
  /** Log lines go to this file (JSON, appended) instead of stderr. */
  logFile?: string;
  /** MSE/PE: libtorrent's out_enc_policy, in_enc_policy, allowed_enc_level and prefer_rc4. */
  outEncPolicy?: string;
  inEncPolicy?: string;
  allowedEncLevel?: string;
  preferRc4?: boolean;
  /** Engine settings that came from the command line, environment or config file (they win over saved state). */
  givenSettings?: ReadonlySet<string>;
}

/**
 * How long a graceful shutdown may take besides saving resume data (the API, session state, trackers'
 * `stopped`, sockets) before the daemon exits anyway; the saves get a budget sized from their measured cost.
 */
const SHUTDOWN_LIMIT_MS = 10_000;

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

/** JSON lines on stderr (human-readable when stderr is a terminal), or appended to --log-file. */
function makeLogger(level: string, file?: string): Logger {
  if (!pino.levels.values[level]) throw new CliError(`unknown --log-level "${level}" (use ${Object.keys(pino.levels.values).join(', ')}, or silent)`);
  if (file !== undefined) return pino({ level, base: { pid: process.pid } }, jsonLogFile(file));
  if (process.stderr.isTTY) return pino({ level }, humanLogStream(2));
  return pino({ level, base: { pid: process.pid } }, jsonLogStream(2));
}

/** "downloadDir" → "download-dir": how the README and the flags spell a config file's keys. */
export function configSpelling(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * A config file's value through the same checks as its flag (commander's parser for it; the log level),
 * a bad one an error naming the file and the key as the file spells it, not the flag.
 */
function checkedConfigValue(cmd: Command, path: string, key: string, value: unknown): unknown {
  const fail = (why: string): never => {
    throw new CliError(`config file ${escapeControl(path)}: "${configSpelling(key)}" ${why}`);
  };
  if (key === 'logLevel' && typeof value === 'string' && value !== 'silent' && !pino.levels.values[value]) {
    fail(`must be one of ${Object.keys(pino.levels.values).join(', ')} or silent, not "${escapeControl(value)}"`);
  }
  const option = cmd.options.find((o) => o.attributeName() === key);
  if (!option?.parseArg || (typeof value !== 'string' && typeof value !== 'number')) return value;
  try {
    return option.parseArg(String(value), undefined);
  } catch (e) {
    return fail(e instanceof InvalidArgumentError ? e.message : String(e));
  }
}

/** The encryption options and the engine settings they set. */
const ENC_OPTIONS = [
  ['outEncPolicy', 'out_enc_policy'], ['inEncPolicy', 'in_enc_policy'], ['allowedEncLevel', 'allowed_enc_level'], ['preferRc4', 'prefer_rc4'],
] as const;

/** Engine settings for the encryption options (validated by the engine, which names a bad value). */
function encSettings(opts: StartOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [option, setting] of ENC_OPTIONS) if (opts[option] !== undefined) out[setting] = opts[option];
  return out;
}

/**
 * The `start` command's options as commander parsed them, completed from the config file (precedence: flag >
 * SPRITZLE_* variable > config file > default), then run.
 */
export async function startCommand(opts: StartOptions & { config?: string }, cmd: Command): Promise<number> {
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const configPath = opts.config ?? resolvePath(stateDir, 'config.json');
  const config = await loadConfigFile(configPath, opts.config !== undefined);
  for (const [key, value] of Object.entries(config)) {
    const source = cmd.getOptionValueSource(key);
    if (source === undefined || source === 'default' || source === 'implied') {
      cmd.setOptionValueWithSource(key, checkedConfigValue(cmd, configPath, key, value), 'config');
    }
  }
  const merged = cmd.opts<StartOptions>();
  // SPRITZLE_DHT_BOOTSTRAP may hold a comma-separated list.
  if (merged.dhtBootstrap) merged.dhtBootstrap = merged.dhtBootstrap.flatMap((b) => b.split(',')).filter(Boolean);
  const given = new Set<string>();
  if (cmd.getOptionValueSource('dht') !== 'default') given.add('enable_dht');
  if (merged.dhtBootstrap?.length) given.add('dht_bootstrap_nodes');
  for (const [option, setting] of ENC_OPTIONS) {
    const source = cmd.getOptionValueSource(option);
    if (source !== undefined && source !== 'default') given.add(setting);
  }
  given.add('save_path');
  return runStart({ ...merged, stateDir: merged.stateDir ?? stateDir, givenSettings: given });
}

/**
 * `spritzle start`: a session plus the REST API, with its torrents kept in the state directory across
 * restarts and crashes, until SIGINT/SIGTERM. Shutdown: the API stops (no new requests into a closing
 * session), resume data and session state are saved, trackers hear `stopped`, sockets close.
 */
export async function runStart(opts: StartOptions): Promise<number> {
  const t0 = performance.now();
  const downloadDir = resolvePath(opts.downloadDir ?? defaultDownloadDir());
  const stateDir = resolvePath(opts.stateDir ?? defaultStateDir());
  const log = opts.logLevel === 'silent' ? pino({ level: 'silent' }) : makeLogger(opts.logLevel, opts.logFile && resolvePath(opts.logFile));
  await ensureDir(downloadDir, 'download directory');
  await ensureDir(stateDir, 'state directory');
  const releaseLock = await acquireStateLock(stateDir);
  // An empty SPRITZLE_TOKEN= is the shell's way of unsetting it, not a request for an empty token.
  const token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
  const trap = trapSignals();
  let session: Session | null = null;
  let server: { url: string; close(): unknown } | null = null;
  let resume: ResumeStore | null = null;
  let state: SessionStateStore | null = null;
  /** No resume save starts after this (epoch ms); set when a signal starts the shutdown. */
  let saveDeadline = Number.POSITIVE_INFINITY;
  try {
    session = await openSession(opts.listenHost, opts.listenPort, {
      save_path: downloadDir,
      ...dhtSettings(opts),
      ...encSettings(opts),
    });
    const events = logSessionEvents(session, log);
    // The state lock is ours: nothing else writes here, so a temporary file is what a killed save left.
    const temps = await removeStaleTemps(stateDir);
    if (temps.length > 0) log.info({ dir: stateDir, files: temps.length }, 'removed temporary files of an interrupted save');
    state = new SessionStateStore(session, stateDir, log);
    await state.load(opts.givenSettings ?? new Set());
    resume = new ResumeStore(session, join(stateDir, 'torrents'), log, { defaultSavePath: downloadDir });
    const loaded = await resume.loadAll();
    resume.start();
    let api: { url: string; close(): unknown };
    try {
      // A 201 (and a removal's 200) waits for the change to be in the state journal: it survives a crash.
      const store = resume;
      api = await startServer(session, {
        host: opts.host, port: opts.port, token, downloadRoot: downloadDir, durable: (hash) => store.durable(hash),
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
    process.stdout.write(`downloads go to ${escapeControl(downloadDir)}\n`);
    process.stdout.write(`state in ${escapeControl(stateDir)}\n`);
    events.ready();
    log.info({
      ...loaded, ready_ms: Math.round(performance.now() - t0), rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20),
    }, 'ready');
    const sig = await trap.received;
    const budget = saveBudgetMs(resume.estimatedSaveMs());
    saveDeadline = Date.now() + budget;
    log.info({ signal: sig, limit_ms: budget + SHUTDOWN_LIMIT_MS }, 'shutting down');
    const limit = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, budget + SHUTDOWN_LIMIT_MS);
    limit.unref();
    return 0;
  } finally {
    try {
      await server?.close();
      await resume?.close(saveDeadline);
      await state?.close();
    } finally {
      await session?.close();
      await releaseLock();
      trap.dispose();
      log.flush?.();
    }
  }
}
