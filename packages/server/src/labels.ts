/**
 * Categories (each with a save path) and tags, as qBittorrent has them; Transmission's labels are the same
 * tags. The engine has neither yet, so the two adapters keep them here, in memory, for the daemon's life:
 * they are NOT saved with the resume data and are gone after a restart (issue 15's engine part moves them
 * into the engine). Pure bookkeeping: no I/O.
 */
export class Labels {
  private readonly categories = new Map<string, string>();
  private readonly tags = new Set<string>();
  private readonly categoryOf = new Map<string, string>();
  private readonly tagsOf = new Map<string, Set<string>>();
  /** Bumped on every change, so a poller can tell "nothing changed" without comparing. */
  version = 0;

  /** qBittorrent's rule: no empty name, no leading/trailing slash, no "//" (categories nest with "/"). */
  static validCategoryName(name: string): boolean {
    return name.length > 0 && name.length <= 255 && !name.startsWith('/') && !name.endsWith('/') && !name.includes('//') && !/[\r\n\\]/.test(name);
  }

  static validTagName(name: string): boolean {
    return name.trim().length > 0 && name.length <= 255 && !name.includes(',');
  }

  categoryList(): ReadonlyMap<string, string> {
    return this.categories;
  }

  hasCategory(name: string): boolean {
    return this.categories.has(name);
  }

  categorySavePath(name: string): string | undefined {
    return this.categories.get(name);
  }

  /** false when it exists already (qBittorrent answers 409). */
  createCategory(name: string, savePath: string): boolean {
    if (this.categories.has(name)) return false;
    this.categories.set(name, savePath);
    this.version++;
    return true;
  }

  /** false when it does not exist. */
  editCategory(name: string, savePath: string): boolean {
    if (!this.categories.has(name)) return false;
    this.categories.set(name, savePath);
    this.version++;
    return true;
  }

  removeCategory(name: string): void {
    if (!this.categories.delete(name)) return;
    for (const [hash, c] of this.categoryOf) if (c === name) this.categoryOf.delete(hash);
    this.version++;
  }

  /** "" clears the torrent's category. The category must exist (checked by the caller). */
  setCategory(hash: string, name: string): void {
    if (name === '') this.categoryOf.delete(hash);
    else this.categoryOf.set(hash, name);
    this.version++;
  }

  category(hash: string): string {
    return this.categoryOf.get(hash) ?? '';
  }

  tagList(): readonly string[] {
    return [...this.tags].sort();
  }

  createTag(name: string): void {
    if (this.tags.has(name)) return;
    this.tags.add(name);
    this.version++;
  }

  deleteTag(name: string): void {
    if (!this.tags.delete(name)) return;
    for (const set of this.tagsOf.values()) set.delete(name);
    this.version++;
  }

  /** Adds tags to a torrent, creating the ones that do not exist (as qBittorrent does). */
  addTags(hash: string, names: readonly string[]): void {
    let set = this.tagsOf.get(hash);
    if (!set) this.tagsOf.set(hash, (set = new Set()));
    for (const n of names) {
      this.tags.add(n);
      set.add(n);
    }
    this.version++;
  }

  /** Removes the given tags from a torrent; no names removes them all. */
  removeTags(hash: string, names: readonly string[]): void {
    const set = this.tagsOf.get(hash);
    if (!set) return;
    if (names.length === 0) set.clear();
    else for (const n of names) set.delete(n);
    this.version++;
  }

  /** Replaces a torrent's tags (Transmission's `labels`). */
  setTags(hash: string, names: readonly string[]): void {
    this.tagsOf.set(hash, new Set());
    this.addTags(hash, names);
  }

  torrentTags(hash: string): readonly string[] {
    const set = this.tagsOf.get(hash);
    return set ? [...set].sort() : [];
  }

  /** The torrent left the session: it keeps no category or tags. */
  forget(hash: string): void {
    if (this.categoryOf.delete(hash) || this.tagsOf.delete(hash)) this.version++;
  }
}
