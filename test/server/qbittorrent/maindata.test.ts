// sync/maindata's deltas, without a server: a client that applies every answer to what it holds ends up
// with the state now, whatever changed in between and whichever kept rid it polls from.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { KEPT_STATES, MainData, type MainState, type Row } from '../../../packages/server/src/qbittorrent/maindata.js';

type Held = { torrents: Record<string, Record<string, unknown>>; categories: Record<string, unknown>; tags: string[]; server: Record<string, unknown> };

/** What a qBittorrent client does with an answer (as the web UI's sync code). */
function apply(held: Held | null, a: Record<string, unknown>): Held {
  if (a.full_update === true) {
    return {
      torrents: structuredClone(a.torrents as Held['torrents']), categories: structuredClone(a.categories as Held['categories']),
      tags: [...(a.tags as string[])], server: { ...(a.server_state as Held['server']) },
    };
  }
  const h = structuredClone(held!);
  for (const [hash, diff] of Object.entries((a.torrents ?? {}) as Held['torrents'])) h.torrents[hash] = { ...h.torrents[hash], ...diff };
  for (const hash of (a.torrents_removed ?? []) as string[]) delete h.torrents[hash];
  Object.assign(h.categories, a.categories ?? {});
  for (const c of (a.categories_removed ?? []) as string[]) delete h.categories[c];
  // Tags are a set: the order a client keeps them in is its own.
  h.tags = [...h.tags.filter((t) => !((a.tags_removed ?? []) as string[]).includes(t)), ...((a.tags ?? []) as string[])].sort();
  Object.assign(h.server, a.server_state ?? {});
  return h;
}

function expected(s: MainState): Held {
  return {
    torrents: Object.fromEntries([...s.torrents].map(([k, v]) => [k, { ...v }])),
    categories: Object.fromEntries([...s.categories].map(([name, savePath]) => [name, { name, savePath }])),
    tags: [...s.tags], server: { ...s.server },
  };
}

const rowArb = fc.record({ state: fc.constantFrom('downloading', 'pausedDL', 'uploading'), progress: fc.constantFrom(0, 0.5, 1), dlspeed: fc.nat(5) });
const stateArb: fc.Arbitrary<MainState> = fc.record({
  torrents: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), rowArb).map((d) => new Map(Object.entries(d) as [string, Row][])),
  categories: fc.dictionary(fc.constantFrom('tv', 'movies'), fc.constantFrom('', 'x')).map((d) => new Map(Object.entries(d))),
  tags: fc.uniqueArray(fc.constantFrom('t1', 't2', 't3')).map((t) => t.sort()),
  server: fc.record({ dl_info_speed: fc.nat(3), connection_status: fc.constant('connected') }),
});

describe('MainData', () => {
  it('rid 0 is a full update; a kept rid gets only what changed', () => {
    const md = new MainData();
    const s1: MainState = { torrents: new Map([['a', { state: 'downloading', progress: 0.5, name: 'A' }]]), categories: new Map(), tags: [], server: { dl_info_speed: 1 } };
    const full = md.answer(0, s1);
    expect(full).toMatchObject({ rid: 1, full_update: true, torrents: { a: { name: 'A' } } });
    const s2: MainState = { ...s1, torrents: new Map([['a', { state: 'downloading', progress: 0.75, name: 'A' }]]) };
    expect(md.answer(1, s2)).toEqual({ rid: 2, torrents: { a: { progress: 0.75 } } });
    expect(md.answer(2, s2)).toEqual({ rid: 3 });
  });

  it('a removed torrent is listed in torrents_removed; a new one comes whole', () => {
    const md = new MainData();
    const base = { categories: new Map<string, string>(), tags: [], server: {} };
    md.answer(0, { ...base, torrents: new Map([['a', { name: 'A' }]]) });
    expect(md.answer(1, { ...base, torrents: new Map([['b', { name: 'B' }]]) })).toEqual({ rid: 2, torrents: { b: { name: 'B' } }, torrents_removed: ['a'] });
  });

  it(`a rid older than the last ${KEPT_STATES} answers (or never given) gets a full update`, () => {
    const md = new MainData();
    const s: MainState = { torrents: new Map(), categories: new Map(), tags: [], server: {} };
    for (let i = 0; i < KEPT_STATES + 1; i++) md.answer(i, s);
    expect(md.answer(1, s).full_update).toBe(true);
    expect(md.answer(999, s).full_update).toBe(true);
  });

  it('applying the answers reproduces the state now, for any sequence of states and polls (property)', () => {
    const seed = 15_2026;
    fc.assert(fc.property(fc.array(fc.tuple(stateArb, fc.nat(3)), { minLength: 1, maxLength: 12 }), (steps) => {
      const md = new MainData(4);
      // Two clients: one polls every answer, one skips some (polls from an older kept rid).
      let held: Held | null = null;
      let rid = 0;
      const history: { rid: number; held: Held }[] = [];
      for (const [state, back] of steps) {
        const from = history.length > back ? history[history.length - 1 - back]! : { rid: 0, held: null as Held | null };
        const a = md.answer(back === 0 ? rid : from.rid, state);
        held = apply(back === 0 ? held : from.held, a);
        rid = a.rid as number;
        history.push({ rid, held });
        expect(held).toEqual(expected(state));
      }
    }), { seed, numRuns: 300 });
  });

  it('told only of the torrents that changed, it answers as it would given every torrent (property)', () => {
    const seed = 15_2027;
    fc.assert(fc.property(fc.array(fc.tuple(stateArb, fc.nat(3)), { minLength: 1, maxLength: 12 }), (steps) => {
      const whole = new MainData(4);
      const told = new MainData(4);
      let shown = new Map<string, Row>();
      const rids: number[] = [0];
      for (const [state, back] of steps) {
        // The incremental one hears of the torrents that differ from the last state, and only of those.
        for (const h of new Set([...shown.keys(), ...state.torrents.keys()])) {
          if (shown.get(h) !== state.torrents.get(h)) told.setTorrent(h, state.torrents.get(h));
        }
        shown = new Map(state.torrents);
        const rid = rids[Math.max(0, rids.length - 1 - back)]!;
        const a = whole.answer(rid, state);
        // torrents_removed is a set: its order is the order the removals were heard in.
        const sorted = (x: Record<string, unknown>) => ({ ...x, ...(x.torrents_removed ? { torrents_removed: [...(x.torrents_removed as string[])].sort() } : {}) });
        expect(sorted(told.reply(rid, state))).toEqual(sorted(a));
        rids.push(a.rid as number);
      }
    }), { seed, numRuns: 300 });
  });
});
