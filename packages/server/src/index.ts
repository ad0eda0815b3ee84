/**
 * @spritzle/server: the REST facade over @spritzle/engine.
 *
 * ```ts
 * import { Session } from '@spritzle/engine';
 * import { startServer } from '@spritzle/server';
 * const session = await Session.create();
 * const api = await startServer(session, { port: 8080, downloadRoot: '/srv/torrents' });
 * ```
 */
export { createApp } from './app.js';
export { startServer, type RunningServer } from './server.js';
export type { ServerOptions } from './options.js';
export {
  openApiDocument, type OpenApiDocument, type PathItem, type Operation, type Parameter, type MediaType, type ResponseObject,
} from './openapi.js';
export type { Method } from './routes/route.js';
export { renderMetrics, metricName } from './metrics.js';
export type { ApiErrorBody, ApiErrorCode, ServerErrorCode } from './errors.js';
export { STATS_TORRENT_FIELDS, type StatsEvent, type StatsTorrent } from './events.js';
export type { JsonSchema, JsonType } from './schemas.js';
