import type { RequestHandler } from 'express';
import {
  Counters, DEFAULT_SETTINGS,
  type FileInfo, type PeerInfo, type TorrentStatus, type TrackerInfo,
} from '@spritzle/engine';
import type { ApiErrorBody } from './errors.js';
import { STATS_TORRENT_FIELDS, type StatsEvent } from './events.js';
import {
  ADD_ARGS, ERROR_BODY, ERROR_CODE_JSON, FILE_INFO, INFO_HASH, PEER_INFO, TORRENT_STATUS, TORRENT_UPDATE, TRACKER_INFO,
  sessionStatsSchema, settingsSchema, type JsonSchema,
} from './schemas.js';
import { WEB_UI_PATHS } from './web-ui-openapi.js';
import { STREAM_PATHS } from './stream-openapi.js';
import type { MediaType, OpenApiDocument, Parameter, PathItem, ResponseObject } from './openapi-types.js';

export type { MediaType, OpenApiDocument, Operation, Parameter, PathItem, ResponseObject } from './openapi-types.js';

const HASH = '44a040be6d74d8d290cd20128788864cbf770719';
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema, example: unknown): Record<string, MediaType> => ({ 'application/json': { schema, example } });

/** The spec's status example, in the engine's (libtorrent 2.0-extended) shape. */
const STATUS_EXAMPLE: TorrentStatus = {
  info_hash: HASH, info_hashes: { v1: HASH, v2: '' }, name: 'tmprandomfile', save_path: '/tmp', state: 'downloading',
  errc: { value: 0, message: 'Success', category: { name: 'system', message: 'Success' } }, error: '', error_file: -1,
  has_metadata: true, is_loaded: true, is_finished: false, is_seeding: false, paused: false, auto_managed: true,
  sequential_download: false, seed_mode: false, upload_mode: false, share_mode: false, super_seeding: false,
  stop_when_ready: false, ip_filter_applies: true, moving_storage: false, need_save_resume: true, flags: 168,
  progress: 0, progress_ppm: 0, pieces: [false, false, false, false, false, false, false, false], verified_pieces: [],
  num_pieces: 0, block_size: 16384, total: 4194304, total_done: 0, total_wanted: 4194304, total_wanted_done: 0,
  total_download: 0, total_upload: 0, total_payload_download: 0, total_payload_upload: 0, total_failed_bytes: 0,
  total_redundant_bytes: 0, all_time_download: 0, all_time_upload: 0, download_rate: 0, upload_rate: 0,
  download_payload_rate: 0, upload_payload_rate: 0, num_peers: 0, num_seeds: 0, num_connections: 0, num_uploads: 0,
  list_peers: 0, list_seeds: 0, connect_candidates: 0, num_complete: -1, num_incomplete: -1, connections_limit: -1,
  uploads_limit: -1, distributed_copies: -1, distributed_full_copies: -1, distributed_fraction: -1,
  down_bandwidth_queue: 0, up_bandwidth_queue: 0, has_incoming: false, current_tracker: '', next_announce: '0.0',
  announce_interval: '0.0', announcing_to_trackers: true, announcing_to_lsd: true, announcing_to_dht: true,
  last_scrape: -1, last_seen_complete: 0, added_time: 1455682321, completed_time: 0, active_time: 17,
  finished_time: 0, seeding_time: 0, active_duration: '17.0', finished_duration: '0.0', seeding_duration: '0.0',
  time_since_download: -1, time_since_upload: -1, last_download: null, last_upload: null, queue_position: 0,
  priority: 0, seed_rank: 0, storage_mode: 1, eta: -1, ratio: 0,
  share_limits: { ratio_limit: -2, seeding_time_limit: -2, inactive_seeding_time_limit: -2, action: 'pause' }, category: '', tags: [], first_last_piece_priority: false,
};

const FILES_EXAMPLE: FileInfo[] = [
  { index: 0, path: 'album/01.flac', size: 31457280, offset: 0, progress: 0.5, bytes_done: 15728640, priority: 4, pad: false },
  { index: 1, path: 'album/cover.jpg', size: 524288, offset: 31457280, progress: 0, bytes_done: 0, priority: 0, pad: false },
];
const PEERS_EXAMPLE: PeerInfo[] = [{
  ip: '192.0.2.7', port: 51413, client: 'Transmission 4.0.5', peer_id: '2d5452343035302d6f6b316b31346c30666a3962',
  direction: 'outgoing', transport: 'utp', flags: 'iCE', rc4_encrypted: true, plaintext_encrypted: false, progress: 1, down_speed: 1048576, up_speed: 0, total_download: 52428800,
  total_upload: 0, num_pieces: 256, queue: 64,
}];
const TRACKERS_EXAMPLE: TrackerInfo[] = [
  { url: 'http://tracker.example.org:6969/announce', tier: 0, status: 'working', message: '', num_peers: 12, last_announce: 1764500000, next_announce: 1764501800 },
];

function statsExample(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { name } of Counters.names()) out[name] = 0;
  out['ses.num_loaded_torrents'] = 1;
  out['ses.num_downloading_torrents'] = 1;
  return out;
}

function metricsExample(): string {
  return ['# HELP libtorrent_net_recv_bytes libtorrent session counter net.recv_bytes', '# TYPE libtorrent_net_recv_bytes counter',
    'libtorrent_net_recv_bytes 1048576', '# HELP libtorrent_dht_dht_nodes libtorrent session gauge dht.dht_nodes',
    '# TYPE libtorrent_dht_dht_nodes gauge', 'libtorrent_dht_dht_nodes 0', ''].join('\n');
}

function err(code: string, message: string, field?: string): ApiErrorBody {
  return { error: { code: code as ApiErrorBody['error']['code'], message, ...(field !== undefined ? { field } : {}) } };
}

function errorResponse(description: string, example: ApiErrorBody): ResponseObject {
  return { description, content: json(ref('Error'), example) };
}

const E400_HASH = errorResponse('Malformed info-hash.', err('invalid_info_hash', '"xyz" is not an info-hash (40 hex characters, or 64 for a v2 one)', 'hash'));
const E404_TORRENT = errorResponse('No torrent with this info-hash in the session.', err('torrent_not_found', `no torrent ${HASH} in the session`));
const E400_FIELDS = errorResponse('Unknown status field in `fields`.', err('bad_request', 'fields: "nmae" is not a status field', 'fields'));

const HASH_PARAM: Parameter = { name: 'hash', in: 'path', required: true, description: 'the torrent\'s info-hash, either case: 40 hex digits (v1, or a v2 torrent\'s truncated v2 hash, as libtorrent\'s info_hashes.get_best()) or 64 (the full v2 hash)', schema: { type: 'string', pattern: '^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$' } };
const CATEGORY_PARAM: Parameter = { name: 'name', in: 'path', required: true, description: 'the category\'s name (URL-encoded; "/" nests categories)', schema: { type: 'string', minLength: 1, maxLength: 255 } };
const TAG_PARAM: Parameter = { name: 'name', in: 'path', required: true, description: 'the tag (URL-encoded)', schema: { type: 'string', minLength: 1, maxLength: 255 } };
const FIELDS_PARAM: Parameter = {
  name: 'fields', in: 'query', required: false,
  description: 'comma-separated status field names; the answer then holds just those (and info_hash)',
  schema: { type: 'string' },
};
const DELETE_FILES_PARAM: Parameter = {
  name: 'delete_files', in: 'query', required: false, allowEmptyValue: true,
  description: 'presence only (any value): also delete the downloaded data', schema: { type: 'string' },
};

const EMPTY_OK: ResponseObject = {
  description: 'Removed. The body is empty (Content-Length: 0).',
  headers: { 'Content-Length': { description: 'always 0', schema: { type: 'integer', const: 0 } } },
};

const STATUS_OK: ResponseObject = { description: "The torrent's status after the change.", content: json(ref('TorrentStatus'), STATUS_EXAMPLE) };

function action(id: string, summary: string, description: string): PathItem {
  return {
    post: {
      operationId: id, summary, description, tags: ['torrent'], parameters: [HASH_PARAM],
      responses: {
        200: STATUS_OK,
        400: E400_HASH,
        404: E404_TORRENT,
      },
    },
  };
}

function build(): OpenApiDocument {
  const stats = sessionStatsSchema();
  const statsTorrent: JsonSchema = {
    type: 'object', additionalProperties: false, required: ['info_hash'],
    description: 'Every one of these fields, unless the stream was opened with `?fields=` (then info_hash and those).',
    properties: Object.fromEntries(STATS_TORRENT_FIELDS.map((f) => [f, TORRENT_STATUS.properties![f]!])),
  };
  const statsEvent: StatsEvent = { session: statsExample(), torrents: [{
    info_hash: HASH, name: 'tmprandomfile', state: 'downloading', paused: false, progress: 0.25, download_rate: 1048576,
    upload_rate: 0, download_payload_rate: 1000000, upload_payload_rate: 0, num_peers: 3, num_seeds: 1, total_done: 1048576,
    total_wanted: 4194304, error: '', eta: 4, ratio: 0, added_time: 1764500000, all_time_download: 1048576, all_time_upload: 0,
    category: 'tv', tags: ['hd'],
  }] };
  return {
    openapi: '3.1.0',
    info: {
      title: 'spritzle',
      version: '0.1.0',
      description: 'The REST interface of spritzle, a BitTorrent daemon with libtorrent\'s vocabulary. Every error is '
        + '`{"error": {"code", "message"}}` (plus `field` when an input is at fault). State-changing requests from a '
        + 'foreign web Origin and requests with a Host header that is not the daemon\'s are refused (403).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    security: [{}, { bearer: [] }],
    paths: {
      '/session': {
        get: {
          operationId: 'getSession', summary: 'Session statistics', tags: ['session'],
          description: 'Every libtorrent session counter by name (e.g. "net.recv_bytes"), integer values, live.',
          responses: { 200: { description: 'The counters.', content: json(ref('SessionStats'), statsExample()) } },
        },
      },
      '/session/dht': {
        get: {
          operationId: 'getDht', summary: 'Whether the DHT is running', tags: ['session'],
          responses: { 200: { description: '`true` or `false`.', content: json({ type: 'boolean' }, true) } },
        },
      },
      '/session/categories': {
        get: {
          operationId: 'listCategories', summary: 'Categories and their save paths', tags: ['session'],
          description: 'Those created and those the torrents carry (a category with save_path "" uses the session\'s save_path).',
          responses: { 200: { description: 'The categories by name.', content: json({ type: 'array', items: ref('Category') }, [{ name: 'tv', save_path: '/srv/torrents/tv' }]) } },
        },
      },
      '/session/categories/{name}': {
        put: {
          operationId: 'putCategory', summary: 'Create a category or change its save path', tags: ['session'],
          description: 'A torrent added in the category without a save_path goes to the category\'s. The save_path stays inside the download root. Torrents already in it do not move.',
          parameters: [CATEGORY_PARAM],
          requestBody: { required: true, content: json(ref('CategoryBody'), { save_path: 'tv' }) },
          responses: {
            200: { description: 'The category.', content: json(ref('Category'), { name: 'tv', save_path: '/srv/torrents/tv' }) },
            400: errorResponse('A bad name or save_path.', err('invalid_path', 'save_path: "/etc" is outside the download root /srv/torrents', 'save_path')),
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
          },
        },
        delete: {
          operationId: 'removeCategory', summary: 'Remove a category', tags: ['session'],
          description: 'Its torrents stay, in no category.',
          parameters: [CATEGORY_PARAM],
          responses: { 200: EMPTY_OK, 404: errorResponse('No such category.', err('not_found', 'no category "tv"')) },
        },
      },
      '/session/tags': {
        get: {
          operationId: 'listTags', summary: 'Every tag', tags: ['session'],
          description: 'Tags created on their own (qBittorrent\'s createTags) and those the torrents carry, sorted.',
          responses: { 200: { description: 'The tags.', content: json({ type: 'array', items: { type: 'string' } }, ['hd', 'new']) } },
        },
      },
      '/session/tags/{name}': {
        put: {
          operationId: 'putTag', summary: 'Create a tag', tags: ['session'],
          description: 'Known without a torrent carrying it (qBittorrent\'s createTags); kept with the daemon\'s state. Creating one that exists changes nothing.',
          parameters: [TAG_PARAM],
          responses: {
            200: { description: 'Every tag after the change.', content: json({ type: 'array', items: { type: 'string' } }, ['hd', 'new']) },
            400: errorResponse('A bad tag.', err('invalid_param', 'name: a tag is 1 to 255 characters, not blank, without commas or control characters', 'name')),
          },
        },
        delete: {
          operationId: 'removeTag', summary: 'Remove a tag', tags: ['session'],
          description: 'Forgotten and taken off every torrent that carried it (qBittorrent\'s deleteTags).',
          parameters: [TAG_PARAM],
          responses: {
            200: { description: 'Every tag after the change.', content: json({ type: 'array', items: { type: 'string' } }, ['hd']) },
            404: errorResponse('No such tag.', err('not_found', 'no tag "new"')),
          },
        },
      },
      '/session/disk': {
        get: {
          operationId: 'getDisk', summary: 'Free disk space for downloads', tags: ['session'],
          description: 'statfs of the download root (the default save_path when the daemon has no root): bytes free to the daemon\'s user and the file system\'s size.',
          responses: {
            200: {
              description: 'The space.',
              content: json({
                type: 'object', required: ['path', 'free_bytes', 'total_bytes'], additionalProperties: false,
                properties: { path: { type: 'string' }, free_bytes: { type: 'integer', minimum: 0 }, total_bytes: { type: 'integer', minimum: 0 } },
              }, { path: '/srv/torrents', free_bytes: 52613349376, total_bytes: 250790436864 }),
            },
          },
        },
      },
      '/session/settings': {
        get: {
          operationId: 'getSettings', summary: 'Session settings by libtorrent name', tags: ['session'],
          responses: { 200: { description: 'Every setting.', content: json(ref('Settings'), { ...DEFAULT_SETTINGS }) } },
        },
        patch: {
          operationId: 'patchSettings', summary: 'Change session settings', tags: ['session'],
          description: 'Unknown names and ill-typed values are a 400 and change nothing. Numeric strings are coerced. '
            + 'save_path must stay inside the download root. listen_interfaces and peer_fingerprint only apply at start.',
          requestBody: { required: true, content: json(ref('SettingsPatch'), { upload_rate_limit: 1048576, save_path: 'movies' }) },
          responses: {
            200: { description: 'Every setting after the change.', content: json(ref('Settings'), { ...DEFAULT_SETTINGS, upload_rate_limit: 1048576 }) },
            400: errorResponse('Unknown setting or wrong type.', err('invalid_param', 'unknown setting "upload_rate"', 'upload_rate')),
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
          },
        },
      },
      '/torrent': {
        get: {
          operationId: 'listTorrents', summary: 'The torrents in the session', tags: ['torrent'],
          description: 'A list of info-hashes; with `fields`, a list of objects holding `info_hash` and those status fields.',
          parameters: [FIELDS_PARAM],
          responses: {
            200: {
              description: 'The torrents.',
              content: {
                'application/json': {
                  schema: { anyOf: [{ type: 'array', items: INFO_HASH }, { type: 'array', items: ref('PartialStatus') }] },
                  examples: {
                    hashes: { summary: 'GET /torrent', value: [HASH] },
                    fields: { summary: 'GET /torrent?fields=name,state,progress', value: [{ info_hash: HASH, name: 'tmprandomfile', state: 'downloading', progress: 0.25 }] },
                  },
                },
              },
            },
            400: E400_FIELDS,
          },
        },
        post: {
          operationId: 'addTorrent', summary: 'Add a torrent', tags: ['torrent'],
          description: 'Exactly one of `file` (a .torrent upload; base64 in a text field or JSON), `url` (http/https .torrent, '
            + 'fetched with a size limit, a timeout and a redirect limit, or a magnet link) or `info_hash`, plus optional `args`: '
            + "a JSON object of libtorrent's add_torrent_params. Adding a torrent already in the session answers 201 with its "
            + 'hash, unless `duplicate_is_error` is set (409).',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object', additionalProperties: false,
                  properties: {
                    file: { type: 'string', contentMediaType: 'application/x-bittorrent', description: 'the .torrent file' },
                    url: { type: 'string' }, info_hash: INFO_HASH, args: { type: 'string', description: 'JSON-encoded add params' },
                  },
                },
              },
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object', additionalProperties: false,
                  properties: { file: { type: 'string', contentEncoding: 'base64' }, url: { type: 'string' }, info_hash: INFO_HASH, args: { type: 'string' } },
                },
                example: { info_hash: '88066b90278f2de655ee2dd44e784c340b54e45c', args: '{"save_path": "/tmp"}' },
              },
              'application/json': {
                schema: {
                  type: 'object', additionalProperties: false,
                  properties: {
                    file: { type: 'string', contentEncoding: 'base64' }, url: { type: 'string' }, info_hash: INFO_HASH,
                    args: { oneOf: [ref('AddArgs'), { type: 'string' }] },
                  },
                },
                example: { url: 'magnet:?xt=urn:btih:88066b90278f2de655ee2dd44e784c340b54e45c', args: { save_path: 'linux', paused: true } },
              },
            },
          },
          responses: {
            201: {
              description: 'Added (or already there).',
              headers: { Location: { description: 'absolute URL of the new torrent resource', schema: { type: 'string', format: 'uri' } } },
              content: json(ref('InfoHash'), { info_hash: HASH }),
            },
            400: {
              description: 'Bad input: none or several of file/url/info_hash, bad JSON in args, an unknown or ill-typed param, '
                + 'not a torrent, a refused url scheme, an unreachable or oversized url, a save_path outside the download root.',
              content: {
                'application/json': {
                  schema: ref('Error'),
                  examples: {
                    args: { value: err('invalid_param', 'args is not valid JSON: Unexpected token } in JSON at position 14', 'args') },
                    torrent: { value: err('invalid_torrent', 'not a torrent file: it is not bencoded') },
                    path: { value: err('invalid_path', 'args.save_path: "/etc" is outside the download root /srv/torrents', 'args.save_path') },
                    fetch: { value: err('fetch_failed', 'url: the server answered 404 Not Found', 'url') },
                  },
                },
              },
            },
            409: errorResponse('Already in the session and duplicate_is_error was given.', err('duplicate_torrent', `torrent ${HASH} is already in the session`)),
            413: errorResponse('The upload is larger than the limit.', err('payload_too_large', 'multipart form: File too large (file)', 'file')),
            415: errorResponse('A body in another encoding.', err('unsupported_media_type', 'send the body as application/json or application/x-www-form-urlencoded or multipart/form-data, not text/plain')),
          },
        },
        delete: {
          operationId: 'removeAllTorrents', summary: 'Remove every torrent', tags: ['torrent'],
          parameters: [DELETE_FILES_PARAM],
          responses: { 200: EMPTY_OK },
        },
      },
      '/torrent/{hash}': {
        get: {
          operationId: 'getTorrent', summary: "A torrent's status", tags: ['torrent'],
          description: "libtorrent's torrent_status: the spec's keys plus libtorrent 2.0's.",
          parameters: [HASH_PARAM, FIELDS_PARAM],
          responses: {
            200: {
              description: 'The status (with `fields`, just those keys and info_hash).',
              content: {
                'application/json': {
                  schema: { anyOf: [ref('TorrentStatus'), ref('PartialStatus')] },
                  examples: {
                    full: { value: STATUS_EXAMPLE },
                    fields: { summary: '?fields=name,progress', value: { info_hash: HASH, name: 'tmprandomfile', progress: 0 } },
                  },
                },
              },
            },
            400: E400_HASH,
            404: E404_TORRENT,
          },
        },
        patch: {
          operationId: 'updateTorrent', summary: 'Change a live torrent', tags: ['torrent'],
          description: 'Any of sequential_download, file_priorities, upload_limit, download_limit, max_uploads, max_connections, '
            + 'share_limits (any of ratio_limit, seeding_time_limit, inactive_seeding_time_limit, action), category, tags, '
            + 'first_last_piece_priority, auto_managed, queue_position. '
            + 'Any other key is a 400 and nothing changes.',
          parameters: [HASH_PARAM],
          requestBody: { required: true, content: json(ref('TorrentUpdate'), { sequential_download: true, file_priorities: [7, 0], download_limit: 1048576 }) },
          responses: {
            200: STATUS_OK,
            400: errorResponse('Unknown key or wrong type.', err('invalid_param', '"paused" cannot be changed here', 'paused')),
            404: E404_TORRENT,
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
          },
        },
        delete: {
          operationId: 'removeTorrent', summary: 'Remove a torrent', tags: ['torrent'],
          parameters: [HASH_PARAM, DELETE_FILES_PARAM],
          responses: { 200: EMPTY_OK, 400: E400_HASH, 404: E404_TORRENT },
        },
      },
      '/torrent/{hash}/pause': action('pauseTorrent', 'Pause a torrent', 'Closes its peer connections; the answer is its status.'),
      '/torrent/{hash}/resume': action('resumeTorrent', 'Resume a torrent', 'The answer is its status.'),
      '/torrent/{hash}/recheck': action('recheckTorrent', 'Re-hash the data on disk',
        'Answers once checking has started (state checking_files); progress shows in the status and the event stream. '
          + 'A torrent without metadata is a 400 (invalid_state).'),
      '/torrent/{hash}/move': {
        post: {
          operationId: 'moveTorrent', summary: "Move a torrent's files (libtorrent's move_storage)", tags: ['torrent'],
          description: 'Moves its files to save_path (inside the download root) while it runs; answers with its status once they are there. '
            + 'Files already at the destination are not replaced: the move fails (500, disk_error) and the files stay where they were.',
          parameters: [HASH_PARAM],
          requestBody: { required: true, content: json(ref('MoveBody'), { save_path: 'movies' }) },
          responses: {
            200: STATUS_OK,
            400: errorResponse('A bad save_path, or one outside the download root.', err('invalid_path', 'save_path: "/etc" is outside the download root /srv/torrents', 'save_path')),
            404: E404_TORRENT,
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
            500: errorResponse('The files could not move; they are where they were.', err('disk_error', 'cannot move storage: /srv/torrents/movies/a.bin already exists (spritzle does not replace files)')),
          },
        },
      },
      '/torrent/{hash}/rename': {
        post: {
          operationId: 'renameFile', summary: "Rename one of a torrent's files (libtorrent's rename_file)", tags: ['torrent'],
          description: 'Gives file `index` the path `name` (relative to the save path; "/" makes folders) on disk and in the file list, while it runs. '
            + 'Nothing is replaced (500, disk_error, when a file is in the way); the new name is kept with the resume data. Answers the file list.',
          parameters: [HASH_PARAM],
          requestBody: { required: true, content: json(ref('RenameBody'), { index: 0, name: 'ubuntu/renamed.iso' }) },
          responses: {
            200: { description: 'The file list after the rename.', content: json({ type: 'array', items: ref('FileInfo') }, FILES_EXAMPLE) },
            400: errorResponse('A bad index or name.', err('invalid_param', 'another file is already named ubuntu/b.iso', 'name')),
            404: E404_TORRENT,
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
            500: errorResponse('The file could not be renamed; it keeps its name.', err('disk_error', 'cannot move storage: /srv/torrents/ubuntu/renamed.iso already exists (spritzle does not replace files)')),
          },
        },
      },
      '/torrent/{hash}/files': {
        get: {
          operationId: 'getTorrentFiles', summary: "A torrent's files", tags: ['torrent'], parameters: [HASH_PARAM],
          description: 'Empty until the metadata is known.',
          responses: { 200: { description: 'The files, in torrent order.', content: json({ type: 'array', items: ref('FileInfo') }, FILES_EXAMPLE) }, 400: E400_HASH, 404: E404_TORRENT },
        },
      },
      '/torrent/{hash}/peers': {
        get: {
          operationId: 'getTorrentPeers', summary: "A torrent's connected peers", tags: ['torrent'], parameters: [HASH_PARAM],
          responses: { 200: { description: 'The peers.', content: json({ type: 'array', items: ref('PeerInfo') }, PEERS_EXAMPLE) }, 400: E400_HASH, 404: E404_TORRENT },
        },
        post: {
          operationId: 'connectPeer', summary: 'Connect a peer to the torrent', tags: ['torrent'], parameters: [HASH_PARAM],
          description: "libtorrent's torrent_handle::connect_peer: the torrent dials host:port (an IP address, as libtorrent's "
            + 'endpoint; no host names). The dial happens in the background: the answer (202) only says it was asked for; the '
            + 'peer shows in GET /torrent/{hash}/peers once connected.',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              properties: { host: { type: 'string', description: 'IPv4 or IPv6 address' }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
              required: ['host', 'port'],
              additionalProperties: false,
            }, { host: '192.0.2.7', port: 6881 }),
          },
          responses: {
            202: {
              description: 'The dial was started.',
              content: json({ type: 'object', properties: { info_hash: INFO_HASH, host: { type: 'string' }, port: { type: 'integer' } }, required: ['info_hash', 'host', 'port'], additionalProperties: false },
                { info_hash: HASH, host: '192.0.2.7', port: 6881 }),
            },
            400: errorResponse('Not an IP address, or not a port.', err('invalid_param', 'host must be an IPv4 or IPv6 address', 'host')),
            404: E404_TORRENT,
            415: errorResponse('The body is not JSON.', err('unsupported_media_type', 'send the body as application/json, not text/plain')),
          },
        },
      },
      '/torrent/{hash}/trackers': {
        get: {
          operationId: 'getTorrentTrackers', summary: "A torrent's trackers", tags: ['torrent'], parameters: [HASH_PARAM],
          responses: { 200: { description: 'The trackers.', content: json({ type: 'array', items: ref('TrackerInfo') }, TRACKERS_EXAMPLE) }, 400: E400_HASH, 404: E404_TORRENT },
        },
      },
      '/events': {
        get: {
          operationId: 'events', summary: 'Server-Sent Events', tags: ['events'],
          parameters: [{
            name: 'changes', in: 'query', required: false,
            description: '`1`: the first stats event lists every torrent, each later one (marked `changes: true`) only the torrents whose summary changed since the previous one; a removed torrent comes as a torrent_removed event',
            schema: { type: 'string', enum: ['1'] },
          }, {
            name: 'fields', in: 'query', required: false,
            description: 'comma-separated names among the StatsTorrent fields: each torrent in the stats events then holds just those (and info_hash), e.g. only what a list shows',
            schema: { type: 'string' },
          }],
          description: 'Every engine event as `event: <name>` / `data: <json>` (torrent_added, torrent_removed, state_changed, '
            + 'metadata_received, torrent_update (a hybrid added by its v2 hash alone is known by its v1 hash from then on: '
            + '`info_hash` the new, `old_info_hash` the old, both still name it), piece_finished, hash_failed, torrent_finished, torrent_paused, torrent_resumed, torrent_checked, '
            + 'torrent_error, torrent_labels_changed (a torrent\'s category, tags or share limits changed: `changed` names which), '
            + 'peer_connected, peer_disconnected, peer_banned, dht_error, lsd_error, url_seed), a `stats` event (schema StatsEvent) on connect and '
            + 'then periodically, and `: heartbeat` comments.',
          responses: {
            200: {
              description: 'An endless event stream.',
              content: { 'text/event-stream': { schema: { type: 'string' }, example: `event: stats\ndata: ${JSON.stringify({ session: { 'net.recv_bytes': 0 }, torrents: [] })}\n\nevent: torrent_added\ndata: {"info_hash":"${HASH}","name":"tmprandomfile"}\n\n` } },
            },
            400: errorResponse('A name in `fields` that the stats event\'s torrents do not have.', err('bad_request', 'fields: "pieces" is not a field of the stats event\'s torrents', 'fields')),
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics', summary: 'Prometheus metrics', tags: ['session'],
          description: 'Every session counter as `libtorrent_<name with dots as underscores>`, typed counter or gauge.',
          responses: { 200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' }, example: metricsExample() } } } },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi', summary: 'This document', tags: ['meta'],
          responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object', required: ['openapi', 'paths'] } } } } },
        },
      },
      ...STREAM_PATHS,
      ...WEB_UI_PATHS,
    },
    components: {
      schemas: {
        Error: ERROR_BODY,
        InfoHash: { type: 'object', properties: { info_hash: INFO_HASH }, required: ['info_hash'], additionalProperties: false },
        ErrorCode: ERROR_CODE_JSON,
        TorrentStatus: TORRENT_STATUS,
        PartialStatus: {
          type: 'object', required: ['info_hash'], additionalProperties: false,
          properties: TORRENT_STATUS.properties!,
        },
        FileInfo: FILE_INFO,
        PeerInfo: PEER_INFO,
        TrackerInfo: TRACKER_INFO,
        AddArgs: ADD_ARGS,
        TorrentUpdate: TORRENT_UPDATE,
        Settings: settingsSchema(true),
        Category: { type: 'object', properties: { name: { type: 'string' }, save_path: { type: 'string' } }, required: ['name', 'save_path'], additionalProperties: false },
        RenameBody: { type: 'object', properties: { index: { type: 'integer', minimum: 0 }, name: { type: 'string' } }, required: ['index', 'name'], additionalProperties: false },
        MoveBody: { type: 'object', properties: { save_path: { type: 'string' } }, required: ['save_path'], additionalProperties: false },
        CategoryBody: { type: 'object', properties: { save_path: { type: 'string', description: '"" for the session\'s save_path' } }, additionalProperties: false },
        SettingsPatch: settingsSchema(false),
        SessionStats: stats,
        StatsEvent: {
          type: 'object', required: ['session', 'torrents'], additionalProperties: false,
          properties: {
            session: stats, torrents: { type: 'array', items: statsTorrent },
            changes: { const: true, description: 'present on a `?changes=1` stream after its first stats event: `torrents` lists only the torrents whose summary changed since the previous one' },
          },
          examples: [statsEvent],
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Required when the daemon is started with a token.' },
      },
    },
  };
}

let cached: string | null = null;

/** The document (built once; it depends only on the engine's tables). */
export function openApiDocument(): OpenApiDocument {
  return JSON.parse(openApiJson()) as OpenApiDocument;
}

function openApiJson(): string {
  cached ??= JSON.stringify(build());
  return cached;
}

export const openApiHandler: RequestHandler = (_req, res) => {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.send(openApiJson());
};
