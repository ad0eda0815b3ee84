import { SpritzleError } from '../errors.js';

/**
 * A torrent's category and tags (qBittorrent's, over libtorrent): the names' rules. The torrent carries both
 * and saves them with its resume data; the session keeps the categories' save paths (session/categories.ts).
 */
// C0 controls, DEL and C1 controls: they would reach logs and terminals as they are.
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** A category name: qBittorrent's rule (no empty name, no leading/trailing "/", no "//"), no control characters. */
export function validateCategoryName(name: unknown, field = 'category'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || CONTROL_CHARS.test(name) || name.includes('\\') ||
      name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    throw new SpritzleError('invalid_param', `${field}: a category is 1 to 255 characters, without control characters, "\\", "//" or a "/" at either end`, { field });
  }
  return name;
}

/** A tag: no comma (qBittorrent's separator), not blank, no control characters. */
export function validateTag(tag: unknown, field = 'tags'): string {
  if (typeof tag !== 'string' || tag.trim().length === 0 || tag.length > 255 || tag.includes(',') || CONTROL_CHARS.test(tag)) {
    throw new SpritzleError('invalid_param', `${field}: a tag is 1 to 255 characters, not blank, without commas or control characters`, { field });
  }
  return tag;
}

/** A list of tags, checked, duplicates dropped, sorted. */
export function validateTags(tags: unknown, field = 'tags'): string[] {
  if (!Array.isArray(tags)) throw new SpritzleError('invalid_param', `${field} must be a list of tags`, { field });
  return [...new Set(tags.map((t, i) => validateTag(t, `${field}[${i}]`)))].sort();
}
