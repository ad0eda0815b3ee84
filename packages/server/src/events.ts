import type { RequestHandler, Response } from 'express';
import type { Session, TorrentStatus } from '@spritzle/engine';
import type { ResolvedOptions } from './options.js';
import { statusRows } from './status-rows.js';

/** The per-torrent part of the periodic `stats` event: enough for a list view, without the piece bitfields. */
export const STATS_TORRENT_FIELDS = [
  'info_hash', 'name', 'state', 'paused', 'progress', 'download_rate', 'upload_rate', 'download_payload_rate',
  'upload_payload_rate', 'num_peers', 'num_seeds', 'total_done', 'total_wanted', 'error', 'eta', 'ratio',
] as const satisfies readonly (keyof TorrentStatus)[];

/** A torrent's summary in the `stats` event: the status fields of {@link STATS_TORRENT_FIELDS}. */
export type StatsTorrent = Pick<TorrentStatus, (typeof STATS_TORRENT_FIELDS)[number]>;

/** The `stats` event's data: every session counter, and a summary of each torrent. */
export interface StatsEvent {
  session: Record<string, number>;
  torrents: StatsTorrent[];
}

/** A client slower than this much unsent data is cut off rather than buffered without end. */
const MAX_BUFFERED = 4 * 1024 * 1024;

function statsEvent(session: Session): StatsEvent {
  return { session: session.stats(), torrents: statusRows(session, STATS_TORRENT_FIELDS) as StatsTorrent[] };
}

function frame(name: string, data: unknown): string {
  // JSON.stringify escapes newlines, so the payload is always one `data:` line.
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /events: Server-Sent Events. Every engine event as `event: <name>` with its payload as JSON, a `stats`
 * event on connect and then periodically, and a comment line as heartbeat so proxies keep the connection.
 * One engine subscription and one stats timer are shared by all clients, and dropped with the last one.
 */
export function eventsHandler(session: Session, opts: ResolvedOptions): RequestHandler {
  const clients = new Set<Response>();
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
    for (const res of clients) send(res, chunk);
  };

  const start = (): void => {
    unsubscribe = session.onAny((name, payload) => broadcast(frame(name, payload)));
    statsTimer = setInterval(() => {
      if (!session.closed) broadcast(frame('stats', statsEvent(session)));
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
    if (!session.closed) res.write(frame('stats', statsEvent(session)));
    clients.add(res);
    if (clients.size === 1) start();
    res.on('close', () => {
      clients.delete(res);
      if (clients.size === 0) stop();
    });
  };
}
