import { SpritzleError } from '../errors.js';
import { CONTROL_CHARS, validateCategoryName, validateTag } from '../torrent/labels.js';

/**
 * Categories (each with a save path) and tags, as qBittorrent has them over libtorrent. A torrent carries
 * its category and tags itself (saved with its resume data); the session keeps the list of categories with
 * their save paths and the tags known without a torrent. Pure bookkeeping, no I/O.
 */
export interface Category {
  name: string;
  /** Where a torrent added in this category goes when the add names no save_path; "" for the session's. */
  save_path: string;
}

/** The session's categories and known tags. */
export class CategoryRegistry {
  private readonly categories = new Map<string, string>();
  private readonly tags = new Set<string>();

  list(): Category[] {
    return [...this.categories].map(([name, save_path]) => ({ name, save_path }));
  }

  get(name: string): Category | undefined {
    const save_path = this.categories.get(name);
    return save_path === undefined ? undefined : { name, save_path };
  }

  /** Creates or changes a category. */
  set(name: string, savePath: string): Category {
    validateCategoryName(name);
    if (typeof savePath !== 'string' || savePath.includes('\0') || CONTROL_CHARS.test(savePath)) {
      throw new SpritzleError('invalid_param', 'save_path must be a path', { field: 'save_path' });
    }
    this.categories.set(name, savePath);
    return { name, save_path: savePath };
  }

  /** false when there was none. */
  remove(name: string): boolean {
    return this.categories.delete(name);
  }

  knownTags(): string[] {
    return [...this.tags].sort();
  }

  addTags(tags: readonly string[]): void {
    for (const t of tags) this.tags.add(validateTag(t));
  }

  removeTag(tag: string): boolean {
    return this.tags.delete(tag);
  }
}
