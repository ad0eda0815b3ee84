import type { Request } from 'express';
import { confineSavePath, normalizeAddParams, isSpritzleError, type AddTorrentParams } from '@spritzle/engine';
import { badRequest } from './errors.js';
import { INFO_HASH_RE } from './schemas.js';
import { fetchTorrent, parseTorrentUrl, type FetchLimits, type SelfAddress } from './fetch-torrent.js';

/** The fields POST /torrent understands, whatever the body's encoding. */
const FORM_FIELDS = ['file', 'url', 'info_hash', 'args'] as const;
/** Add params that name the torrent: they come from the form fields, never from inside `args`. */
const SOURCE_KEYS = ['ti', 'info_hash', 'url'] as const;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export interface AddContext {
  downloadRoot: string | null;
  self: SelfAddress;
  limits: FetchLimits;
}

type Source = { kind: 'file'; bytes: Uint8Array } | { kind: 'url'; url: string } | { kind: 'info_hash'; hash: string };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A form field as a string. Urlencoded and multipart bodies turn repeated or bracketed names into arrays and
 * objects; those are malformed here. An empty value counts as absent: an HTML form posts its empty inputs too.
 */
function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be given once, as a string`, name);
  return v;
}

/** `args`: a JSON-encoded object in a form, a string or an object in a JSON body. */
function parseArgs(body: Record<string, unknown>, json: boolean): Record<string, unknown> {
  const raw = body.args;
  if (raw === undefined || raw === '' || raw === null) return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw badRequest(`args is not valid JSON: ${(e as Error).message}`, 'args', 'invalid_param');
    }
  } else if (!json) {
    throw badRequest('args must be given once, as a JSON-encoded string', 'args', 'invalid_param');
  }
  if (!isPlainObject(value)) throw badRequest('args must be a JSON object of add_torrent_params', 'args', 'invalid_param');
  for (const key of SOURCE_KEYS) {
    if (key in value) {
      throw badRequest(`args.${key}: name the torrent with the file, url or info_hash field, not inside args`, `args.${key}`, 'invalid_param');
    }
  }
  return value;
}

function readSource(req: Request, body: Record<string, unknown>): Source {
  const sources: Source[] = [];
  const names: string[] = [];
  if (req.file) {
    sources.push({ kind: 'file', bytes: new Uint8Array(req.file.buffer.buffer, req.file.buffer.byteOffset, req.file.buffer.byteLength) });
    names.push('file');
  }
  const fileText = stringField(body, 'file');
  if (fileText !== undefined) {
    // The later original took `file` as base64 in a JSON body; a text field of that name means the same here.
    const compact = fileText.replace(/\s+/g, '');
    if (!BASE64.test(compact)) throw badRequest('file: a text field named file must hold the .torrent in base64 (or upload it as a file)', 'file');
    sources.push({ kind: 'file', bytes: new Uint8Array(Buffer.from(compact, 'base64')) });
    names.push('file');
  }
  const url = stringField(body, 'url');
  if (url !== undefined) {
    sources.push({ kind: 'url', url });
    names.push('url');
  }
  const hash = stringField(body, 'info_hash');
  if (hash !== undefined) {
    if (!INFO_HASH_RE.test(hash)) throw badRequest(`info_hash: "${hash.slice(0, 64)}" is not 40 hex characters`, 'info_hash', 'invalid_info_hash');
    sources.push({ kind: 'info_hash', hash: hash.toLowerCase() });
    names.push('info_hash');
  }
  if (sources.length !== 1) {
    throw badRequest(sources.length === 0
      ? 'give the torrent as exactly one of file (multipart upload), url or info_hash'
      : `give exactly one of file, url or info_hash, not ${names.join(' and ')}`, sources.length === 0 ? 'file' : names[1]);
  }
  return sources[0]!;
}

/**
 * Confines a save_path to the download root by the engine's rule (confineSavePath, which the daemon also
 * applies to save paths restored from its state): a relative path is taken inside the root, and an
 * absolute one (or one climbing out with "..", or through a symlink) must land inside it. Its refusal is a
 * 400 naming `field`. Returns the absolute path.
 */
export async function confineSavePathField(savePath: string, root: string, field: string): Promise<string> {
  try {
    return await confineSavePath(savePath, root);
  } catch (e) {
    if (isSpritzleError(e) && e.code === 'invalid_path') throw badRequest(`${field}: ${e.message}`, field, 'invalid_path');
    throw e;
  }
}

/** An engine invalid_param about an `args` key, renamed so the client sees where it put it. */
function argsError(e: unknown): unknown {
  if (isSpritzleError(e) && e.code === 'invalid_param') {
    const field = e.field !== undefined ? `args.${e.field}` : 'args';
    return badRequest(`args.${e.message}`, field, 'invalid_param');
  }
  return e;
}

/**
 * POST /torrent's body (multipart with a `file` upload, urlencoded, or JSON) → the engine's add params.
 * Everything the client can get wrong is a 400 naming the field, before anything is fetched or added.
 */
export async function readAddParams(req: Request, ctx: AddContext): Promise<AddTorrentParams> {
  const rawBody: unknown = req.body ?? {};
  // A JSON array (or any non-object) parses fine but names no fields.
  if (!isPlainObject(rawBody)) throw badRequest('the body must be a form or a JSON object');
  const body = rawBody;
  for (const key of Object.keys(body)) {
    if (!(FORM_FIELDS as readonly string[]).includes(key)) {
      throw badRequest(`unknown field "${key.slice(0, 64)}": POST /torrent takes file, url, info_hash and args (add params go inside args)`, key.slice(0, 64));
    }
  }
  const json = typeof req.is('application/json') === 'string';
  const source = readSource(req, body);
  const args = parseArgs(body, json);
  try {
    normalizeAddParams(args);
  } catch (e) {
    throw argsError(e);
  }
  const params: Record<string, unknown> = { ...args };
  if (ctx.downloadRoot !== null && typeof args.save_path === 'string') {
    params.save_path = await confineSavePathField(args.save_path, ctx.downloadRoot, 'args.save_path');
  }

  if (source.kind === 'file') params.ti = source.bytes;
  else if (source.kind === 'info_hash') params.info_hash = source.hash;
  else {
    const u = parseTorrentUrl(source.url);
    if (u.protocol === 'magnet:') params.url = source.url;
    else {
      const got = await fetchTorrent(u, ctx.self, ctx.limits);
      if (got.kind === 'magnet') params.url = got.url;
      else params.ti = got.bytes;
    }
  }
  // normalizeAddParams accepted every key above; the engine validates the whole again on add.
  return params as AddTorrentParams;
}
