import { SpritzleError } from '../errors.js';

/** Per-torrent settings that can change while it runs (PATCH /torrent/<hash>, TorrentHandle.update). */
export interface TorrentUpdate {
  sequential_download?: boolean;
  file_priorities?: number[];
  upload_limit?: number;
  download_limit?: number;
  max_uploads?: number;
  max_connections?: number;
}

/**
 * The one statement of what an update may hold, as JSON Schema (the REST layer's OpenAPI document uses it
 * as is); validateTorrentUpdate enforces exactly this.
 */
export const TORRENT_UPDATE_RULES = {
  sequential_download: { type: 'boolean' },
  file_priorities: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 7 } },
  upload_limit: { type: 'integer', minimum: -1 },
  download_limit: { type: 'integer', minimum: -1 },
  max_uploads: { type: 'integer', minimum: -1 },
  max_connections: { type: 'integer', minimum: -1 },
} as const;

type Rule = (typeof TORRENT_UPDATE_RULES)[keyof TorrentUpdate];
const KEYS = Object.keys(TORRENT_UPDATE_RULES) as (keyof TorrentUpdate)[];

const bad = (field: string, message: string): SpritzleError => new SpritzleError('invalid_param', message, { field });

function isInt(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

function check(key: keyof TorrentUpdate, rule: Rule, v: unknown): void {
  if (rule.type === 'boolean') {
    if (typeof v !== 'boolean') throw bad(key, `${key} must be true or false`);
  } else if (rule.type === 'array') {
    const { minimum, maximum } = rule.items;
    if (!Array.isArray(v) || !v.every((p) => isInt(p, minimum, maximum))) throw bad(key, `${key} must be a list of integers ${minimum}..${maximum}`);
  } else if (!isInt(v, rule.minimum)) {
    throw bad(key, `${key} must be an integer, -1 for unlimited`);
  }
}

/** Checks a whole update before anything changes (so a bad key changes nothing); invalid_param naming the field. */
export function validateTorrentUpdate(raw: unknown): TorrentUpdate {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('body', 'the update must be a JSON object');
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (!(KEYS as string[]).includes(key)) {
      throw bad(key.slice(0, 64), `"${key.slice(0, 64)}" cannot be changed here (${KEYS.join(', ')})`);
    }
    check(key as keyof TorrentUpdate, TORRENT_UPDATE_RULES[key as keyof TorrentUpdate], v);
    out[key] = v;
  }
  return out as TorrentUpdate;
}
