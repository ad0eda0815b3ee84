import type { RequestHandler, Response } from 'express';
import { SUMMARY_FIELDS, type Session, type TorrentSummary } from '@spritzle/engine';
import { badRequest } from './errors.js';
import { pick } from './status-rows.js';
import type { ResolvedOptions } from './options.js';

/** The per-torrent part of the periodic `stats` event: the engine's summary, enough for a list view. */
export const STATS_TORRENT_FIELDS = SUMMARY_FIELDS;

/** A torrent's summary in the `stats` event: the status fields of {@link STATS_TORRENT_FIELDS}. */
export type StatsTorrent = TorrentSummary;

/**
 * The `stats` event's data: every session counter, and a summary of each torrent. On a stream opened with
 * `?changes=1`, every stats event after the first has `changes: true` and lists only the torrents whose
 * summary differs from the one this stream last sent (removals come as `torrent_removed` events).
 */
export interface StatsEvent {
  session: Record<string, number>;
  torrents: StatsTorrent[];
  changes?: true;
}

/** One SSE client: a stream that wants only changed rows remembers, per torrent, the summary it last got. */
interface Client {
  res: Response;
  /** `?fields=`: the summary fields its rows hold (info_hash always), null for all of them. */
  fields: readonly string[] | null;
  sent: Map<string, string> | null;
}

const SUMMARY = new Set<string>(STATS_TORRENT_FIELDS);

/** `?fields=a,b`: summary fields only (a typo is a 400, not a silently missing column); null when absent. */
function parseFields(q: unknown): string[] | null {
  if (q === undefined) return null;
  if (typeof q !== 'string') throw badRequest('fields must be one comma-separated list of summary field names', 'fields');
  const names = [...new Set(q.split(',').map((s) => s.trim()).filter(Boolean))];
  if (names.length === 0) throw badRequest('fields must name at least one summary field', 'fields');
  const unknown = names.find((n) => !SUMMARY.has(n));
  if (unknown !== undefined) throw badRequest(`fields: "${unknown.slice(0, 64)}" is not a field of the stats event's torrents`, 'fields');
  return names;
}

/** A client slower than this much unsent data is cut off rather than buffered without end. */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** Every torrent's summary (TorrentHandle.summary, not a full status: no piece list per torrent per second). */
function statsRows(session: Session): StatsTorrent[] {
  const rows: StatsTorrent[] = [];
  for (const h of session.torrents()) {
    // A torrent removed while the list is built is simply not in it.
    if (h.isValid()) rows.push(h.summary());
  }
  return rows;
}

/** Each row's JSON (only `fields` when given) keyed by info_hash: what a `changes` stream compares the next rows with. */
function rowJson(rows: readonly StatsTorrent[], fields: readonly string[] | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of rows) out.set(r.info_hash, JSON.stringify(fields ? pick(r, fields) : r));
  return out;
}

/** A stats frame (a StatsEvent) of rows already in JSON. */
function statsFrame(counters: string, rows: Iterable<string>, changes: boolean): string {
  return `event: stats\ndata: {"session":${counters},"torrents":[${[...rows].join(',')}]${changes ? ',"changes":true' : ''}}\n\n`;
}

/** The rows whose JSON differs from `sent`. */
function* changed(current: Map<string, string>, sent: Map<string, string>): Iterable<string> {
  for (const [hash, json] of current) if (sent.get(hash) !== json) yield json;
}

function frame(name: string, data: unknown): string {
  // JSON.stringify escapes newlines, so the payload is always one `data:` line.
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /events: Server-Sent Events. Every engine event as `event: <name>` with its payload as JSON, a `stats`
 * event on connect and then periodically, and a comment line as heartbeat so proxies keep the connection.
 * With `?changes=1` the stats events after the first carry only the torrents that changed (a list of 10,000
 * mostly idle torrents is then a few bytes a second instead of megabytes).
 * One engine subscription and one stats timer are shared by all clients, and dropped with the last one.
 */
export function eventsHandler(session: Session, opts: ResolvedOptions): RequestHandler {
  const clients = new Set<Client>();
  let unsubscribe: (() => void) | null = null;
  let statsTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;

  const send = (res: Response, chunk: string): void => {
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy();
      return;
    }
    res.write(chunk);
  };
  const broadcast = (chunk: string): void => {
    for (const c of clients) send(c.res, chunk);
  };

  /** One summary pass for all clients; rows in JSON and whole frames built once per distinct `fields`. */
  const sendStats = (): void => {
    const counters = JSON.stringify(session.stats());
    const rows = statsRows(session);
    const json = new Map<string, Map<string, string>>();
    const full = new Map<string, string>();
    for (const c of clients) {
      const key = c.fields?.join(',') ?? '';
      let current = json.get(key);
      if (!current) json.set(key, (current = rowJson(rows, c.fields)));
      if (c.sent === null) {
        let f = full.get(key);
        if (f === undefined) full.set(key, (f = statsFrame(counters, current.values(), false)));
        send(c.res, f);
      } else {
        send(c.res, statsFrame(counters, changed(current, c.sent), true));
        c.sent = current;
      }
    }
  };

  const start = (): void => {
    unsubscribe = session.onAny((name, payload) => broadcast(frame(name, payload)));
    statsTimer = setInterval(() => {
      if (!session.closed) sendStats();
    }, opts.statsIntervalMs);
    heartbeatTimer = setInterval(() => broadcast(': heartbeat\n\n'), opts.heartbeatMs);
    // Timers must not keep a process alive whose server has otherwise closed.
    statsTimer.unref();
    heartbeatTimer.unref();
  };
  const stop = (): void => {
    unsubscribe?.();
    unsubscribe = null;
    if (statsTimer) clearInterval(statsTimer);
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    statsTimer = heartbeatTimer = null;
  };

  return (req, res) => {
    const fields = parseFields(req.query.fields);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // nginx buffers responses by default, which would hold events back.
    res.setHeader('X-Accel-Buffering', 'no');
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.write('retry: 3000\n\n');
    const client: Client = { res, fields, sent: req.query.changes === '1' ? new Map() : null };
    if (!session.closed) {
      const current = rowJson(statsRows(session), fields);
      res.write(statsFrame(JSON.stringify(session.stats()), current.values(), false));
      if (client.sent) client.sent = current;
    }
    clients.add(client);
    if (clients.size === 1) start();
    res.on('close', () => {
      clients.delete(client);
      if (clients.size === 0) stop();
    });
  };
}
