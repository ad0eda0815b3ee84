import type { Request, RequestHandler, Router } from 'express';
import { SpritzleError, type Session, type TorrentHandle } from '@spritzle/engine';
import { HttpError, badRequest, methodNotAllowed } from '../errors.js';
import { INFO_HASH_RE } from '../schemas.js';

/** The HTTP methods the API's routes use (lower case, as Express names its router methods). */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Handlers = Partial<Record<Method, RequestHandler | readonly RequestHandler[]>>;

/**
 * Registers a path's methods, then a catch-all that answers 405 with an Allow header: the router would
 * otherwise fall through to the 404 and a client could not tell a wrong method from a wrong path.
 */
export function route(router: Router, path: string, handlers: Handlers): void {
  const r = router.route(path);
  const methods = Object.keys(handlers) as Method[];
  for (const m of methods) {
    const h = handlers[m]!;
    r[m](...(Array.isArray(h) ? h : [h as RequestHandler]));
  }
  r.all(methodNotAllowed(methods));
}

/** 415 for a body in a type the route does not read (no body at all is left to the route to judge). */
export function accepts(types: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    // An empty body (Content-Length: 0, as fetch sends for a bare POST) has no type to judge.
    const empty = req.headers['transfer-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) === 0;
    if (!empty && req.is([...types]) === false) {
      next(new HttpError(415, 'unsupported_media_type', `send the body as ${types.join(' or ')}, not ${req.headers['content-type'] ?? 'an untyped body'}`));
      return;
    }
    next();
  };
}

/** A JSON object body, or a 400 saying so. */
export function jsonObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object (Content-Type: application/json)');
  }
  return body as Record<string, unknown>;
}

/** `:hash` → the torrent's handle: 400 for a malformed hash (the original answered 500), 404 for an unknown one. */
export function handleOf(session: Session, req: Request): TorrentHandle {
  const hash = String(req.params.hash);
  if (!INFO_HASH_RE.test(hash)) throw badRequest(`"${hash.slice(0, 64)}" is not an info-hash (40 hex characters, or 64 for a v2 one)`, 'hash', 'invalid_info_hash');
  const handle = session.findTorrent(hash.toLowerCase());
  if (!handle) throw new SpritzleError('torrent_not_found', `no torrent ${hash.toLowerCase()} in the session`);
  return handle;
}
