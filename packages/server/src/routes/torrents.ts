import { isIP } from 'node:net';
import type { Request, RequestHandler, Response, Router } from 'express';
import multer from 'multer';
import { SpritzleError, type Session, type TorrentHandle, type TorrentStatus } from '@spritzle/engine';
import { confineSavePathField, readAddParams } from '../add-params.js';
import { HttpError, badRequest } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { STATUS_FIELDS } from '../schemas.js';
import { pick, statusRows } from '../status-rows.js';
import { accepts, handleOf, jsonObjectBody, route } from './route.js';

/**
 * `?fields=a,b` (or repeated) → the status keys asked for, or null when absent. An unknown name is a 400,
 * so a typo does not silently become a missing column.
 */
function parseFields(q: unknown): string[] | null {
  if (q === undefined) return null;
  const parts = Array.isArray(q) ? q : [q];
  if (!parts.every((p): p is string => typeof p === 'string')) throw badRequest('fields must be a comma-separated list of status field names', 'fields');
  const names = [...new Set(parts.flatMap((p) => p.split(',')).map((s) => s.trim()).filter(Boolean))];
  if (names.length === 0) throw badRequest('fields must name at least one status field', 'fields');
  const unknown = names.find((n) => !STATUS_FIELDS.has(n));
  if (unknown !== undefined) throw badRequest(`fields: "${unknown.slice(0, 64)}" is not a status field`, 'fields');
  return names;
}

/** 200 with an empty body, as the spec's DELETE examples show (Content-Length: 0, no Content-Type). */
function emptyOk(res: Response): void {
  res.status(200).setHeader('Content-Length', '0');
  res.end();
}

function deleteFiles(req: Request): boolean {
  // Presence only: `?delete_files`, `?delete_files=1` and `?delete_files=false` all delete (as the original did).
  return Object.prototype.hasOwnProperty.call(req.query, 'delete_files');
}

/** POST /torrent/<hash>/peers's body: an IP address (as libtorrent's tcp::endpoint; no names) and a TCP port. */
function readPeerEndpoint(raw: unknown): { host: string; port: number } {
  const body = jsonObjectBody(raw);
  for (const key of Object.keys(body)) {
    if (key !== 'host' && key !== 'port') throw badRequest(`"${key.slice(0, 64)}" is not a field here (host, port)`, key.slice(0, 64), 'invalid_param');
  }
  const { host, port } = body;
  if (typeof host !== 'string' || isIP(host) === 0) throw badRequest('host must be an IPv4 or IPv6 address', 'host', 'invalid_param');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw badRequest('port must be an integer 1..65535', 'port', 'invalid_param');
  }
  return { host, port };
}

/** multer with memory storage and limits; its parse failures (malformed multipart) become 400s, not 500s. */
function multipart(opts: ResolvedOptions): RequestHandler {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: {
      fileSize: opts.maxTorrentBytes,
      files: 1,
      fields: 8,
      parts: 12,
      fieldNameSize: 200,
      // A text `file` field carries the .torrent in base64: 4/3 of the upload limit.
      fieldSize: Math.ceil((opts.maxTorrentBytes * 4) / 3) + 4096,
    },
  }).single('file');
  return (req, res, next) => {
    upload(req, res, (err?: unknown) => {
      if (err === undefined || err === null || err instanceof multer.MulterError) {
        next(err ?? undefined);
        return;
      }
      next(new HttpError(400, 'bad_request', `malformed multipart body: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
    });
  };
}

export function torrentRoutes(router: Router, session: Session, opts: ResolvedOptions): void {
  route(router, '/torrent', {
    get: (req, res) => {
      const fields = parseFields(req.query.fields);
      const handles = session.torrents();
      if (fields === null) res.json(handles.map((h) => h.infoHash));
      else res.json(statusRows(session, fields));
    },
    post: [
      accepts(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']),
      multipart(opts),
      async (req, res) => {
        const params = await readAddParams(req, {
          downloadRoot: opts.downloadRoot,
          self: { boundHost: opts.host, localAddress: req.socket.localAddress, localPort: req.socket.localPort },
          limits: { maxBytes: opts.maxTorrentBytes, timeoutMs: opts.fetchTimeoutMs, maxRedirects: opts.maxRedirects },
        });
        const handle = await session.addTorrent(params);
        await opts.durable(handle.infoHash);
        const host = req.headers.host ?? `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${req.socket.localPort ?? ''}`;
        res.status(201).location(`${req.protocol}://${host}${req.baseUrl}/torrent/${handle.infoHash}`).json({ info_hash: handle.infoHash });
      },
    ],
    delete: async (req, res) => {
      const del = deleteFiles(req);
      // Remove them all even if one fails; then report the first real failure.
      const results = await Promise.allSettled(session.torrents().map(async (h) => {
        await session.removeTorrent(h.infoHash, { deleteFiles: del });
        await opts.durable(h.infoHash);
      }));
      const failure = results.find((r): r is PromiseRejectedResult =>
        r.status === 'rejected' && !(r.reason instanceof SpritzleError && r.reason.code === 'torrent_not_found'));
      if (failure) throw failure.reason;
      emptyOk(res);
    },
  });

  route(router, '/torrent/:hash', {
    get: (req, res) => {
      const fields = parseFields(req.query.fields);
      const status = handleOf(session, req).status();
      res.json(fields === null ? status : pick(status, fields));
    },
    patch: [accepts(['application/json']), (req, res) => {
      const handle = handleOf(session, req);
      // The rules are the engine's (validateTorrentUpdate): a bad body is its invalid_param, a 400 naming the field.
      handle.update(jsonObjectBody(req.body));
      res.json(handle.status());
    }],
    delete: async (req, res) => {
      const handle = handleOf(session, req);
      await session.removeTorrent(handle.infoHash, { deleteFiles: deleteFiles(req) });
      await opts.durable(handle.infoHash);
      emptyOk(res);
    },
  });

  // The actions answer with the torrent's status, so a UI sees the effect without a second request.
  route(router, '/torrent/:hash/pause', {
    post: (req, res) => {
      const handle = handleOf(session, req);
      handle.pause();
      res.json(handle.status());
    },
  });
  route(router, '/torrent/:hash/resume', {
    post: (req, res) => {
      const handle = handleOf(session, req);
      handle.resume();
      res.json(handle.status());
    },
  });
  route(router, '/torrent/:hash/recheck', {
    post: async (req, res) => {
      const handle = handleOf(session, req);
      const checking = handle.forceRecheck();
      // Checking can take minutes: answer once it has started. A refusal (no metadata yet) comes at once and
      // is the answer; a later failure shows in the torrent's status and events.
      const early = await Promise.race([
        checking.then(() => undefined, (e: unknown) => ({ error: e })),
        new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))),
      ]);
      if (early) throw early.error;
      checking.catch(() => undefined);
      res.json(handle.status());
    },
  });
  route(router, '/torrent/:hash/move', {
    // libtorrent's move_storage: answers with the status once the files are at the new save path.
    post: [accepts(['application/json']), async (req, res) => {
      const handle = handleOf(session, req);
      const body = jsonObjectBody(req.body);
      for (const key of Object.keys(body)) if (key !== 'save_path') throw badRequest(`"${key.slice(0, 64)}": the body holds only save_path`, key.slice(0, 64), 'invalid_param');
      if (typeof body.save_path !== 'string' || body.save_path === '') throw badRequest('save_path must be a path', 'save_path', 'invalid_param');
      const target = opts.downloadRoot !== null ? await confineSavePathField(body.save_path, opts.downloadRoot, 'save_path') : body.save_path;
      await handle.moveStorage(target);
      res.json(handle.status());
    }],
  });
  route(router, '/torrent/:hash/rename', {
    // libtorrent's rename_file: answers with the file list once the file has its new name.
    post: [accepts(['application/json']), async (req, res) => {
      const handle = handleOf(session, req);
      const body = jsonObjectBody(req.body);
      for (const key of Object.keys(body)) if (key !== 'index' && key !== 'name') throw badRequest(`"${key.slice(0, 64)}": the body holds index and name`, key.slice(0, 64), 'invalid_param');
      if (typeof body.index !== 'number' || !Number.isInteger(body.index)) throw badRequest('index must be a file index', 'index', 'invalid_param');
      if (typeof body.name !== 'string' || body.name === '') throw badRequest('name must be a path relative to the save path', 'name', 'invalid_param');
      await handle.renameFile(body.index, body.name);
      res.json(handle.files());
    }],
  });
  route(router, '/torrent/:hash/files', { get: (req, res) => { res.json(handleOf(session, req).files()); } });
  route(router, '/torrent/:hash/peers', {
    get: (req, res) => { res.json(handleOf(session, req).peers()); },
    // libtorrent's torrent_handle::connect_peer: dial this endpoint for the torrent. The dial happens in the
    // background (202); the peer shows in GET .../peers once its handshake checked out.
    post: [accepts(['application/json']), (req, res) => {
      const handle = handleOf(session, req);
      const { host, port } = readPeerEndpoint(req.body);
      handle.connectPeer(host, port);
      res.status(202).json({ info_hash: handle.infoHash, host, port });
    }],
  });
  route(router, '/torrent/:hash/trackers', { get: (req, res) => { res.json(handleOf(session, req).trackers()); } });
}
