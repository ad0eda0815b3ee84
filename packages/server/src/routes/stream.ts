import { pipeline } from 'node:stream/promises';
import type { Request, Response, Router } from 'express';
import { SpritzleError, type Session, type TorrentHandle } from '@spritzle/engine';
import { HttpError, badRequest } from '../errors.js';
import { contentTypeOf, ifRangeHolds, isMedia, noneMatch, parseRange } from '../http-range.js';
import type { ResolvedOptions } from '../options.js';
import { handleOf, route } from './route.js';

/** The paths a `?token=` query parameter may authenticate (players cannot send an Authorization header). */
export const MEDIA_PATH_RE = /^\/(?:torrent\/[^/]+\/(?:files\/[^/]+\/stream|stream\/[^/]+|playlist\.m3u8)|playlist\.m3u8)$/;

function filesOf(handle: TorrentHandle): ReturnType<TorrentHandle['files']> {
  const files = handle.files();
  if (files.length === 0) throw new SpritzleError('invalid_state', `torrent ${handle.infoHash} has no metadata yet; its files are not known`);
  return files;
}

/**
 * One file's bytes with RFC 9110 range semantics: 200 (whole), 206 (one range), 416 (outside the file),
 * 304 (If-None-Match); HEAD answers the headers only. The ETag names the info-hash and the file, whose
 * bytes never change. Bytes flow as the pieces under them are verified.
 */
function serveFile(req: Request, res: Response, handle: TorrentHandle, index: number): void {
  const file = filesOf(handle)[index];
  if (!file || file.pad) throw new HttpError(404, 'not_found', `torrent ${handle.infoHash} has no file ${index}`);
  const size = file.size;
  const etag = `"${handle.infoHash}-${index}"`;
  const name = file.path.slice(file.path.lastIndexOf('/') + 1);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', etag);
  res.setHeader('Content-Type', contentTypeOf(file.path));
  res.setHeader('Content-Disposition', `inline; filename*=UTF-8''${encodeURIComponent(name)}`);
  // The torrent's content must not run as a page of this origin, nor leak a ?token= in a Referer.
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (noneMatch(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  // Range is defined for GET only (RFC 9110 14.2); If-Range that does not match means the whole file.
  const ifRange = req.headers['if-range'];
  const decision = req.method === 'GET' && ifRangeHolds(typeof ifRange === 'string' ? ifRange : undefined, etag)
    ? parseRange(req.headers.range, size)
    : { status: 200 as const };
  if (decision.status === 416) {
    throw new HttpError(416, 'range_not_satisfiable', `the range "${String(req.headers.range).slice(0, 100)}" is outside the file's ${size} bytes`, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  }
  let start = 0;
  let end = size - 1;
  if (decision.status === 206) {
    ({ start, end } = decision);
    res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  } else res.status(200);
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = handle.createReadStream(index, { start, end });
  // The client going away destroys the stream (pipeline), which frees its piece deadlines.
  pipeline(stream, res).catch(() => {
    if (!res.destroyed) res.destroy();
  });
}

function fileIndexParam(req: Request): number {
  const raw = String(req.params.index);
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`"${raw.slice(0, 32)}" is not a file index`, 'index', 'invalid_param');
  return Number(raw);
}

/** The address players should use: the Host the request came to (already checked against the allow-list). */
function baseUrl(req: Request): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

/** Escapes what would break an #EXTINF line. */
const title = (s: string): string => s.replace(/[\r\n]+/g, ' ');

/** M3U entries for a torrent: its media files, or every file when it has none. */
function playlistEntries(handle: TorrentHandle, base: string, query: string): string[] {
  const files = handle.files().filter((f) => !f.pad);
  const media = files.filter((f) => isMedia(f.path));
  return (media.length > 0 ? media : files).map((f) =>
    `#EXTINF:-1,${title(`${handle.name} - ${f.path}`)}\n${base}/torrent/${handle.infoHash}/files/${f.index}/stream${query}`);
}

function sendPlaylist(res: Response, entries: string[]): void {
  res.setHeader('Content-Type', 'audio/x-mpegurl; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.send(`#EXTM3U\n${entries.map((e) => `${e}\n`).join('')}`);
}

/** Streaming routes: a file's bytes by index or by path, and M3U playlists of the stream URLs. */
export function streamRoutes(router: Router, session: Session, opts: ResolvedOptions): void {
  // Players that follow the playlist cannot send headers: the entries carry the token when there is one.
  const query = opts.token !== undefined ? `?token=${encodeURIComponent(opts.token)}` : '';
  route(router, '/torrent/:hash/files/:index/stream', {
    get: (req, res) => serveFile(req, res, handleOf(session, req), fileIndexParam(req)),
  });
  // By path (one URL-encoded segment, "/" as %2F): survives a renamed index order and reads well in a player.
  route(router, '/torrent/:hash/stream/:name', {
    get: (req, res) => {
      const handle = handleOf(session, req);
      const name = String(req.params.name);
      const file = filesOf(handle).find((f) => f.path === name && !f.pad);
      if (!file) throw new HttpError(404, 'not_found', `torrent ${handle.infoHash} has no file "${name.slice(0, 200)}"`);
      serveFile(req, res, handle, file.index);
    },
  });
  route(router, '/torrent/:hash/playlist.m3u8', {
    get: (req, res) => {
      const handle = handleOf(session, req);
      filesOf(handle);
      sendPlaylist(res, playlistEntries(handle, baseUrl(req), query));
    },
  });
  route(router, '/playlist.m3u8', {
    get: (req, res) => {
      const base = baseUrl(req);
      sendPlaylist(res, session.torrents().flatMap((h) => playlistEntries(h, base, query)));
    },
  });
}
