/**
 * `sync/maindata`'s deltas. Each answer gets a new rid and what it showed is kept under it; a request naming a
 * kept rid gets only what changed since (changed fields of changed torrents, torrents_removed, categories and
 * tags added or removed, changed server_state fields); an unknown rid (0, a forgotten one, a restarted
 * daemon's) gets `full_update`. Several clients poll at once, so the last few answers are kept, not one.
 *
 * The torrents are followed by change, not by listing: `setTorrent` is told of each torrent that may have
 * changed, and each kept answer records the rows, as it showed them, of the torrents that changed after it.
 * A delta then costs what changed since its rid, not the number of torrents.
 */
export type Row = Readonly<Record<string, string | number | boolean>>;

export interface MainState {
  torrents: ReadonlyMap<string, Row>;
  categories: ReadonlyMap<string, string>;
  tags: readonly string[];
  server: Row;
}

/** Everything but the torrents, which MainData holds itself. */
export type MainRest = Omit<MainState, 'torrents'>;

interface Kept {
  /** The rows as this answer showed them (undefined: not there) of the torrents changed after it. */
  before: Map<string, Row | undefined>;
  categories: ReadonlyMap<string, string>;
  tags: readonly string[];
  server: Row;
}

/** States kept: enough for a handful of clients polling each other's rids out of the way. */
export const KEPT_STATES = 16;

function changedFields(prev: Row, next: Row): Record<string, string | number | boolean> | null {
  let out: Record<string, string | number | boolean> | null = null;
  for (const k in next) {
    if (prev[k] !== next[k]) (out ??= {})[k] = next[k]!;
  }
  return out;
}

function sameRow(prev: Row, next: Row): boolean {
  for (const k in next) if (prev[k] !== next[k]) return false;
  return true;
}

function categoryObject(name: string, savePath: string): { name: string; savePath: string } {
  return { name, savePath };
}

export class MainData {
  private lastRid = 0;
  private readonly kept = new Map<number, Kept>();
  private readonly torrents = new Map<string, Row>();

  constructor(private readonly keep = KEPT_STATES) {}

  /** A torrent's row as the next answer shows it. */
  torrent(hash: string): Row | undefined {
    return this.torrents.get(hash);
  }

  /** A torrent's row now (undefined: it is gone). Unchanged rows cost a comparison and nothing else. */
  setTorrent(hash: string, row: Row | undefined): void {
    const old = this.torrents.get(hash);
    if (row === undefined ? old === undefined : old !== undefined && (old === row || sameRow(old, row))) return;
    for (const k of this.kept.values()) if (!k.before.has(hash)) k.before.set(hash, old);
    if (row === undefined) this.torrents.delete(hash);
    else this.torrents.set(hash, row);
  }

  /** Replaces every torrent's row (costs the number of torrents: for a first fill). */
  setAllTorrents(torrents: ReadonlyMap<string, Row>): void {
    for (const hash of [...this.torrents.keys()]) if (!torrents.has(hash)) this.setTorrent(hash, undefined);
    for (const [hash, row] of torrents) this.setTorrent(hash, row);
  }

  /** The answer to `sync/maindata?rid=<rid>` for the whole state now. */
  answer(rid: number, now: MainState): Record<string, unknown> {
    this.setAllTorrents(now.torrents);
    return this.reply(rid, now);
  }

  /** The answer to `sync/maindata?rid=<rid>`, the torrents being those given to setTorrent. */
  reply(rid: number, now: MainRest): Record<string, unknown> {
    const prev = this.kept.get(rid);
    const state: Kept = { before: new Map(), categories: new Map(now.categories), tags: [...now.tags], server: now.server };
    const newRid = ++this.lastRid;
    this.kept.set(newRid, state);
    if (this.kept.size > this.keep) this.kept.delete(this.kept.keys().next().value!);

    if (prev === undefined) return this.full(newRid, state);

    const out: Record<string, unknown> = { rid: newRid };
    let changed: Record<string, unknown> | undefined;
    let removed: string[] | undefined;
    for (const [hash, old] of prev.before) {
      const row = this.torrents.get(hash);
      if (row === undefined) {
        if (old !== undefined) (removed ??= []).push(hash);
        continue;
      }
      const diff = old === undefined ? row : changedFields(old, row);
      if (diff !== null) (changed ??= {})[hash] = diff;
    }
    if (changed !== undefined) out.torrents = changed;
    if (removed !== undefined) out.torrents_removed = removed;

    const cats: Record<string, unknown> = {};
    let anyCat = false;
    for (const [name, savePath] of state.categories) {
      if (prev.categories.get(name) !== savePath) {
        cats[name] = categoryObject(name, savePath);
        anyCat = true;
      }
    }
    if (anyCat) out.categories = cats;
    const catsRemoved = [...prev.categories.keys()].filter((c) => !state.categories.has(c));
    if (catsRemoved.length > 0) out.categories_removed = catsRemoved;

    const prevTags = new Set(prev.tags);
    const nowTags = new Set(state.tags);
    const tagsAdded = state.tags.filter((t) => !prevTags.has(t));
    if (tagsAdded.length > 0) out.tags = tagsAdded;
    const tagsRemoved = prev.tags.filter((t) => !nowTags.has(t));
    if (tagsRemoved.length > 0) out.tags_removed = tagsRemoved;

    const server = changedFields(prev.server, state.server);
    if (server !== null) out.server_state = server;
    return out;
  }

  private full(rid: number, s: Kept): Record<string, unknown> {
    const categories: Record<string, unknown> = {};
    for (const [name, savePath] of s.categories) categories[name] = categoryObject(name, savePath);
    return {
      rid,
      full_update: true,
      torrents: Object.fromEntries(this.torrents),
      categories,
      tags: s.tags,
      server_state: s.server,
    };
  }
}
