import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import express, { type Request, type Response, type Router } from 'express';
import {
  isSpritzleError, parseTorrentFile, type AddTorrentParams, type Session, type SessionSettings, type TorrentHandle, type TorrentInfo,
} from '@spritzle/engine';
import { confineSavePathField } from '../add-params.js';
import { HttpError } from '../errors.js';
import { fetchTorrent, parseTorrentUrl } from '../fetch-torrent.js';
import type { ResolvedOptions } from '../options.js';
import type { StatusCache } from '../status-cache.js';
import { LoginLimiter, bypasses, headerCredential, isToken, remoteIp } from '../qbittorrent/auth.js';
import { FIELDS, limitFromTr, ltPriority, type FieldSource } from './fields.js';
import { TorrentIds } from './ids.js';

export const TR_PATH = '/transmission/rpc';
export const SESSION_ID_HEADER = 'X-Transmission-Session-Id';
/** Transmission 4.0's RPC. */
export const RPC_VERSION = 17;
const KB = 1000; // Transmission's speed unit (session-get's units.speed-bytes)
/** How long a torrent counts as recently active, and a removal as recent (Transmission: 60 s). */
const RECENT_MS = 60_000;

/** A torrent-get field by name; own names only ("constructor" is no field). */
function fieldOf(name: string): ((src: FieldSource) => unknown) | undefined {
  return Object.hasOwn(FIELDS, name) ? FIELDS[name] : undefined;
}

/** A request Transmission answers with a result string other than "success". */
class RpcFailure extends Error {}

type Args = Record<string, unknown>;

export interface TrContext {
  session: Session;
  opts: ResolvedOptions;
  statuses: StatusCache;
}

/** snake_case (4.1's JSON-RPC names) of a classic kebab or camel name. */
function snake(name: string): string {
  return name.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** An argument by its classic name, or by 4.1's snake_case one. */
function arg(args: Args, name: string): unknown {
  return name in args ? args[name] : args[snake(name)];
}

function bool(args: Args, name: string): boolean | undefined {
  const v = arg(args, name);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw new RpcFailure(`${name} must be a boolean`);
}

function int(args: Args, name: string): number | undefined {
  const v = arg(args, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new RpcFailure(`${name} must be an integer`);
  return v;
}

function intList(args: Args, name: string): number[] | undefined {
  const v = arg(args, name);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) throw new RpcFailure(`${name} must be a list of file indexes`);
  return v as number[];
}

function stringList(args: Args, name: string): string[] | undefined {
  const v = arg(args, name);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new RpcFailure(`${name} must be a list of strings`);
  return v as string[];
}

/** Applies files-wanted/-unwanted and priority-high/-low/-normal to a priority list (libtorrent's 0..7). */
function applyFileArgs(args: Args, prios: number[]): boolean {
  let changed = false;
  const check = (list: number[]): number[] => {
    if (list.some((i) => i >= prios.length)) throw new RpcFailure('file index out of range');
    changed = true;
    return list;
  };
  // An empty list means every file, as in Transmission.
  const every = (list: number[]): number[] => (list.length === 0 ? prios.map((_, i) => i) : list);
  for (const [name, tr] of [['priority-high', 1], ['priority-low', -1], ['priority-normal', 0]] as const) {
    const list = intList(args, name);
    if (list) for (const i of check(every(list))) if (prios[i]! > 0) prios[i] = ltPriority(tr);
  }
  const unwanted = intList(args, 'files-unwanted');
  if (unwanted) for (const i of check(every(unwanted))) prios[i] = 0;
  const wanted = intList(args, 'files-wanted');
  if (wanted) for (const i of check(every(wanted))) if (prios[i] === 0) prios[i] = 4;
  return changed;
}

/**
 * Transmission's RPC at /transmission/rpc over the engine's public API: the session-id handshake (409),
 * basic auth with the daemon's token, the classic framing and 4.1's JSON-RPC 2.0 one.
 */
export function transmissionRouter(ctx: TrContext): Router {
  const { session, opts, statuses } = ctx;
  const router = express.Router();
  const sessionId = randomBytes(24).toString('base64url');
  const ids = new TorrentIds();
  const limiter = new LoginLimiter();
  const infos = new Map<string, TorrentInfo>();
  for (const h of session.torrents()) ids.idOf(h.infoHash);
  session.on('torrent_added', ({ info_hash }) => ids.idOf(info_hash));
  session.on('torrent_update', ({ info_hash, old_info_hash }) => {
    ids.rename(old_info_hash, info_hash);
    infos.delete(old_info_hash);
  });
  session.on('torrent_removed', ({ info_hash }) => {
    ids.forget(info_hash);
    infos.delete(info_hash);
  });

  const infoOf = (h: TorrentHandle): TorrentInfo | null => {
    let info = infos.get(h.infoHash);
    if (info === undefined) {
      const bytes = h.torrentFile();
      if (!bytes) return null;
      info = parseTorrentFile(bytes);
      infos.set(h.infoHash, info);
    }
    return info;
  };

  /** `ids`: absent (all), a number, a hash, a list of both, or "recently-active". */
  const select = (args: Args): TorrentHandle[] => {
    const v = args.ids;
    const all = session.torrents().filter((h) => h.isValid());
    if (v === undefined) return all;
    if (v === 'recently-active') {
      const since = Math.floor((Date.now() - RECENT_MS) / 1000);
      return all.filter((h) => {
        const s = h.status();
        return (s.last_download ?? 0) >= since || (s.last_upload ?? 0) >= since || s.added_time >= since;
      });
    }
    const list = Array.isArray(v) ? v : [v];
    const out: TorrentHandle[] = [];
    for (const x of list) {
      const hash = typeof x === 'number' ? ids.hashOf(x) : typeof x === 'string' ? x.toLowerCase() : undefined;
      const h = hash !== undefined ? session.findTorrent(hash) : undefined;
      if (h) out.push(h);
    }
    return out;
  };

  const settingsArgs = (s: SessionSettings): Args => ({
    'rpc-version': RPC_VERSION, 'rpc-version-minimum': 14, 'rpc-version-semver': '5.3.0', version: '4.0.6 (spritzle)',
    'session-id': sessionId, 'config-dir': '', 'download-dir': s.save_path, 'incomplete-dir': '', 'incomplete-dir-enabled': false,
    'speed-limit-down': Math.round(s.download_rate_limit / KB), 'speed-limit-down-enabled': s.download_rate_limit > 0,
    'speed-limit-up': Math.round(s.upload_rate_limit / KB), 'speed-limit-up-enabled': s.upload_rate_limit > 0,
    'alt-speed-enabled': false, 'alt-speed-down': 0, 'alt-speed-up': 0,
    'peer-port': session.listenPort, 'peer-port-random-on-start': false, 'port-forwarding-enabled': false,
    'peer-limit-global': s.connections_limit, 'peer-limit-per-torrent': s.connections_limit,
    'dht-enabled': s.enable_dht, 'lpd-enabled': s.enable_lsd, 'pex-enabled': true, 'utp-enabled': false, encryption: 'preferred',
    seedRatioLimit: 0, seedRatioLimited: false, 'idle-seeding-limit': 0, 'idle-seeding-limit-enabled': false,
    'download-queue-enabled': s.active_downloads >= 0, 'download-queue-size': Math.max(0, s.active_downloads),
    'seed-queue-enabled': s.active_seeds >= 0, 'seed-queue-size': Math.max(0, s.active_seeds),
    'queue-stalled-enabled': false, 'queue-stalled-minutes': 0, 'start-added-torrents': true, 'rename-partial-files': false,
    'trash-original-torrent-files': false, 'cache-size-mb': 0, 'blocklist-enabled': false, 'blocklist-size': 0, 'blocklist-url': '',
    'script-torrent-done-enabled': false, 'script-torrent-done-filename': '',
    units: { 'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'], 'speed-bytes': KB, 'size-units': ['kB', 'MB', 'GB', 'TB'], 'size-bytes': 1000, 'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'], 'memory-bytes': 1024 },
  });

  /** A download-dir, confined to the download root like every other save path. */
  const savePath = async (dir: unknown): Promise<string | undefined> => {
    if (dir === undefined || dir === '') return undefined;
    if (typeof dir !== 'string') throw new RpcFailure('download-dir must be a path');
    return opts.downloadRoot !== null ? confineSavePathField(dir, opts.downloadRoot, 'download-dir') : dir;
  };

  const unsupported = (what: string): never => { throw new RpcFailure(`spritzle does not support ${what} yet`); };

  const methods: Record<string, ((args: Args, req: Request) => Args | Promise<Args>) | undefined> = {
    'session-get': (args) => {
      const all = settingsArgs(session.settings());
      const fields = stringList(args, 'fields');
      return fields ? Object.fromEntries(fields.filter((f) => Object.hasOwn(all, f)).map((f) => [f, all[f]])) : all;
    },
    'session-set': async (args) => {
      for (const [key, what] of [['seedRatioLimited', 'seed ratio limits'], ['idle-seeding-limit-enabled', 'idle seeding limits'],
        ['alt-speed-enabled', 'alternative speed limits'],
        ['incomplete-dir-enabled', 'an incomplete-dir']] as const) {
        if (bool(args, key) === true) unsupported(what);
      }
      const s = session.settings();
      const change: Partial<SessionSettings> = {};
      const dir = await savePath(arg(args, 'download-dir'));
      if (dir !== undefined) change.save_path = dir;
      const down = int(args, 'speed-limit-down'), up = int(args, 'speed-limit-up');
      const downOn = bool(args, 'speed-limit-down-enabled'), upOn = bool(args, 'speed-limit-up-enabled');
      if (down !== undefined || downOn !== undefined) {
        const on = downOn ?? s.download_rate_limit > 0;
        change.download_rate_limit = on ? Math.max(0, down ?? Math.round(s.download_rate_limit / KB)) * KB : 0;
      }
      if (up !== undefined || upOn !== undefined) {
        const on = upOn ?? s.upload_rate_limit > 0;
        change.upload_rate_limit = on ? Math.max(0, up ?? Math.round(s.upload_rate_limit / KB)) * KB : 0;
      }
      // Transmission's download and seed queues are libtorrent's active_downloads and active_seeds (-1 off).
      for (const [enabled, size, setting] of [['download-queue-enabled', 'download-queue-size', 'active_downloads'], ['seed-queue-enabled', 'seed-queue-size', 'active_seeds']] as const) {
        const on = bool(args, enabled), n = int(args, size);
        if (on === undefined && n === undefined) continue;
        const isOn = on ?? s[setting] >= 0;
        change[setting] = isOn ? Math.max(0, n ?? (s[setting] >= 0 ? s[setting] : 5)) : -1;
      }
      const peers = int(args, 'peer-limit-global');
      if (peers !== undefined) change.connections_limit = Math.max(0, peers);
      const dht = bool(args, 'dht-enabled'), lpd = bool(args, 'lpd-enabled');
      if (dht !== undefined) change.enable_dht = dht;
      if (lpd !== undefined) change.enable_lsd = lpd;
      session.applySettings(change);
      return {};
    },
    'session-stats': () => {
      const all = session.torrents().filter((h) => h.isValid()).map((h) => h.status());
      const st = session.stats();
      const totals = {
        uploadedBytes: st['net.sent_payload_bytes'] ?? 0, downloadedBytes: st['net.recv_payload_bytes'] ?? 0,
        filesAdded: all.length, sessionCount: 1, secondsActive: Math.floor(process.uptime()),
      };
      return {
        activeTorrentCount: all.filter((s) => !s.paused).length, pausedTorrentCount: all.filter((s) => s.paused).length,
        torrentCount: all.length, downloadSpeed: all.reduce((a, s) => a + s.download_payload_rate, 0),
        uploadSpeed: all.reduce((a, s) => a + s.upload_payload_rate, 0), 'cumulative-stats': totals, 'current-stats': totals,
      };
    },
    'torrent-get': (args) => {
      const fields = stringList(args, 'fields');
      if (!fields || fields.length === 0) throw new RpcFailure('no fields specified');
      // 4.1's snake_case names are answered under the name asked for.
      const known = fields.map((f) => [f, fieldOf(f) ?? fieldOf(f.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())) ?? fieldOf(f.replace(/_/g, '-'))] as const)
        .filter((x): x is readonly [string, NonNullable<(typeof x)[1]>] => x[1] !== undefined);
      const now = Date.now();
      // Every torrent: the status cache's (see status-cache.ts); named ones: fresh.
      const chosen = args.ids === undefined ? statuses.all() : select(args).map((handle) => ({ handle, status: statuses.one(handle) }));
      const table = arg(args, 'format') === 'table';
      // One object (or array) per torrent, filled in place: 1,000 torrents per poll is the common case.
      const torrents: unknown[] = table ? [known.map(([name]) => name)] : [];
      for (const { handle: h, status } of chosen) {
        let files: ReturnType<TorrentHandle['files']> | undefined;
        const src: FieldSource = {
          id: ids.idOf(h.infoHash), status, handle: h, now,
          files: () => (files ??= h.files()), info: () => infoOf(h), trackers: () => h.trackers(),
        };
        if (table) {
          torrents.push(known.map(([, f]) => f(src)));
        } else {
          const o: Args = {};
          for (const [name, f] of known) o[name] = f(src);
          torrents.push(o);
        }
      }
      const out: Args = { torrents };
      if (args.ids === 'recently-active') out.removed = ids.removedSince(RECENT_MS);
      return out;
    },
    'torrent-add': async (args, req) => {
      const filename = arg(args, 'filename'), metainfo = arg(args, 'metainfo');
      // A torrent already there is Transmission's torrent-duplicate, not a second add.
      const params: AddTorrentParams = { duplicate_is_error: true };
      let info: TorrentInfo | null = null;
      if (typeof metainfo === 'string' && metainfo !== '') {
        const bytes = new Uint8Array(Buffer.from(metainfo, 'base64'));
        info = parseTorrentFile(bytes);
        params.ti = bytes;
      } else if (typeof filename === 'string' && filename !== '') {
        const u = parseTorrentUrl(filename);
        if (u.protocol === 'magnet:') params.url = filename;
        else {
          const got = await fetchTorrent(u, { boundHost: opts.host, localAddress: req.socket.localAddress, localPort: req.socket.localPort },
            { maxBytes: opts.maxTorrentBytes, timeoutMs: opts.fetchTimeoutMs, maxRedirects: opts.maxRedirects });
          if (got.kind === 'magnet') params.url = got.url;
          else {
            info = parseTorrentFile(got.bytes);
            params.ti = got.bytes;
          }
        }
      } else throw new RpcFailure('no filename or metainfo specified');
      const dir = await savePath(arg(args, 'download-dir'));
      if (dir !== undefined) params.save_path = dir;
      if (bool(args, 'paused') === true) {
        params.paused = true;
        params.auto_managed = false;
      }
      const peerLimit = int(args, 'peer-limit');
      if (peerLimit !== undefined) params.max_connections = peerLimit <= 0 ? -1 : peerLimit;
      if (info) {
        const prios = info.files.map(() => 4);
        if (applyFileArgs(args, prios)) params.file_priorities = prios;
      } else if (['files-wanted', 'files-unwanted', 'priority-high', 'priority-low', 'priority-normal'].some((k) => arg(args, k) !== undefined)) {
        throw new RpcFailure('file selection needs the torrent\'s metadata: add it from a .torrent');
      }
      const tags = stringList(args, 'labels');
      if (tags && tags.length > 0) params.tags = tags;
      const hash = info?.infoHash ?? null;
      const existing = hash ? session.findTorrent(hash) : undefined;
      if (existing) return { 'torrent-duplicate': { id: ids.idOf(existing.infoHash), name: existing.name, hashString: existing.infoHash } };
      let h: TorrentHandle;
      try {
        h = await session.addTorrent(params);
      } catch (e) {
        if (isSpritzleError(e) && e.code === 'duplicate_torrent' && params.url) {
          const dup = session.torrents().find((t) => params.url!.toLowerCase().includes(t.infoHash));
          if (dup) return { 'torrent-duplicate': { id: ids.idOf(dup.infoHash), name: dup.name, hashString: dup.infoHash } };
        }
        throw e;
      }
      return { 'torrent-added': { id: ids.idOf(h.infoHash), name: h.name, hashString: h.infoHash } };
    },
    'torrent-remove': async (args) => {
      const del = bool(args, 'delete-local-data') ?? false;
      for (const h of select(args)) {
        await session.removeTorrent(h.infoHash, { deleteFiles: del }).catch((e: unknown) => {
          if (!(isSpritzleError(e) && e.code === 'torrent_not_found')) throw e;
        });
      }
      return {};
    },
    // torrent-start hands the torrent to the queue (auto-managed); torrent-start-now runs it past the queue.
    'torrent-start': (args) => {
      for (const h of select(args)) {
        h.update({ auto_managed: true });
        h.resume();
      }
      return {};
    },
    'torrent-start-now': (args) => {
      for (const h of select(args)) {
        h.update({ auto_managed: false });
        h.resume();
      }
      return {};
    },
    'torrent-stop': (args) => { for (const h of select(args)) h.pause(); return {}; },
    'torrent-verify': (args) => {
      for (const h of select(args)) h.forceRecheck().catch(() => undefined);
      return {};
    },
    'torrent-reannounce': (args) => {
      for (const h of select(args)) h.forceReannounce();
      return {};
    },
    'torrent-set': (args) => {
      const handles = select(args);
      if (arg(args, 'location') !== undefined) throw new RpcFailure('torrent-set: use torrent-set-location to move a torrent');
      const queue = int(args, 'queuePosition');
      if (queue !== undefined && queue < 0) throw new RpcFailure('queuePosition must be ≥ 0');
      const ratioMode = int(args, 'seedRatioMode'), idleMode = int(args, 'seedIdleMode');
      const ratioValue = arg(args, 'seedRatioLimit'), idleValue = int(args, 'seedIdleLimit');
      if (ratioValue !== undefined && (typeof ratioValue !== 'number' || !Number.isFinite(ratioValue) || ratioValue < 0)) throw new RpcFailure('seedRatioLimit must be a number ≥ 0');
      if (idleValue !== undefined && idleValue < 0) throw new RpcFailure('seedIdleLimit must be minutes ≥ 0');
      for (const m of [ratioMode, idleMode]) if (m !== undefined && ![0, 1, 2].includes(m)) throw new RpcFailure('seedRatioMode and seedIdleMode are 0, 1 or 2');
      const prio = int(args, 'bandwidthPriority');
      if (prio !== undefined && prio !== 0) unsupported('bandwidth priorities');
      const tags = stringList(args, 'labels');
      const down = int(args, 'downloadLimit'), up = int(args, 'uploadLimit');
      const downOn = bool(args, 'downloadLimited'), upOn = bool(args, 'uploadLimited');
      const peers = int(args, 'peer-limit');
      const seq = bool(args, 'sequentialDownload');
      for (const h of handles) {
        const u: Parameters<TorrentHandle['update']>[0] = {};
        if (downOn === false) u.download_limit = -1;
        else if (down !== undefined) u.download_limit = down * KB;
        if (upOn === false) u.upload_limit = -1;
        else if (up !== undefined) u.upload_limit = up * KB;
        if (peers !== undefined) u.max_connections = peers <= 0 ? -1 : peers;
        if (seq !== undefined) u.sequential_download = seq;
        const prios = h.files().map((f) => f.priority);
        if (applyFileArgs(args, prios)) u.file_priorities = prios;
        if (tags) u.tags = tags;
        const limits = h.shareLimits();
        const ratio = limitFromTr(ratioMode, ratioValue as number | undefined, limits.ratio_limit, false);
        const idle = limitFromTr(idleMode, idleValue, limits.inactive_seeding_time_limit, true);
        if (ratio !== undefined || idle !== undefined) {
          // Transmission stops a torrent that reaches its limit.
          u.share_limits = { action: 'pause', ...(ratio !== undefined ? { ratio_limit: ratio } : {}), ...(idle !== undefined ? { inactive_seeding_time_limit: idle } : {}) };
        }
        h.update(u);
        if (queue !== undefined) h.setQueuePosition(queue);
        statuses.invalidate(h.infoHash);
      }
      return {};
    },
    'torrent-set-location': async (args) => {
      const location = arg(args, 'location');
      if (typeof location !== 'string' || location === '') throw new RpcFailure('location must be a path');
      // move: false means "the data is already there"; spritzle only moves (then it would re-check instead).
      if (bool(args, 'move') !== true) unsupported('torrent-set-location without move (pointing at data already moved)');
      const target = (await savePath(location))!;
      for (const h of select(args)) {
        try {
          await h.moveStorage(target);
        } finally {
          statuses.invalidate(h.infoHash);
        }
      }
      return {};
    },
    // Transmission renames the last part of `path` (a file or a folder of the torrent) to `name`.
    'torrent-rename-path': async (args) => {
      const handles = select(args);
      if (handles.length !== 1) throw new RpcFailure('torrent-rename-path takes exactly one torrent');
      const h = handles[0]!;
      const from = arg(args, 'path'), name = arg(args, 'name');
      if (typeof from !== 'string' || typeof name !== 'string' || name === '' || /[\\/]/.test(name)) throw new RpcFailure('path and name must be given; name is one path component');
      const norm = (p: string): string => p.split(/[\\/]/).filter(Boolean).join('/');
      const old = norm(from);
      const renamed = [...old.split('/').slice(0, -1), name].join('/');
      const files = h.files().filter((f) => !f.pad).map((f) => ({ index: f.index, path: norm(f.path) }));
      const targets = files.filter((f) => f.path === old || f.path.startsWith(`${old}/`));
      if (targets.length === 0) throw new RpcFailure(`${from} is not a file or folder of this torrent`);
      try {
        for (const f of targets) await h.renameFile(f.index, renamed + f.path.slice(old.length));
      } finally {
        statuses.invalidate(h.infoHash);
      }
      return { id: ids.idOf(h.infoHash), name, path: from };
    },
    // Several torrents keep their order among themselves: top and down move them last-first.
    'queue-move-top': (args) => { for (const h of select(args).reverse()) h.queuePositionTop(); statuses.invalidateAll(); return {}; },
    'queue-move-up': (args) => { for (const h of select(args)) h.queuePositionUp(); statuses.invalidateAll(); return {}; },
    'queue-move-down': (args) => { for (const h of select(args).reverse()) h.queuePositionDown(); statuses.invalidateAll(); return {}; },
    'queue-move-bottom': (args) => { for (const h of select(args)) h.queuePositionBottom(); statuses.invalidateAll(); return {}; },
    'free-space': async (args) => {
      const p = arg(args, 'path');
      if (typeof p !== 'string') throw new RpcFailure('path must be a string');
      // Only inside the download root: the sizes of other file systems are none of a client's business.
      const where = opts.downloadRoot !== null ? await confineSavePathField(p, opts.downloadRoot, 'path') : p;
      const fs = await statfs(where).catch(() => { throw new RpcFailure(`${p}: no such directory`); });
      return { path: p, 'size-bytes': fs.bavail * fs.bsize, total_size: fs.blocks * fs.bsize };
    },
    // Transmission asks an outside service whether the port is reachable; spritzle contacts no one.
    'port-test': () => { throw new RpcFailure('port-test needs an outside service, which spritzle does not contact'); },
  };

  const authorized = (req: Request): boolean => {
    if (bypasses(req, opts.token)) return true;
    if (opts.token === undefined) return false;
    const given = headerCredential(req);
    return given !== null && isToken(given, opts.token);
  };

  const readBody = express.json({ type: () => true, limit: Math.ceil((opts.maxTorrentBytes * 4) / 3) + 64 * 1024 });

  router.all('/', (req, res, next) => {
    const ip = remoteIp(req);
    if (limiter.isBanned(ip)) {
      res.status(403).type('text/html').send('<h1>403: Forbidden</h1><p>Too many failed authentication attempts.</p>');
      return;
    }
    if (!authorized(req)) {
      if (req.headers.authorization !== undefined) limiter.failed(ip);
      res.status(401).setHeader('WWW-Authenticate', 'Basic realm="Transmission"');
      res.type('text/html').send('<h1>401: Unauthorized</h1>');
      return;
    }
    limiter.succeeded(ip);
    // The session id is Transmission's CSRF guard: a page elsewhere cannot read it from the 409.
    if (req.headers[SESSION_ID_HEADER.toLowerCase()] !== sessionId) {
      res.status(409).setHeader(SESSION_ID_HEADER, sessionId);
      res.type('text/html').send(`<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p><p><code>${SESSION_ID_HEADER}: ${sessionId}</code></p>`);
      return;
    }
    if (req.method !== 'POST') {
      res.status(405).setHeader('Allow', 'POST').end();
      return;
    }
    readBody(req, res, next);
  }, async (req, res: Response) => {
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      res.status(400).json({ result: 'request must be a JSON object', arguments: {} });
      return;
    }
    const b = body as Args;
    const jsonRpc = b.jsonrpc === '2.0';
    const method = typeof b.method === 'string' ? (jsonRpc ? b.method.replace(/_/g, '-') : b.method) : '';
    const rawArgs = jsonRpc ? b.params : b.arguments;
    const args = (typeof rawArgs === 'object' && rawArgs !== null && !Array.isArray(rawArgs) ? rawArgs : {}) as Args;
    // Own names only: "constructor" or "__proto__" are not methods.
    const fn = Object.hasOwn(methods, method) ? methods[method] : undefined;
    let result = 'success';
    let out: Args = {};
    if (!fn) result = `method name not recognized`;
    else {
      try {
        out = await fn(args, req);
      } catch (e) {
        if (e instanceof RpcFailure || e instanceof HttpError || isSpritzleError(e)) result = (e as Error).message;
        else throw e;
      }
    }
    if (jsonRpc) {
      if (!('id' in b)) {
        res.status(204).end();
        return;
      }
      if (result === 'success') res.json({ jsonrpc: '2.0', result: Object.fromEntries(Object.entries(out).map(([k, v]) => [snake(k), v])), id: b.id });
      else res.json({ jsonrpc: '2.0', error: { code: fn ? -32000 : -32601, message: result }, id: b.id });
      return;
    }
    res.json({ result, arguments: out, ...('tag' in b ? { tag: b.tag } : {}) });
  });
  return router;
}
