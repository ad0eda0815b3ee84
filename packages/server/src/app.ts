import express from 'express';
import type { Session } from '@spritzle/engine';
import { errorHandler, notFound } from './errors.js';
import { QB_PREFIX, qbittorrentRouter } from './qbittorrent/index.js';
import { TR_PATH, transmissionRouter } from './transmission/index.js';
import { eventsHandler } from './events.js';
import { metricsHandler } from './metrics.js';
import { openApiHandler } from './openapi.js';
import { resolveOptions, type ServerOptions } from './options.js';
import { route } from './routes/route.js';
import { sessionRoutes } from './routes/session.js';
import { torrentRoutes } from './routes/torrents.js';
import { streamRoutes } from './routes/stream.js';
import { webSeedRoutes } from './routes/web-seeds.js';
import { security } from './security.js';
import { StatusCache, invalidateOnRestChanges } from './status-cache.js';
import { isPublicUiRequest, webUiRoutes } from './web-ui.js';

/**
 * The REST facade over one engine session: security → body parsing → routes → errors. The app only talks
 * to the session through @spritzle/engine's public API.
 */
export function createApp(session: Session, options: ServerOptions = {}): express.Express {
  const opts = resolveOptions(session, options);
  const app = express();
  app.disable('x-powered-by');
  // Statuses change every second; hashing each answer for an ETag would cost time for nothing.
  app.set('etag', false);

  app.use(security(opts));

  // qBittorrent's Web API v2 and Transmission's RPC beside the REST API, sharing a status cache.
  // Transmission's comes before the body parsers: its clients post JSON labelled as a form (curl's default).
  const statuses = new StatusCache(session);
  app.use(TR_PATH, transmissionRouter({ session, opts, statuses }));

  // Room for a .torrent sent as base64 inside a JSON or urlencoded body.
  const bodyLimit = Math.ceil((opts.maxTorrentBytes * 4) / 3) + 64 * 1024;
  const json = express.json({ limit: bodyLimit });
  const form = express.urlencoded({ extended: false, limit: bodyLimit, parameterLimit: 20 });
  // The UI's login and logout are answered without the token: anyone who reaches the port may send them,
  // so they get room for a token, not for a .torrent.
  const small = express.json({ limit: '16kb' });
  // GET and HEAD carry no body: skipping the parsers keeps the polled routes cheap (less garbage per request).
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') next();
    else if (isPublicUiRequest(req)) small(req, res, next);
    else json(req, res, (err?: unknown) => (err ? next(err) : form(req, res, next)));
  });
  // multipart is parsed by multer on POST /torrent only, the one route that takes a file.

  const router = express.Router();
  router.use(invalidateOnRestChanges(statuses, session));
  sessionRoutes(router, session, opts);
  torrentRoutes(router, session, opts);
  streamRoutes(router, session, opts);
  webSeedRoutes(router, session);
  route(router, '/events', { get: eventsHandler(session, opts) });
  route(router, '/metrics', { get: metricsHandler(session) });
  route(router, '/openapi.json', { get: openApiHandler });
  webUiRoutes(router, opts);
  app.use(router);

  app.use(QB_PREFIX, qbittorrentRouter({ session, opts, statuses }));

  app.use(notFound);
  app.use(errorHandler(opts.log));
  return app;
}
