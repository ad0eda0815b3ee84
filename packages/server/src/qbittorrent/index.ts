import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import multer from 'multer';
import {
  isSpritzleError, normalizeAddParams, parseTorrentFile, validateCategoryName, type AddTorrentParams, type Session, type TorrentHandle, type TorrentStatus,
} from '@spritzle/engine';
import { confineSavePathField } from '../add-params.js';
import { HttpError } from '../errors.js';
import { fetchTorrent, parseTorrentUrl } from '../fetch-torrent.js';
import type { ResolvedOptions } from '../options.js';
import type { StatusCache } from '../status-cache.js';
import { LoginLimiter, Sessions, bypasses, cookie, headerCredential, isToken, remoteIp } from './auth.js';
import { MainData, type Row } from './maindata.js';
import { QbError, QbParams } from './params.js';
import { preferencesOf, queueingOn, settingsFromPreferences } from './preferences.js';
import { QB_FILTERS, matchesFilter, qbShareLimits, qbTorrent, shareLimitsFromQb, type QbTorrent } from './torrent-info.js';

/** The qBittorrent release whose Web API we speak: 4.6's (pause/resume, pausedUP), API 2.9.3. */
export const QB_VERSION = 'v4.6.7';
export const QB_API_VERSION = '2.9.3';
export const SID_COOKIE = 'SID';
/** How old the session counters in server_state may be (qBittorrent's refresh interval is 1.5 s). */
export const STATS_MAX_AGE_MS = 1000;
const BANNED = 'Your IP address has been banned after too many failed authentication attempts.';

type Handler = (req: Request, res: Response) => void | Promise<void>;

const ENGINE_STATUS: Readonly<Record<string, number>> = {
  torrent_not_found: 404, duplicate_torrent: 409, session_closed: 503, disk_error: 500, network_error: 500,
};

/** Errors as qBittorrent answers them: a status and a plain-text line, never the REST API's JSON. */
const qbErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  let status = 500;
  let text = 'Internal Server Error';
  if (err instanceof QbError || err instanceof HttpError) {
    status = err.status;
    text = err.message;
  } else if (isSpritzleError(err)) {
    status = ENGINE_STATUS[err.code] ?? 400;
    text = err.message;
  } else if (err instanceof multer.MulterError) {
    status = err.code === 'LIMIT_FILE_SIZE' ? 413 : 400;
    text = err.message;
  } else if (typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number') {
    status = (err as { status: number }).status;
    text = (err as Error).message;
  }
  res.status(status).type('text/plain').send(text);
};

function plain(res: Response, text: string): void {
  res.type('text/plain; charset=UTF-8').send(text);
}

function empty(res: Response): void {
  res.status(200).end();
}

export interface QbContext {
  session: Session;
  opts: ResolvedOptions;
  statuses: StatusCache;
}

/**
 * qBittorrent's Web API v2 under /api/v2: the calls Sonarr, Radarr, Flood and the @ctrl clients make, over
 * the engine's public API. Authentication is its own (SID cookie from auth/login, Bearer or Basic with the
 * daemon's token, loopback bypass without a token); the app's Host and Origin checks still apply.
 */
export function qbittorrentRouter(ctx: QbContext): Router {
  const { session, opts, statuses } = ctx;
  const router = express.Router();
  const sessions = new Sessions();
  const limiter = new LoginLimiter();
  const mainData = new MainData();

  const authed = (req: Request): boolean => {
    if (bypasses(req, opts.token)) return true;
    if (opts.token === undefined) return false;
    const given = headerCredential(req);
    if (given !== null) {
      // A wrong Bearer or Basic password counts as a failed login: guessing the token by header is rate-limited too.
      const ok = isToken(given, opts.token);
      if (!ok) limiter.failed(remoteIp(req));
      return ok;
    }
    const sid = cookie(req, SID_COOKIE);
    return sid !== null && sessions.touch(sid);
  };

  const startSession = (res: Response): void => {
    res.setHeader('Set-Cookie', `${SID_COOKIE}=${sessions.create()}; HttpOnly; SameSite=Strict; path=/`);
  };

  // auth/login is the one public call; everything else answers 403 until the caller is logged in.
  router.post('/auth/login', (req, res) => {
    const ip = remoteIp(req);
    if (limiter.isBanned(ip)) throw new QbError(403, BANNED);
    const p = new QbParams(req);
    const ok = opts.token === undefined ? bypasses(req, undefined) : isToken(p.str('password') ?? '', opts.token);
    if (!ok) {
      limiter.failed(ip);
      plain(res, 'Fails.');
      return;
    }
    limiter.succeeded(ip);
    startSession(res);
    plain(res, 'Ok.');
  });
  router.all('/auth/login', (_req, _res) => { throw new QbError(405, 'Method Not Allowed'); });
  router.use((req, _res, next) => {
    if (limiter.isBanned(remoteIp(req))) next(new QbError(403, BANNED));
    else next(authed(req) ? undefined : new QbError(403, 'Forbidden'));
  });
  router.post('/auth/logout', (req, res) => {
    const sid = cookie(req, SID_COOKIE);
    if (sid !== null) sessions.end(sid);
    res.setHeader('Set-Cookie', `${SID_COOKIE}=; HttpOnly; SameSite=Strict; path=/; Max-Age=0`);
    empty(res);
  });

  /** A read: GET or POST (qBittorrent takes both). */
  const read = (p: string, h: Handler): void => {
    router.get(p, h);
    router.post(p, h);
  };
  /** An action: POST only (qBittorrent 4.4+ answers other methods 405). */
  const action = (p: string, h: Handler): void => {
    router.post(p, h);
    router.all(p, () => { throw new QbError(405, 'Method Not Allowed'); });
  };

  // --- app ---
  read('/app/version', (_req, res) => plain(res, QB_VERSION));
  read('/app/webapiVersion', (_req, res) => plain(res, QB_API_VERSION));
  read('/app/buildInfo', (_req, res) => {
    res.json({ qt: '', libtorrent: 'spritzle', boost: '', openssl: '', zlib: '', bitness: 64, platform: process.platform });
  });
  read('/app/preferences', (_req, res) => { res.json(preferencesOf(session.settings(), session.listenPort)); });
  read('/app/defaultSavePath', (_req, res) => plain(res, session.settings().save_path));
  action('/app/setPreferences', async (req, res) => {
    const raw = new QbParams(req).need('json');
    let prefs: unknown;
    try {
      prefs = JSON.parse(raw);
    } catch {
      throw new QbError(400, 'json is not valid JSON');
    }
    if (typeof prefs !== 'object' || prefs === null || Array.isArray(prefs)) throw new QbError(400, 'json must be an object');
    const settings = settingsFromPreferences(prefs as Record<string, unknown>, session.settings());
    if (settings.save_path !== undefined && opts.downloadRoot !== null) {
      settings.save_path = await confineSavePathField(settings.save_path, opts.downloadRoot, 'save_path');
    }
    session.applySettings(settings);
    empty(res);
  });

  // --- torrents: reading ---
  const trackerUrls = (h: TorrentHandle): string[] => h.trackers().map((t) => t.url);
  // A row is rebuilt only when its status object changed: the listings reuse the rest.
  const rowCache = new Map<string, { status: TorrentStatus; queueing: boolean; row: QbTorrent }>();
  session.on('torrent_removed', ({ info_hash }) => rowCache.delete(info_hash));
  session.on('torrent_update', ({ old_info_hash }) => rowCache.delete(old_info_hash));
  const row = (h: TorrentHandle, s: TorrentStatus, queueing = queueingOn(session.settings())): QbTorrent => {
    const c = rowCache.get(s.info_hash);
    if (c !== undefined && c.status === s && c.queueing === queueing) return c.row;
    const r = qbTorrent(s, { trackers: trackerUrls(h), queueing });
    rowCache.set(s.info_hash, { status: s, queueing, row: r });
    return r;
  };
  const rows = (): QbTorrent[] => {
    const queueing = queueingOn(session.settings());
    return statuses.all().map(({ handle, status }) => row(handle, status, queueing));
  };
  /** The torrent named by `hash`, or qBittorrent's 404. */
  const one = (p: QbParams): TorrentHandle => {
    const h = session.findTorrent(p.need('hash').toLowerCase());
    if (!h) throw new QbError(404, 'Not Found');
    return h;
  };
  /** `hashes`: "h1|h2" or "all"; unknown hashes are skipped, as qBittorrent does. */
  const many = (p: QbParams): TorrentHandle[] => {
    const hashes = p.need('hashes');
    if (hashes === 'all') return session.torrents();
    const out: TorrentHandle[] = [];
    for (const hash of hashes.split('|')) {
      const h = session.findTorrent(hash.trim().toLowerCase());
      if (h) out.push(h);
    }
    return out;
  };

  read('/torrents/info', (req, res) => {
    const p = new QbParams(req);
    const filter = p.str('filter') ?? 'all';
    if (!QB_FILTERS.has(filter)) throw new QbError(400, `Unknown filter: ${filter.slice(0, 50)}`);
    const category = p.str('category');
    const tag = p.str('tag');
    const hashes = p.str('hashes');
    const wanted = hashes !== undefined && hashes !== 'all' ? new Set(hashes.toLowerCase().split('|')) : null;
    let list = rows().filter((t) => {
      if (wanted && !wanted.has(t.hash as string)) return false;
      if (matchesFilter(filter, t) === false) return false;
      if (category !== undefined && t.category !== category) return false;
      if (tag !== undefined && (tag === '' ? t.tags !== '' : !(t.tags as string).split(', ').includes(tag))) return false;
      return true;
    });
    const sort = p.str('sort');
    if (sort !== undefined && sort !== '') {
      list.sort((a, b) => {
        const x = a[sort], y = b[sort];
        if (typeof x === 'number' && typeof y === 'number') return x - y;
        return String(x ?? '').localeCompare(String(y ?? ''));
      });
    }
    if (p.bool('reverse')) list.reverse();
    let offset = p.int('offset', 0);
    if (offset < 0) offset = Math.max(0, list.length + offset);
    const limit = p.int('limit', 0);
    list = list.slice(offset, limit > 0 ? offset + limit : undefined);
    res.json(list);
  });

  read('/torrents/properties', (req, res) => {
    const h = one(new QbParams(req));
    const s = h.status();
    const bytes = h.torrentFile();
    const info = bytes ? parseTorrentFile(bytes) : null;
    const t = row(h, s);
    res.json({
      hash: s.info_hash, infohash_v1: s.info_hashes.v1, infohash_v2: s.info_hashes.v2, name: s.name,
      save_path: s.save_path, download_path: '', comment: info?.comment ?? '', created_by: info?.createdBy ?? '',
      creation_date: info?.creationDate ?? -1, piece_size: info?.pieceLength ?? -1, pieces_num: info?.numPieces ?? -1,
      pieces_have: s.num_pieces, total_size: s.has_metadata ? s.total : -1, total_wasted: s.total_failed_bytes + s.total_redundant_bytes,
      total_uploaded: s.all_time_upload, total_uploaded_session: s.total_payload_upload,
      total_downloaded: s.all_time_download, total_downloaded_session: s.total_payload_download,
      up_limit: -1, dl_limit: -1, time_elapsed: s.active_time, seeding_time: s.seeding_time,
      nb_connections: s.num_connections, nb_connections_limit: s.connections_limit, share_ratio: t.ratio,
      addition_date: s.added_time, completion_date: t.completion_on, last_seen: t.seen_complete,
      dl_speed: s.download_payload_rate, dl_speed_avg: s.active_time > 0 ? Math.round(s.all_time_download / s.active_time) : 0,
      up_speed: s.upload_payload_rate, up_speed_avg: s.active_time > 0 ? Math.round(s.all_time_upload / s.active_time) : 0,
      eta: t.eta, peers: s.num_peers - s.num_seeds, peers_total: Math.max(s.num_incomplete, 0), seeds: s.num_seeds,
      seeds_total: Math.max(s.num_complete, 0), reannounce: t.reannounce, isPrivate: info?.private ?? false,
      ...qbShareLimits(s.share_limits),
    });
  });

  read('/torrents/files', (req, res) => {
    const p = new QbParams(req);
    const h = one(p);
    const indexes = p.str('indexes');
    const only = indexes !== undefined ? new Set(indexes.split('|').map(Number)) : null;
    const bytes = h.torrentFile();
    const pieceLength = bytes ? parseTorrentFile(bytes).pieceLength : 0;
    const out = h.files().filter((f) => !f.pad && (only === null || only.has(f.index))).map((f) => ({
      index: f.index, name: f.path, size: f.size, progress: f.progress, priority: f.priority,
      is_seed: f.progress === 1,
      piece_range: pieceLength > 0 ? [Math.floor(f.offset / pieceLength), Math.floor(Math.max(f.offset, f.offset + f.size - 1) / pieceLength)] : [0, 0],
      availability: -1,
    }));
    res.json(out);
  });

  read('/torrents/trackers', (req, res) => {
    const h = one(new QbParams(req));
    const code = { idle: 1, announcing: 3, working: 2, error: 4 } as const;
    res.json(h.trackers().map((t) => ({
      url: t.url, status: code[t.status], tier: t.tier, num_peers: t.num_peers, num_seeds: -1, num_leeches: -1,
      num_downloaded: -1, msg: t.message,
    })));
  });

  read('/torrents/pieceStates', (req, res) => {
    const s = one(new QbParams(req)).status();
    res.json(s.pieces.map((have) => (have ? 2 : 0)));
  });

  read('/torrents/pieceHashes', (req, res) => {
    const bytes = one(new QbParams(req)).torrentFile();
    res.json(bytes ? parseTorrentFile(bytes).pieceHashes.map((x) => Buffer.from(x).toString('hex')) : []);
  });

  read('/torrents/categories', (_req, res) => {
    const out: Record<string, { name: string; savePath: string }> = {};
    for (const c of session.categories()) out[c.name] = { name: c.name, savePath: c.save_path };
    res.json(out);
  });
  read('/torrents/tags', (_req, res) => { res.json(session.tags()); });

  // --- torrents: adding ---
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: opts.maxTorrentBytes, files: 32, fields: 40, parts: 72, fieldNameSize: 100, fieldSize: 256 * 1024 },
  }).any();
  router.post('/torrents/add', (req, res, next) => {
    upload(req, res, (err?: unknown) => {
      if (err !== undefined && err !== null && !(err instanceof multer.MulterError)) {
        next(new QbError(400, `malformed multipart body: ${err instanceof Error ? err.message : String(err)}`));
        return;
      }
      next(err ?? undefined);
    });
  }, async (req, res) => {
    const p = new QbParams(req);
    const category = p.str('category') ?? '';
    const tags = p.list('tags', ',');
    const savePath = p.str('savepath') ?? '';
    // qBittorrent refuses a torrent it already has; libtorrent's default would hand back the existing one.
    // The engine puts a torrent with a category but no savepath in the category's save path (creating the
    // category if it is new, as qBittorrent does).
    const base: AddTorrentParams = { duplicate_is_error: true, ...(category !== '' ? { category } : {}), ...(tags.length > 0 ? { tags } : {}) };
    if (savePath !== '') base.save_path = opts.downloadRoot !== null ? await confineSavePathField(savePath, opts.downloadRoot, 'savepath') : savePath;
    if (p.bool('paused') || p.bool('stopped')) {
      base.paused = true;
      base.auto_managed = false;
    }
    if (p.bool('skip_checking')) base.seed_mode = true;
    if (p.bool('sequentialDownload')) base.sequential_download = true;
    if (p.bool('firstLastPiecePrio')) base.first_last_piece_priority = true;
    const up = p.int('upLimit', 0), down = p.int('dlLimit', 0);
    if (up > 0) base.upload_limit = up;
    if (down > 0) base.download_limit = down;
    base.share_limits = shareLimitsFromQb(p.num('ratioLimit', -2), p.num('seedingTimeLimit', -2), p.num('inactiveSeedingTimeLimit', -2), p.str('shareLimitAction'));
    // A bad name or limit is the client's mistake in every source: a 400, not "Fails." per torrent.
    normalizeAddParams(base);
    if (tags.length > 0) session.createTags(tags);
    const rename = p.str('rename');
    if (rename) base.name = rename;

    const sources: AddTorrentParams[] = [];
    for (const url of p.list('urls', /\r?\n/)) {
      const u = parseTorrentUrl(url);
      if (u.protocol === 'magnet:') sources.push({ url });
      else {
        const got = await fetchTorrent(u, { boundHost: opts.host, localAddress: req.socket.localAddress, localPort: req.socket.localPort },
          { maxBytes: opts.maxTorrentBytes, timeoutMs: opts.fetchTimeoutMs, maxRedirects: opts.maxRedirects });
        sources.push(got.kind === 'magnet' ? { url: got.url } : { ti: got.bytes });
      }
    }
    const files = Array.isArray(req.files) ? req.files : [];
    for (const f of files) sources.push({ ti: new Uint8Array(f.buffer.buffer, f.buffer.byteOffset, f.buffer.byteLength) });
    if (sources.length === 0) throw new QbError(400, 'Missing required parameter: urls or torrents');

    let added = 0;
    for (const src of sources) {
      try {
        await session.addTorrent({ ...base, ...src });
        added++;
      } catch (e) {
        if (!isSpritzleError(e)) throw e;
        // qBittorrent 4.6 answers "Fails." when nothing was added, whatever the reason (duplicate, bad file).
      }
    }
    plain(res, added > 0 ? 'Ok.' : 'Fails.');
  });

  // --- torrents: actions ---
  action('/torrents/delete', async (req, res) => {
    const p = new QbParams(req);
    const del = p.bool('deleteFiles');
    await Promise.all(many(p).map((h) => session.removeTorrent(h.infoHash, { deleteFiles: del }).catch((e: unknown) => {
      if (!(isSpritzleError(e) && e.code === 'torrent_not_found')) throw e;
    })));
    empty(res);
  });
  const pause: Handler = (req, res) => {
    for (const h of many(new QbParams(req))) h.pause();
    empty(res);
  };
  // qBittorrent's resume hands the torrent back to the queue (auto-managed), which may hold it back.
  const resume: Handler = (req, res) => {
    for (const h of many(new QbParams(req))) {
      h.update({ auto_managed: true });
      h.resume();
    }
    empty(res);
  };
  action('/torrents/pause', pause);
  action('/torrents/stop', pause);
  action('/torrents/resume', resume);
  action('/torrents/start', resume);
  action('/torrents/recheck', (req, res) => {
    for (const h of many(new QbParams(req))) {
      // Checking runs on; its end (or failure) shows in the state, as in qBittorrent.
      h.forceRecheck().catch(() => undefined);
    }
    empty(res);
  });
  action('/torrents/setForceStart', (req, res) => {
    const p = new QbParams(req);
    // Force-started: out of the queue's hands (not auto-managed) and running; unforced: back in them.
    const force = p.bool('value');
    for (const h of many(p)) {
      h.update({ auto_managed: !force });
      if (force) h.resume();
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });
  action('/torrents/toggleFirstLastPiecePrio', (req, res) => {
    for (const h of many(new QbParams(req))) {
      h.update({ first_last_piece_priority: !h.status().first_last_piece_priority });
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });
  action('/torrents/toggleSequentialDownload', (req, res) => {
    for (const h of many(new QbParams(req))) {
      h.update({ sequential_download: !h.status().sequential_download });
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });
  const limit = (key: 'download_limit' | 'upload_limit'): Handler => (req, res) => {
    const p = new QbParams(req);
    const v = p.int('limit', 0);
    for (const h of many(p)) {
      h.update({ [key]: v <= 0 ? -1 : v });
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  };
  action('/torrents/setDownloadLimit', limit('download_limit'));
  action('/torrents/setUploadLimit', limit('upload_limit'));
  action('/torrents/filePrio', (req, res) => {
    const p = new QbParams(req);
    const h = one(p);
    const prio = p.int('priority', -1);
    if (![0, 1, 6, 7].includes(prio)) throw new QbError(400, 'Priority is invalid');
    const ids = p.list('id').map(Number);
    const files = h.files();
    if (ids.length === 0 || ids.some((i) => !Number.isInteger(i) || i < 0 || i >= files.length)) throw new QbError(409, 'File IDs are invalid');
    const prios = files.map((f) => f.priority);
    for (const i of ids) prios[i] = prio;
    h.update({ file_priorities: prios });
    statuses.invalidate(h.infoHash);
    empty(res);
  });

  action('/torrents/setShareLimits', (req, res) => {
    const p = new QbParams(req);
    const limits = shareLimitsFromQb(p.num('ratioLimit', Number.NaN), p.num('seedingTimeLimit', Number.NaN),
      p.num('inactiveSeedingTimeLimit', Number.NaN), p.str('shareLimitAction'));
    // qBittorrent requires ratioLimit and seedingTimeLimit; inactiveSeedingTimeLimit came with API 2.9.2.
    if (Number.isNaN(limits.ratio_limit) || Number.isNaN(limits.seeding_time_limit)) throw new QbError(400, 'Missing required parameter: ratioLimit and seedingTimeLimit');
    if (Number.isNaN(limits.inactive_seeding_time_limit)) delete limits.inactive_seeding_time_limit;
    for (const h of many(p)) {
      h.setShareLimits(limits);
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });

  // --- categories and tags (the engine's) ---
  const hasCategory = (name: string): boolean => session.categories().some((c) => c.name === name);
  /** A category's save path, confined to the download root like every save path ("" stays the session's). */
  const categoryPath = async (savePath: string): Promise<string> =>
    savePath === '' || opts.downloadRoot === null ? savePath : confineSavePathField(savePath, opts.downloadRoot, 'savePath');
  action('/torrents/createCategory', async (req, res) => {
    const p = new QbParams(req);
    const name = p.need('category');
    try {
      validateCategoryName(name);
    } catch {
      throw new QbError(400, 'Invalid category name');
    }
    if (hasCategory(name)) throw new QbError(409, 'Category already exists');
    session.setCategory(name, await categoryPath(p.str('savePath') ?? ''));
    empty(res);
  });
  action('/torrents/editCategory', async (req, res) => {
    const p = new QbParams(req);
    const name = p.need('category');
    if (!hasCategory(name)) throw new QbError(409, 'Category does not exist');
    session.setCategory(name, await categoryPath(p.need('savePath')));
    empty(res);
  });
  action('/torrents/removeCategories', (req, res) => {
    for (const c of new QbParams(req).list('categories', /\r?\n/)) if (session.removeCategory(c)) statuses.invalidateAll();
    empty(res);
  });
  action('/torrents/setCategory', (req, res) => {
    const p = new QbParams(req);
    const c = p.need('category');
    if (c !== '' && !hasCategory(c)) throw new QbError(409, 'Incorrect category name');
    for (const h of many(p)) {
      h.setCategory(c);
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });
  action('/torrents/createTags', (req, res) => {
    session.createTags(new QbParams(req).list('tags', ','));
    empty(res);
  });
  action('/torrents/deleteTags', (req, res) => {
    for (const t of new QbParams(req).list('tags', ',')) session.deleteTag(t);
    statuses.invalidateAll();
    empty(res);
  });
  action('/torrents/addTags', (req, res) => {
    const p = new QbParams(req);
    const tags = p.list('tags', ',');
    // In qBittorrent a tag given to a torrent exists from then on, also once no torrent has it.
    session.createTags(tags);
    for (const h of many(p)) {
      h.addTags(tags);
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });
  action('/torrents/removeTags', (req, res) => {
    const p = new QbParams(req);
    const tags = p.list('tags', ',');
    for (const h of many(p)) {
      h.removeTags(tags);
      statuses.invalidate(h.infoHash);
    }
    empty(res);
  });

  // --- queue, location and names: the engine's queue, move_storage and rename_file ---
  const moves = { topPrio: 'queuePositionTop', bottomPrio: 'queuePositionBottom', increasePrio: 'queuePositionUp', decreasePrio: 'queuePositionDown' } as const;
  for (const [q, move] of Object.entries(moves)) {
    action(`/torrents/${q}`, (req, res) => {
      const handles = many(new QbParams(req));
      if (!queueingOn(session.settings())) throw new QbError(409, 'Torrent queueing must be enabled');
      // topPrio keeps the given order: the last one moved to the top ends up first, so move them in reverse.
      const ordered = q === 'topPrio' || q === 'decreasePrio' ? [...handles].reverse() : handles;
      for (const h of ordered) h[move]();
      statuses.invalidateAll();
      empty(res);
    });
  }
  action('/torrents/setLocation', async (req, res) => {
    const p = new QbParams(req);
    const location = p.need('location');
    if (location === '') throw new QbError(400, 'Save path cannot be empty');
    const target = opts.downloadRoot !== null ? await confineSavePathField(location, opts.downloadRoot, 'location') : location;
    // qBittorrent answers once the moves are under way; here once they are done (a failure is a 409 naming it).
    for (const h of many(p)) {
      try {
        await h.moveStorage(target);
      } catch (e) {
        if (isSpritzleError(e)) throw new QbError(409, e.message);
        throw e;
      } finally {
        statuses.invalidate(h.infoHash);
      }
    }
    empty(res);
  });
  // qBittorrent names files by their path under the save path ("/"-separated), as torrents/files shows them.
  const rename = async (h: TorrentHandle, oldPath: string, newPath: string, folder: boolean): Promise<void> => {
    const norm = (p: string): string => p.split(/[\\/]/).filter(Boolean).join('/');
    const from = norm(oldPath), to = norm(newPath);
    const files = h.files().filter((f) => !f.pad).map((f) => ({ index: f.index, path: norm(f.path) }));
    const targets = folder ? files.filter((f) => f.path.startsWith(`${from}/`)) : files.filter((f) => f.path === from);
    if (targets.length === 0 || to === '') throw new QbError(409, 'Invalid path');
    try {
      for (const f of targets) await h.renameFile(f.index, folder ? `${to}${f.path.slice(from.length)}` : to);
    } catch (e) {
      if (isSpritzleError(e)) throw new QbError(409, e.message);
      throw e;
    } finally {
      statuses.invalidate(h.infoHash);
    }
  };
  action('/torrents/renameFile', async (req, res) => {
    const p = new QbParams(req);
    await rename(one(p), p.need('oldPath'), p.need('newPath'), false);
    empty(res);
  });
  action('/torrents/renameFolder', async (req, res) => {
    const p = new QbParams(req);
    await rename(one(p), p.need('oldPath'), p.need('newPath'), true);
    empty(res);
  });
  action('/torrents/reannounce', (req, res) => {
    // qBittorrent answers 200 whatever each torrent could do; a paused one simply has nothing to announce.
    for (const h of many(new QbParams(req))) {
      try {
        h.forceReannounce();
      } catch (e) {
        if (!isSpritzleError(e)) throw e;
      }
    }
    empty(res);
  });

  // --- transfer and sync ---
  /** After a refresh: only busy torrents move data, and the cache rebuilds those on every refresh. */
  const rates = (): { down: number; up: number } => {
    let down = 0, up = 0;
    for (const { status } of statuses.busyStatuses()) {
      down += status.download_payload_rate;
      up += status.upload_payload_rate;
    }
    return { down, up };
  };
  // The session's counters are read at most once a STATS_MAX_AGE_MS, as qBittorrent's own server state comes
  // from libtorrent's periodic session stats: summing them walks every torrent, too much for each poll.
  let stats: { at: number; values: ReturnType<Session['stats']> } | undefined;
  const sessionStats = (): ReturnType<Session['stats']> => {
    const now = Date.now();
    if (stats === undefined || now - stats.at >= STATS_MAX_AGE_MS) stats = { at: now, values: session.stats() };
    return stats.values;
  };
  const serverState = (down: number, up: number): Row => {
    const st = sessionStats();
    const set = session.settings();
    return {
      dl_info_speed: down, up_info_speed: up,
      dl_info_data: st['net.recv_payload_bytes'] ?? 0, up_info_data: st['net.sent_payload_bytes'] ?? 0,
      dl_rate_limit: set.download_rate_limit, up_rate_limit: set.upload_rate_limit,
      dht_nodes: st['dht.dht_nodes'] ?? 0, connection_status: 'connected', queueing: queueingOn(set),
      use_alt_speed_limits: false, refresh_interval: 1500,
    };
  };
  read('/transfer/info', (_req, res) => {
    statuses.refresh();
    const { down, up } = rates();
    const s = serverState(down, up);
    res.json({
      dl_info_speed: s.dl_info_speed, dl_info_data: s.dl_info_data, up_info_speed: s.up_info_speed, up_info_data: s.up_info_data,
      dl_rate_limit: s.dl_rate_limit, up_rate_limit: s.up_rate_limit, dht_nodes: s.dht_nodes, connection_status: s.connection_status,
    });
  });
  // sync/maindata follows the cache's rebuilds: each poll looks at the torrents rebuilt or removed since the
  // last one (the busy, the ones an event named, a few aged), not at all of them. The first poll, and a change
  // of the queueing setting (every row's priority), fill it from the whole list.
  const rebuilt = new Set<string>();
  let filledWith: boolean | undefined;
  statuses.onRebuilt((hash) => { if (filledWith !== undefined) rebuilt.add(hash); });
  // The session's categories and tags walk every torrent (those a torrent carries count too): they are read
  // again only when the session's own changed or a torrent came, went or changed its category or tags.
  let labels: { categories: Map<string, string>; tags: string[] } | undefined;
  session.on('labels_changed', () => { labels = undefined; });
  read('/sync/maindata', (req, res) => {
    const rid = new QbParams(req).int('rid', 0);
    const queueing = queueingOn(session.settings());
    if (filledWith !== queueing) {
      const torrents = new Map<string, Row>();
      for (const { handle, status } of statuses.all()) torrents.set(status.info_hash, row(handle, status, queueing));
      mainData.setAllTorrents(torrents);
      filledWith = queueing;
      rebuilt.clear();
      labels = undefined;
    } else {
      statuses.refresh();
      for (const hash of rebuilt) {
        const e = statuses.peek(hash);
        const next = e === undefined ? undefined : row(e.handle, e.status, queueing);
        const prev = mainData.torrent(hash);
        if (prev?.category !== next?.category || prev?.tags !== next?.tags) labels = undefined;
        mainData.setTorrent(hash, next);
      }
      rebuilt.clear();
    }
    labels ??= { categories: new Map(session.categories().map((c) => [c.name, c.save_path])), tags: session.tags() };
    const { down, up } = rates();
    res.json(mainData.reply(rid, { categories: labels.categories, tags: labels.tags, server: serverState(down, up) }));
  });
  read('/sync/torrentPeers', (req, res) => {
    const h = one(new QbParams(req));
    const peers: Record<string, unknown> = {};
    for (const x of h.peers()) {
      const key = x.ip.includes(':') ? `[${x.ip}]:${x.port}` : `${x.ip}:${x.port}`;
      peers[key] = {
        ip: x.ip, port: x.port, client: x.client, peer_id_client: x.peer_id.slice(0, 16), progress: x.progress,
        dl_speed: x.down_speed, up_speed: x.up_speed, downloaded: x.total_download, uploaded: x.total_upload,
        connection: 'BT', flags: x.flags, flags_desc: '', relevance: 0, files: '', country: '', country_code: '',
      };
    }
    // Always the whole list: a client must accept full_update at any rid.
    res.json({ rid: 1, full_update: true, peers, show_flags: false });
  });

  router.use((req) => { throw new QbError(404, `Not Found: ${req.path.slice(0, 100)}`); });
  router.use(qbErrors);
  return router;
}

/** Where the adapter is mounted; it authenticates its callers itself (the app's Bearer check steps aside). */
export const QB_PREFIX = '/api/v2';
