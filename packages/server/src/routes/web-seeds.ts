import type { Request, Router } from 'express';
import { SpritzleError, type Session, type TorrentHandle } from '@spritzle/engine';
import { badRequest } from '../errors.js';
import { INFO_HASH_RE } from '../schemas.js';
import { accepts, jsonObjectBody, route } from './route.js';

function handleOf(session: Session, req: Request): TorrentHandle {
  const hash = String(req.params.hash);
  if (!INFO_HASH_RE.test(hash)) throw badRequest(`"${hash.slice(0, 64)}" is not an info-hash (40 hex characters)`, 'hash', 'invalid_info_hash');
  const handle = session.findTorrent(hash.toLowerCase());
  if (!handle) throw new SpritzleError('torrent_not_found', `no torrent ${hash.toLowerCase()} in the session`);
  return handle;
}

/** A torrent's web seeds (BEP 19): listed with state and rates; one added by URL (libtorrent's add_url_seed). */
export function webSeedRoutes(router: Router, session: Session): void {
  route(router, '/torrent/:hash/web_seeds', {
    get: (req, res) => { res.json(handleOf(session, req).webSeeds()); },
    post: [accepts(['application/json']), (req, res) => {
      const handle = handleOf(session, req);
      const body = jsonObjectBody(req.body);
      for (const key of Object.keys(body)) {
        if (key !== 'url') throw badRequest(`"${key.slice(0, 64)}" is not a field here (url)`, key.slice(0, 64), 'invalid_param');
      }
      if (typeof body.url !== 'string') throw badRequest('url must be an http(s) URL', 'url', 'invalid_param');
      handle.addUrlSeed(body.url);
      res.status(201).json(handle.webSeeds());
    }],
  });
}
