import {
  Counters, DEFAULT_SETTINGS, STATE_VALUES, TORRENT_UPDATE_RULES,
  type FileInfo, type PeerInfo, type TorrentStatus, type TrackerInfo, type SessionSettings,
} from '@spritzle/engine';

/** The subset of JSON Schema (2020-12, as OpenAPI 3.1 uses it) this API's documents are written in. */
export interface JsonSchema {
  type?: JsonType | readonly JsonType[];
  description?: string;
  format?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly (string | number | boolean | null)[];
  const?: string | number | boolean | null;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  oneOf?: readonly JsonSchema[];
  anyOf?: readonly JsonSchema[];
  $ref?: string;
  contentMediaType?: string;
  contentEncoding?: string;
  examples?: readonly unknown[];
}
/** JSON Schema's type names. */
export type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

const B: JsonSchema = { type: 'boolean' };
const I: JsonSchema = { type: 'integer' };
const N: JsonSchema = { type: 'number' };
const S: JsonSchema = { type: 'string' };
const D: JsonSchema = { type: 'string', pattern: '^-?[0-9]+\\.[0-9]+$', description: 'seconds, as libtorrent\'s Python timedelta was rendered: "<seconds>.0"' };
const HASH_PATTERN = '^[0-9a-f]{40}$';
/**
 * An info-hash as clients may write it, either case (answers use lower case): 40 hex digits (v1, or a v2
 * hash truncated, as libtorrent's info_hashes.get_best()) or 64 (a full v2 hash).
 */
export const INFO_HASH_RE = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;
export const INFO_HASH: JsonSchema = { type: 'string', pattern: HASH_PATTERN, description: 'v1 info-hash, 40 lower-case hex digits' };

function obj(props: Readonly<Record<string, JsonSchema>>, opts: { required?: boolean; additional?: boolean } = {}): JsonSchema {
  return {
    type: 'object',
    properties: props,
    ...(opts.required === false ? {} : { required: Object.keys(props) }),
    additionalProperties: opts.additional ?? false,
  };
}

export const ERROR_CODE_JSON: JsonSchema = obj({
  value: I,
  message: S,
  category: obj({ name: S, message: S }),
});

const LIMIT: JsonSchema = { type: 'number', minimum: -2 };
/** A torrent's share limits (PATCH /torrent/<hash> takes any of them; the status shows them all). */
export const SHARE_LIMITS: JsonSchema = obj({
  ratio_limit: { ...LIMIT, description: 'uploaded / the larger of downloaded and the size; -1 none, -2 the session\'s' },
  seeding_time_limit: { type: 'integer', minimum: -2, description: 'seconds of seeding; -1 none, -2 the session\'s' },
  inactive_seeding_time_limit: { type: 'integer', minimum: -2, description: 'seconds of seeding without uploading; -1 none, -2 the session\'s' },
  action: { type: 'string', enum: ['pause', 'remove', 'remove_with_files'] },
});

/**
 * One schema per status key. Typed as a Record over keyof TorrentStatus, so a field the engine adds or
 * drops is a compile error here, and the list of `?fields=` names below cannot drift from the real object.
 */
const STATUS_PROPERTIES: Readonly<Record<keyof TorrentStatus, JsonSchema>> = {
  info_hash: INFO_HASH,
  info_hashes: obj({ v1: S, v2: S }),
  name: S,
  save_path: S,
  state: { type: 'string', enum: Object.keys(STATE_VALUES) },
  errc: ERROR_CODE_JSON,
  error: S,
  error_file: I,
  has_metadata: B, is_loaded: B, is_finished: B, is_seeding: B, paused: B, auto_managed: B,
  sequential_download: B, seed_mode: B, upload_mode: B, share_mode: B, super_seeding: B, stop_when_ready: B,
  ip_filter_applies: B, moving_storage: B, need_save_resume: B,
  flags: { type: 'integer', minimum: 0, description: 'libtorrent 2.0 torrent_flags_t bitmask' },
  progress: { type: 'number', minimum: 0, maximum: 1 },
  progress_ppm: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  pieces: { type: 'array', items: B },
  verified_pieces: { type: 'array', items: B },
  num_pieces: I, block_size: I,
  total: I, total_done: I, total_wanted: I, total_wanted_done: I, total_download: I, total_upload: I,
  total_payload_download: I, total_payload_upload: I, total_failed_bytes: I, total_redundant_bytes: I,
  all_time_download: I, all_time_upload: I,
  download_rate: I, upload_rate: I, download_payload_rate: I, upload_payload_rate: I,
  num_peers: I, num_seeds: I, num_connections: I, num_uploads: I, list_peers: I, list_seeds: I,
  connect_candidates: I, num_complete: I, num_incomplete: I, connections_limit: I, uploads_limit: I,
  distributed_copies: N, distributed_full_copies: I, distributed_fraction: I,
  down_bandwidth_queue: I, up_bandwidth_queue: I,
  has_incoming: B,
  current_tracker: S,
  next_announce: D, announce_interval: D,
  announcing_to_trackers: B, announcing_to_lsd: B, announcing_to_dht: B,
  last_scrape: I, last_seen_complete: I, added_time: I, completed_time: I,
  active_time: I, finished_time: I, seeding_time: I,
  active_duration: D, finished_duration: D, seeding_duration: D,
  time_since_download: I, time_since_upload: I,
  last_download: { type: ['integer', 'null'] }, last_upload: { type: ['integer', 'null'] },
  queue_position: I, priority: I, seed_rank: I, storage_mode: I,
  eta: { type: 'integer', minimum: -1, description: 'spritzle\'s own field, not libtorrent\'s: seconds until the wanted data is complete at the current download_payload_rate; 0 once finished, -1 when unknown (nothing flowing, no metadata yet)' },
  ratio: { type: 'number', minimum: 0, description: 'spritzle\'s own field, not libtorrent\'s: share ratio, all_time_upload divided by the larger of all_time_download and total_done (3 decimals); 0 when both are 0' },
  category: { type: 'string', description: 'spritzle\'s own field (qBittorrent\'s): the torrent\'s category, "" for none' },
  tags: { type: 'array', items: S, description: 'spritzle\'s own field (qBittorrent\'s): the torrent\'s tags, sorted' },
  first_last_piece_priority: { type: 'boolean', description: 'spritzle\'s own field (qBittorrent\'s): each wanted file\'s first and last piece come first' },
  share_limits: { ...SHARE_LIMITS, description: 'spritzle\'s own field: the share limits of a seeding torrent and what happens when one is reached (pause, remove, remove_with_files); -1 no limit, -2 the session\'s (none yet)' },
};

/** Every key of a torrent's status: the names `?fields=` accepts. */
export const STATUS_FIELDS: ReadonlySet<string> = new Set(Object.keys(STATUS_PROPERTIES));

export const TORRENT_STATUS: JsonSchema = obj(STATUS_PROPERTIES);

const FILE_PROPERTIES: Readonly<Record<keyof FileInfo, JsonSchema>> = {
  index: I, path: S, size: I, offset: I,
  progress: { type: 'number', minimum: 0, maximum: 1 },
  bytes_done: I,
  priority: { type: 'integer', minimum: 0, maximum: 7 },
  pad: B,
};
export const FILE_INFO: JsonSchema = obj(FILE_PROPERTIES);

const PEER_PROPERTIES: Readonly<Record<keyof PeerInfo, JsonSchema>> = {
  ip: S, port: { type: 'integer', minimum: 0, maximum: 65535 }, client: S, peer_id: S,
  direction: { type: 'string', enum: ['incoming', 'outgoing'] },
  transport: { type: 'string', enum: ['tcp', 'utp'] },
  flags: { type: 'string', description: 'i/I interest, c/C choke, s snubbed, o optimistic, S seed, E/e encrypted (RC4/plaintext payload)' },
  rc4_encrypted: { type: 'boolean', description: 'MSE/PE connection with an RC4 payload' },
  plaintext_encrypted: { type: 'boolean', description: 'MSE/PE handshake, plaintext payload' },
  progress: { type: 'number', minimum: 0, maximum: 1 },
  down_speed: I, up_speed: I, total_download: I, total_upload: I, num_pieces: I, queue: I,
};
export const PEER_INFO: JsonSchema = obj(PEER_PROPERTIES);

const TRACKER_PROPERTIES: Readonly<Record<keyof TrackerInfo, JsonSchema>> = {
  url: S, tier: I,
  status: { type: 'string', enum: ['idle', 'announcing', 'working', 'error'] },
  message: S, num_peers: I,
  last_announce: { type: 'integer', description: 'Unix seconds of the last announce\'s answer or failure; -1 before any' },
  next_announce: { type: 'integer', description: 'Unix seconds when the next announce is due; -1 when none is scheduled' },
};
export const TRACKER_INFO: JsonSchema = obj(TRACKER_PROPERTIES);

/** The settings object, from the engine's own defaults: each setting's type is its default's. */
export function settingsSchema(required: boolean): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(DEFAULT_SETTINGS) as [keyof SessionSettings, unknown][]) {
    props[k] = typeof v === 'boolean' ? B : typeof v === 'number' ? N : S;
  }
  return obj(props, { required });
}

/** GET /session: every counter name, integer values. */
export function sessionStatsSchema(): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  for (const { name } of Counters.names()) props[name] = I;
  return obj(props);
}

export const ERROR_BODY: JsonSchema = obj({
  error: {
    type: 'object',
    properties: {
      code: { type: 'string', description: 'stable, machine-readable: the engine\'s error codes and the server\'s' },
      message: S,
      field: { type: 'string', description: 'the offending input, when there is one' },
    },
    required: ['code', 'message'],
    additionalProperties: false,
  },
});

/** The add_torrent_params accepted in `args`, by libtorrent's names. */
export const ADD_ARGS: JsonSchema = obj({
  save_path: { type: 'string', description: 'inside the download root; relative paths are taken inside it' },
  name: S,
  flags: { oneOf: [{ type: 'array', items: S }, { type: 'integer', minimum: 0 }, S], description: 'torrent_flags by name (list or comma-separated) or libtorrent 2.0 bitmask; replaces the defaults' },
  seed_mode: B, upload_mode: B, share_mode: B, apply_ip_filter: B, paused: B, auto_managed: B,
  duplicate_is_error: B, super_seeding: B, sequential_download: B, stop_when_ready: B,
  file_priorities: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 7 } },
  piece_priorities: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 7 } },
  peers: { type: 'array', items: { type: 'string', description: '"ip:port"' } },
  trackers: { type: 'array', items: S },
  tracker_tiers: { type: 'array', items: I },
  dht_nodes: { type: 'array', items: S },
  upload_limit: { type: 'integer', minimum: -1 }, download_limit: { type: 'integer', minimum: -1 },
  max_uploads: { type: 'integer', minimum: -1 }, max_connections: { type: 'integer', minimum: -1 },
  storage_mode: { oneOf: [{ const: 1 }, { const: 'storage_mode_sparse' }] },
  trackerid: S,
  added_time: I, completed_time: I, total_uploaded: I, total_downloaded: I,
}, { required: false });

/** PATCH /torrent/<hash>: what can change on a live torrent. */
/** PATCH /torrent/<hash>: the engine's rules, as they are. */
export const TORRENT_UPDATE: JsonSchema = obj(TORRENT_UPDATE_RULES, { required: false });
