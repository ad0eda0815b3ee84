import { SpritzleError } from '../errors.js';
import { validateCategoryName, validateTags } from './labels.js';
import { validateShareLimits, type TorrentShareLimits } from './share-limits.js';

/** Per-torrent settings that can change while it runs (PATCH /torrent/<hash>, TorrentHandle.update). */
export interface TorrentUpdate {
  sequential_download?: boolean;
  file_priorities?: number[];
  upload_limit?: number;
  download_limit?: number;
  max_uploads?: number;
  max_connections?: number;
  /** Some of its share limits or their action (see TorrentHandle.setShareLimits). */
  share_limits?: Partial<TorrentShareLimits>;
  /** Its category, "" for none. */
  category?: string;
  /** Its tags, replacing the ones it has. */
  tags?: string[];
  /** Each wanted file's first and last piece first (qBittorrent's first/last piece priority). */
  first_last_piece_priority?: boolean;
  /** Subject to the queue (libtorrent's auto_managed flag); false with a resume is a force-start. */
  auto_managed?: boolean;
  /** Its place in the download queue (0 at the top; clamped to the queue). */
  queue_position?: number;
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
  share_limits: {
    type: 'object', additionalProperties: false,
    description: 'any of its share limits (-1 none, -2 the session\'s) and the action when one is reached',
    properties: {
      ratio_limit: { type: 'number', minimum: -2 },
      seeding_time_limit: { type: 'integer', minimum: -2, description: 'seconds' },
      inactive_seeding_time_limit: { type: 'integer', minimum: -2, description: 'seconds' },
      action: { type: 'string', enum: ['pause', 'remove', 'remove_with_files'] },
    },
  },
  category: { type: 'string', description: '"" for none' },
  tags: { type: 'array', items: { type: 'string' }, description: 'replaces its tags' },
  first_last_piece_priority: { type: 'boolean' },
  auto_managed: { type: 'boolean', description: 'subject to the queue (active_downloads, active_seeds, active_limit); false and resumed is a force-start' },
  queue_position: { type: 'integer', minimum: 0, description: 'its place in the download queue, 0 at the top' },
} as const;

type Rule = (typeof TORRENT_UPDATE_RULES)[keyof TorrentUpdate];
const KEYS = Object.keys(TORRENT_UPDATE_RULES) as (keyof TorrentUpdate)[];

const bad = (field: string, message: string): SpritzleError => new SpritzleError('invalid_param', message, { field });

function isInt(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** The labels' and limits' own validators (labels.ts, share-limits.ts): they also normalize (tags sorted). */
const CUSTOM: Partial<Record<keyof TorrentUpdate, (v: unknown) => unknown>> = {
  share_limits: (v) => validateShareLimits(v),
  category: (v) => (v === '' ? '' : validateCategoryName(v)),
  tags: (v) => validateTags(v),
};

function check(key: keyof TorrentUpdate, rule: Rule, v: unknown): void {
  if (rule.type === 'object' || rule.type === 'string') return; // CUSTOM checks these
  if (rule.type === 'boolean') {
    if (typeof v !== 'boolean') throw bad(key, `${key} must be true or false`);
  } else if (rule.type === 'array') {
    const items = rule.items;
    if (items.type !== 'integer') return; // tags: CUSTOM checks them
    const { minimum, maximum } = items;
    if (!Array.isArray(v) || !v.every((p) => isInt(p, minimum, maximum))) throw bad(key, `${key} must be a list of integers ${minimum}..${maximum}`);
  } else if (!isInt(v, rule.minimum)) {
    throw bad(key, rule.minimum < 0 ? `${key} must be an integer, -1 for unlimited` : `${key} must be an integer ≥ ${rule.minimum}`);
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
    const custom = CUSTOM[key as keyof TorrentUpdate];
    out[key] = custom ? custom(v) : v;
  }
  return out as TorrentUpdate;
}
