import type { MediaType, Parameter, PathItem, ResponseObject } from './openapi-types.js';
import type { JsonSchema } from './schemas.js';

/** The streaming routes in the OpenAPI document (routes/stream.ts serves them). */

const HASH = '44a040be6d74d8d290cd20128788864cbf770719';
const ERROR = { $ref: '#/components/schemas/Error' };
const json = (schema: JsonSchema, example: unknown): Record<string, MediaType> => ({ 'application/json': { schema, example } });
const error = (description: string, code: string, message: string, field?: string): ResponseObject =>
  ({ description, content: json(ERROR, { error: { code, message, ...(field !== undefined ? { field } : {}) } }) });

const HASH_PARAM: Parameter = { name: 'hash', in: 'path', required: true, description: 'the torrent\'s info-hash, either case: 40 hex digits (v1, or a v2 torrent\'s truncated v2 hash, as libtorrent\'s info_hashes.get_best()) or 64 (the full v2 hash)', schema: { type: 'string', pattern: '^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$' } };
const TOKEN_PARAM: Parameter = {
  name: 'token', in: 'query', required: false,
  description: 'The API token, for players that cannot send an Authorization header (accepted on the stream and playlist routes only).',
  schema: { type: 'string' },
};
const RANGE_PARAMS: Parameter[] = [
  { name: 'Range', in: 'header', required: false, description: 'RFC 9110 byte ranges: `bytes=0-99`, `bytes=100-`, `bytes=-100`. Overlapping ranges are merged; disjoint ones get the whole file.', schema: { type: 'string' } },
  { name: 'If-Range', in: 'header', required: false, description: 'The ETag: the Range applies only if it matches (a date never does).', schema: { type: 'string' } },
  { name: 'If-None-Match', in: 'header', required: false, description: 'The ETag: 304 if it matches.', schema: { type: 'string' } },
];
const BYTES: Record<string, MediaType> = {
  'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' }, example: '(the file\'s bytes)' },
};
const H = (description: string, schema: JsonSchema = { type: 'string' }) => ({ description, schema });
const FILE_HEADERS = {
  'Accept-Ranges': H('always `bytes`'),
  'Content-Length': H('bytes in this answer', { type: 'integer', minimum: 0 }),
  ETag: H('`"<info-hash>-<file index>"`: the bytes of a file never change'),
};

function fileOperation(operationId: string, summary: string, extra: Parameter, notFound: ResponseObject): PathItem {
  return {
    get: {
      operationId, summary, tags: ['stream'],
      description: 'The file\'s bytes while the torrent downloads: the pieces under the reader and a read-ahead window are '
        + 'fetched first (piece deadlines), and bytes flow as soon as their piece is verified. HEAD answers the same '
        + 'headers. Content-Type follows the extension; anything a browser would run is served as application/octet-stream. '
        + 'Closing the connection frees the pieces it was waiting for.',
      parameters: [HASH_PARAM, extra, TOKEN_PARAM, ...RANGE_PARAMS],
      responses: {
        200: { description: 'The whole file.', headers: FILE_HEADERS, content: BYTES },
        206: { description: 'One range.', headers: { ...FILE_HEADERS, 'Content-Range': H('`bytes <first>-<last>/<size>`') }, content: BYTES },
        304: { description: 'If-None-Match matched.' },
        400: error('Malformed info-hash or file index, or no metadata yet.', 'invalid_state', `torrent ${HASH} has no metadata yet; its files are not known`),
        404: notFound,
        416: { ...error('No range overlaps the file.', 'range_not_satisfiable', 'the range "bytes=900-" is outside the file\'s 800 bytes'),
          headers: { 'Content-Range': H('`bytes */<size>`') } },
      },
    },
  };
}

const M3U: Record<string, MediaType> = {
  'audio/x-mpegurl': {
    schema: { type: 'string' },
    example: `#EXTM3U\n#EXTINF:-1,album - album/01.flac\nhttp://127.0.0.1:8080/torrent/${HASH}/files/0/stream\n`,
  },
};

const WEB_SEED: JsonSchema = {
  type: 'object', additionalProperties: false,
  required: ['url', 'type', 'state', 'error', 'failures', 'total_download', 'download_rate', 'retry_at'],
  properties: {
    url: { type: 'string' },
    type: { type: 'string', enum: ['url', 'http'], description: "url: a BEP 19 url seed (url-list, url_seeds); http: a BEP 17 http seed (httpseeds, http_seeds); libtorrent's web_seed_entry type names" },
    state: { type: 'string', enum: ['idle', 'downloading', 'backoff', 'failed'], description: 'backoff: retried at retry_at; failed: dropped after repeated failures' },
    error: { type: 'string', description: 'the last failure, empty if none' },
    failures: { type: 'integer', minimum: 0, description: 'failures in a row' },
    total_download: { type: 'integer', minimum: 0 },
    download_rate: { type: 'integer', minimum: 0, description: 'bytes/s' },
    retry_at: { type: 'integer', minimum: 0, description: 'unix ms of the next try while backing off, else 0' },
  },
};
const WEB_SEEDS_EXAMPLE = [
  { url: 'https://mirror.example.org/pub/album/', type: 'url', state: 'downloading', error: '', failures: 0, total_download: 52428800, download_rate: 2097152, retry_at: 0 },
  { url: 'http://dead.example.org/album/', type: 'url', state: 'backoff', error: 'HTTP 404 Not Found', failures: 2, total_download: 0, download_rate: 0, retry_at: 1764500000000 },
];

export const STREAM_PATHS: Record<string, PathItem> = {
  '/torrent/{hash}/web_seeds': {
    get: {
      operationId: 'getWebSeeds', summary: "A torrent's web seeds (BEP 19)", tags: ['torrent'], parameters: [HASH_PARAM],
      description: 'The url-list (BEP 19) and httpseeds (BEP 17) of the .torrent and the url_seeds and http_seeds given when adding, with state, last error and rates.',
      responses: {
        200: { description: 'The web seeds.', content: json({ type: 'array', items: WEB_SEED }, WEB_SEEDS_EXAMPLE) },
        400: error('Malformed info-hash.', 'invalid_info_hash', '"xyz" is not an info-hash (40 hex characters, or 64 for a v2 one)', 'hash'),
        404: error('No torrent with this info-hash in the session.', 'torrent_not_found', `no torrent ${HASH} in the session`),
      },
    },
    post: {
      operationId: 'addWebSeed', summary: 'Add a web seed (libtorrent\'s add_url_seed)', tags: ['torrent'], parameters: [HASH_PARAM],
      description: 'BEP 19: a single-file torrent\'s URL is the file (or a folder ending in /); a multi-file torrent\'s is the folder holding its name folder.',
      requestBody: {
        required: true,
        content: json({ type: 'object', properties: { url: { type: 'string', description: 'http or https URL' } }, required: ['url'], additionalProperties: false },
          { url: 'https://mirror.example.org/pub/' }),
      },
      responses: {
        201: { description: 'The web seeds now.', content: json({ type: 'array', items: WEB_SEED }, WEB_SEEDS_EXAMPLE.slice(0, 1)) },
        400: error('Not an http(s) URL.', 'invalid_param', '"ftp://x/" is not an http(s) URL', 'url'),
        404: error('No torrent with this info-hash in the session.', 'torrent_not_found', `no torrent ${HASH} in the session`),
        415: error('The body is not JSON.', 'unsupported_media_type', 'send the body as application/json, not text/plain'),
      },
    },
  },
  '/torrent/{hash}/files/{index}/stream': fileOperation('streamFile', 'Stream a file (HTTP Range)',
    { name: 'index', in: 'path', required: true, description: 'the file index, as in GET /torrent/{hash}/files', schema: { type: 'integer', minimum: 0 } },
    error('No such torrent or file.', 'not_found', `torrent ${HASH} has no file 9`)),
  '/torrent/{hash}/stream/{name}': fileOperation('streamFileByPath', 'Stream a file by its path (HTTP Range)',
    { name: 'name', in: 'path', required: true, description: 'the file\'s path as in GET /torrent/{hash}/files, URL-encoded as one segment (`/` as %2F)', schema: { type: 'string' } },
    error('No such torrent or file.', 'not_found', `torrent ${HASH} has no file "album/02.flac"`)),
  '/torrent/{hash}/playlist.m3u8': {
    get: {
      operationId: 'torrentPlaylist', summary: "An M3U playlist of a torrent's files", tags: ['stream'],
      description: 'Entries point at the stream URLs (with `?token=` when the daemon has a token), so mpv or VLC can open it: '
        + 'the audio and video files, or every file when there are none.',
      parameters: [HASH_PARAM, TOKEN_PARAM],
      responses: {
        200: { description: 'The playlist.', content: M3U },
        400: error('Malformed info-hash, or no metadata yet.', 'invalid_info_hash', '"xyz" is not an info-hash (40 hex characters, or 64 for a v2 one)', 'hash'),
        404: error('No torrent with this info-hash in the session.', 'torrent_not_found', `no torrent ${HASH} in the session`),
      },
    },
  },
  '/playlist.m3u8': {
    get: {
      operationId: 'sessionPlaylist', summary: 'An M3U playlist of every torrent', tags: ['stream'],
      description: 'The entries of every torrent\'s playlist, in the session\'s order.',
      parameters: [TOKEN_PARAM],
      responses: { 200: { description: 'The playlist.', content: M3U } },
    },
  },
};
