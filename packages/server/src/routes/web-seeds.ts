import type { Router } from 'express';
import type { Session } from '@spritzle/engine';
import { badRequest } from '../errors.js';
import { accepts, handleOf, jsonObjectBody, route } from './route.js';

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
