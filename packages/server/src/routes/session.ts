import { statfs } from 'node:fs/promises';
import type { Router } from 'express';
import { validateTag, type Session } from '@spritzle/engine';
import { confineSavePathField } from '../add-params.js';
import type { ResolvedOptions } from '../options.js';
import { HttpError, badRequest } from '../errors.js';
import { accepts, jsonObjectBody, route } from './route.js';

export function sessionRoutes(router: Router, session: Session, opts: ResolvedOptions): void {
  route(router, '/session', { get: (_req, res) => { res.json(session.stats()); } });
  route(router, '/session/dht', { get: (_req, res) => { res.json(session.isDhtRunning()); } });
  route(router, '/session/categories', { get: (_req, res) => { res.json(session.categories()); } });
  route(router, '/session/categories/:name', {
    // Creates the category or changes its save path; a save_path stays inside the download root, like any.
    put: [accepts(['application/json']), async (req, res) => {
      const body = jsonObjectBody(req.body);
      for (const key of Object.keys(body)) if (key !== 'save_path') throw badRequest(`"${key.slice(0, 64)}": a category has only a save_path`, key.slice(0, 64), 'invalid_param');
      const given = body.save_path ?? '';
      if (typeof given !== 'string') throw badRequest('save_path must be a path, "" for the session\'s', 'save_path', 'invalid_param');
      let savePath = given;
      if (savePath !== '' && opts.downloadRoot !== null) savePath = await confineSavePathField(savePath, opts.downloadRoot, 'save_path');
      res.json(session.setCategory(String(req.params.name), savePath));
    }],
    delete: (req, res) => {
      const name = String(req.params.name);
      if (!session.removeCategory(name)) throw new HttpError(404, 'not_found', `no category "${name.slice(0, 100)}"`);
      res.status(200).setHeader('Content-Length', '0');
      res.end();
    },
  });
  route(router, '/session/tags', { get: (_req, res) => { res.json(session.tags()); } });
  route(router, '/session/tags/:name', {
    // qBittorrent's createTags and deleteTags: a tag known without a torrent carrying it; gone from every torrent.
    put: (req, res) => {
      session.createTags([validateTag(String(req.params.name), 'name')]);
      res.json(session.tags());
    },
    delete: (req, res) => {
      const name = String(req.params.name);
      if (!session.tags().includes(name)) throw new HttpError(404, 'not_found', `no tag "${name.slice(0, 100)}"`);
      session.deleteTag(name);
      res.json(session.tags());
    },
  });
  // Free space where downloads land: the download root, or the default save_path when the daemon has none.
  route(router, '/session/disk', {
    get: async (_req, res) => {
      const dir = opts.downloadRoot ?? session.settings().save_path;
      const s = await statfs(dir);
      res.json({ path: dir, free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize } satisfies DiskSpace);
    },
  });
  route(router, '/session/settings', {
    get: (_req, res) => { res.json(session.settings()); },
    // Answers with every setting after the change (the original answered an empty body), so a client sees
    // coercions such as "5" → 5.
    patch: [accepts(['application/json']), async (req, res) => {
      const body = { ...jsonObjectBody(req.body) };
      // The default save_path must stay inside the download root too, or it would be a way around the fence.
      if (opts.downloadRoot !== null && typeof body.save_path === 'string') {
        body.save_path = await confineSavePathField(body.save_path, opts.downloadRoot, 'save_path');
      }
      res.json(session.applySettings(body));
    }],
  });
}

/** GET /session/disk: the file system holding the downloads; free_bytes is what an unprivileged writer may use. */
export interface DiskSpace {
  path: string;
  free_bytes: number;
  total_bytes: number;
}
