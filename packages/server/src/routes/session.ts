import { statfs } from 'node:fs/promises';
import type { Router } from 'express';
import type { Session } from '@spritzle/engine';
import { confineSavePathField } from '../add-params.js';
import type { ResolvedOptions } from '../options.js';
import { accepts, jsonObjectBody, route } from './route.js';

export function sessionRoutes(router: Router, session: Session, opts: ResolvedOptions): void {
  route(router, '/session', { get: (_req, res) => { res.json(session.stats()); } });
  route(router, '/session/dht', { get: (_req, res) => { res.json(session.isDhtRunning()); } });
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
