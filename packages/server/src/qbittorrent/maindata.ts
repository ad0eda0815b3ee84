/**
 * `sync/maindata`'s deltas. Each answer gets a new rid and the state it showed is kept under it; a request
 * naming a kept rid gets only what changed since (changed fields of changed torrents, torrents_removed,
 * categories and tags added or removed, changed server_state fields); an unknown rid (0, a forgotten one, a
 * restarted daemon's) gets `full_update`. Several clients poll at once, so the last few states are kept, not
 * one. A row that did not change is the same object in consecutive states: holding them costs little.
 */
export type Row = Readonly<Record<string, string | number | boolean>>;

export interface MainState {
  torrents: ReadonlyMap<string, Row>;
  categories: ReadonlyMap<string, string>;
  tags: readonly string[];
  server: Row;
}

interface Kept {
  torrents: Map<string, Row>;
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

  constructor(private readonly keep = KEPT_STATES) {}

  /** The answer to `sync/maindata?rid=<rid>` for the state now. */
  answer(rid: number, now: MainState): Record<string, unknown> {
    const prev = this.kept.get(rid);
    const newest = this.kept.get(this.lastRid);
    // Reuse the newest state's row objects where nothing changed, so kept states share them.
    const torrents = new Map<string, Row>();
    for (const [hash, row] of now.torrents) {
      const old = newest?.torrents.get(hash);
      torrents.set(hash, old !== undefined && (old === row || sameRow(old, row)) ? old : row);
    }
    const state: Kept = { torrents, categories: new Map(now.categories), tags: [...now.tags], server: now.server };
    const newRid = ++this.lastRid;
    this.kept.set(newRid, state);
    if (this.kept.size > this.keep) this.kept.delete(this.kept.keys().next().value!);

    if (prev === undefined) return this.full(newRid, state);

    const out: Record<string, unknown> = { rid: newRid };
    const changed: Record<string, unknown> = {};
    let anyChanged = false;
    for (const [hash, row] of torrents) {
      const old = prev.torrents.get(hash);
      if (old === row) continue;
      const diff = old === undefined ? row : changedFields(old, row);
      if (diff !== null) {
        changed[hash] = diff;
        anyChanged = true;
      }
    }
    if (anyChanged) out.torrents = changed;
    let removed: string[] | undefined;
    for (const h of prev.torrents.keys()) if (!torrents.has(h)) (removed ??= []).push(h);
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
      torrents: Object.fromEntries(s.torrents),
      categories,
      tags: s.tags,
      server_state: s.server,
    };
  }
}
