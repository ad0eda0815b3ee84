import type { RequestHandler } from 'express';
import { Counters, type Session } from '@spritzle/engine';

/** libtorrent's "net.recv_bytes" → "libtorrent_net_recv_bytes" (Prometheus names allow only [a-zA-Z0-9_:]). */
export function metricName(name: string): string {
  return `libtorrent_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Every session counter in the Prometheus text exposition format (0.0.4), typed counter or gauge as libtorrent types it. */
export function renderMetrics(session: Session): string {
  const stats = session.stats();
  const lines: string[] = [];
  for (const { name, type } of Counters.names()) {
    const m = metricName(name);
    lines.push(`# HELP ${m} libtorrent session ${type} ${name}`);
    lines.push(`# TYPE ${m} ${type}`);
    lines.push(`${m} ${stats[name] ?? 0}`);
  }
  return `${lines.join('\n')}\n`;
}

export function metricsHandler(session: Session): RequestHandler {
  return (_req, res) => {
    res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    res.send(renderMetrics(session));
  };
}
