import path from 'node:path';
import type { Session } from '@spritzle/engine';

/** How the REST facade is configured. Every field is optional; the defaults are the safe ones. */
export interface ServerOptions {
  /**
   * API token. When set, every request needs `Authorization: Bearer <token>`. startServer refuses a
   * non-loopback host without one.
   */
  token?: string;
  /** The address the API listens on (startServer binds it; createApp trusts it as a Host name). Default 127.0.0.1. */
  host?: string;
  /** The API port for startServer. Default 8080; 0 picks a free port. */
  port?: number;
  /** Host names (or addresses) accepted in the Host header besides localhost, 127.0.0.1, [::1] and `host`. "*" accepts any. */
  allowedHosts?: readonly string[];
  /** Web origins (e.g. "http://localhost:3000") allowed to make state-changing requests, besides the API's own. */
  allowedOrigins?: readonly string[];
  /**
   * Where add_torrent_params.save_path (and the save_path setting) must stay. A relative save_path is taken
   * relative to it. Default: the session's save_path setting when the app is created. `null` turns the
   * confinement off.
   */
  downloadRoot?: string | null;
  /** Largest .torrent accepted, uploaded or fetched from a url. Default 10 MiB. */
  maxTorrentBytes?: number;
  /** Whole-fetch deadline for a url add, in ms. Default 15000. */
  fetchTimeoutMs?: number;
  /** Redirects followed for a url add. Default 5. */
  maxRedirects?: number;
  /** Period of the SSE `stats` event, in ms. Default 1000. */
  statsIntervalMs?: number;
  /** Period of the SSE keep-alive comment, in ms. Default 15000. */
  heartbeatMs?: number;
  /** Where unexpected errors (real bugs) are reported. Default console.error. */
  log?: (message: string, err?: unknown) => void;
  /**
   * Awaited after a torrent was added or removed, before the answer: an application that keeps its
   * torrents on disk resolves once that change is (so a 201 means the torrent survives a crash), or
   * rejects (the request then fails with that error). Default: answer at once.
   */
  durable?: (infoHash: string) => Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
export const MiB = 1024 * 1024;

/** ServerOptions with every default filled in, resolved once per app. */
export interface ResolvedOptions {
  token: string | undefined;
  host: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  downloadRoot: string | null;
  maxTorrentBytes: number;
  fetchTimeoutMs: number;
  maxRedirects: number;
  statsIntervalMs: number;
  heartbeatMs: number;
  log: (message: string, err?: unknown) => void;
  durable: (infoHash: string) => Promise<void>;
}

function positive(name: string, v: number | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new TypeError(`ServerOptions.${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  return v;
}

export function resolveOptions(session: Session, o: ServerOptions): ResolvedOptions {
  if (o.token !== undefined && o.token.length === 0) throw new TypeError('ServerOptions.token must not be empty');
  // Resolved now, not per request: a later PATCH of the save_path setting must not move the fence.
  const root = o.downloadRoot === null ? null : path.resolve(o.downloadRoot ?? session.settings().save_path);
  return {
    token: o.token,
    host: o.host ?? DEFAULT_HOST,
    allowedHosts: o.allowedHosts ?? [],
    allowedOrigins: o.allowedOrigins ?? [],
    downloadRoot: root,
    maxTorrentBytes: positive('maxTorrentBytes', o.maxTorrentBytes, 10 * MiB),
    fetchTimeoutMs: positive('fetchTimeoutMs', o.fetchTimeoutMs, 15_000),
    maxRedirects: positive('maxRedirects', o.maxRedirects, 5, true),
    statsIntervalMs: positive('statsIntervalMs', o.statsIntervalMs, 1000),
    heartbeatMs: positive('heartbeatMs', o.heartbeatMs, 15_000),
    log: o.log ?? ((message, err) => console.error(`spritzle server: ${message}`, err ?? '')),
    durable: o.durable ?? (() => Promise.resolve()),
  };
}
