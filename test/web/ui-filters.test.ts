import { it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildCli, cleanup } from '../helpers/cli.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { makeTorrent, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { axeViolations, buildWebUi, describeBrowser, launchBrowser, watchConsole } from './browser.js';

// The category and tag filters beside the state filter, in a real browser against a real daemon: the
// labels come over the event stream with the rows, and a label set while the page is open shows live.

let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[] = [];

beforeAll(async () => {
  buildCli();
  buildWebUi();
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await cleanup();
});
afterEach(async () => {
  await context?.close();
  expect(errors).toEqual([]);
});

const row = (hash: string): string => `[role="row"][data-hash="${hash}"]`;

describeBrowser('the category and tag filters', () => {
  let d: Daemon;
  const ts: TestTorrent[] = [];

  async function patch(hash: string, body: Record<string, unknown>): Promise<void> {
    const r = await fetch(`${d.url}/torrent/${hash}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(200);
  }

  /** Exactly these torrents are rows of the table. */
  async function shown(expected: TestTorrent[]): Promise<void> {
    for (const t of ts) await page.locator(row(t.infoHash)).waitFor({ state: expected.includes(t) ? 'attached' : 'detached' });
  }

  beforeAll(async () => {
    d = await startDaemon(await tmpDir('web-filters-state'), await tmpDir('web-filters-dl'));
    const src = await tmpDir('web-filters-src');
    for (let i = 0; i < 3; i++) {
      const t = await makeTorrent({ dir: src, name: `labelled${i}`, files: 40_000, seed: 60 + i });
      const form = new FormData();
      form.set('file', new Blob([new Uint8Array(t.torrentBytes)]), `${t.name}.torrent`);
      form.set('args', JSON.stringify({ paused: true }));
      expect((await fetch(`${d.url}/torrent`, { method: 'POST', body: form })).status).toBe(201);
      ts.push(t);
    }
    await patch(ts[0]!.infoHash, { category: 'tv', tags: ['hd'] });
    await patch(ts[1]!.infoHash, { category: 'movies', tags: ['hd', 'new'] });
  }, 60_000);
  afterAll(async () => { await d?.stop(); }, 30_000);

  async function open(): Promise<void> {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    errors = [];
    watchConsole(page, errors);
    await page.goto(d.url);
    await shown(ts);
  }

  it('filters by category: one category, then torrents in none', async () => {
    await open();
    const category = page.getByRole('combobox', { name: 'Category' });
    await category.selectOption({ label: 'tv' });
    await shown([ts[0]!]);
    await category.selectOption({ label: 'no category' });
    await shown([ts[2]!]);
    await category.selectOption({ label: 'all categories' });
    await shown(ts);
  });

  it('filters by tag, and together with the category', async () => {
    await open();
    const tag = page.getByRole('combobox', { name: 'Tag' });
    await tag.selectOption({ label: 'hd' });
    await shown([ts[0]!, ts[1]!]);
    await page.getByRole('combobox', { name: 'Category' }).selectOption({ label: 'movies' });
    await shown([ts[1]!]);
    await tag.selectOption({ label: 'no tag' });
    await shown([]);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('a category given while the page is open is offered and filtered on, live', async () => {
    await open();
    await patch(ts[2]!.infoHash, { category: 'music' });
    const category = page.getByRole('combobox', { name: 'Category' });
    await category.locator('option', { hasText: 'music' }).waitFor({ state: 'attached' });
    await category.selectOption({ label: 'music' });
    await shown([ts[2]!]);
  });
});
