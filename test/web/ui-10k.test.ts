import { it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';
import type { Browser, Page } from 'playwright-core';
import { startApi, type Api } from '../helpers/server.js';
import { buildWebUi, checkScreen, describeBrowser, launchBrowser, watchConsole } from './browser.js';

// 10,000 torrents in the table: the session is in this process (adding them through the engine takes
// seconds; through a daemon's resume store it would write 20,000 files). Times are printed, not asserted.

const N = 10_000;
/** What the page's live view asks the stream for (packages/web/src/api.ts ROW_FIELDS; that module needs the DOM's types). */
const ROW_FIELDS = ['name', 'state', 'paused', 'progress', 'download_payload_rate', 'upload_payload_rate', 'num_peers', 'num_seeds',
  'total_done', 'total_wanted', 'error', 'added_time', 'all_time_upload', 'all_time_download', 'category', 'tags'];
const name = (i: number): string => `t${String(i).padStart(5, '0')}`;

/** A valid one-byte, one-piece .torrent: the smallest thing the session accepts. */
function tinyTorrent(i: number): Uint8Array {
  return bencode.encode({ info: { name: name(i), length: 1, 'piece length': 16384, pieces: randomBytes(20) } });
}

describeBrowser('the web UI with 10,000 torrents', () => {
  let api: Api;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    buildWebUi();
    api = await startApi();
    const t0 = performance.now();
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) =>
        api.session.addTorrent({ ti: tinyTorrent(i + k), save_path: api.root, paused: true })));
    }
    console.log(`10k: ${N} torrents added in ${Math.round(performance.now() - t0)} ms`);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watchConsole(page, errors);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  }, 60_000);

  it('prints what the stream costs: the first stats event of 10,000 torrents, in full and as the page asks for it', async () => {
    for (const [label, query] of [['in full', ''], ['the page\'s fields', `?changes=1&fields=${ROW_FIELDS.join(',')}`]]) {
      const t0 = performance.now();
      const res = await fetch(`${api.url}/events${query}`);
      const reader = res.body!.getReader();
      let bytes = 0;
      let text = '';
      // The stats event is the first `event:` after the retry line; it ends with a blank line.
      while (!/event: stats\ndata: .*\n\n/s.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      console.log(`10k: first stats event ${label} ${(bytes / 2 ** 20).toFixed(1)} MiB, received in ${Math.round(performance.now() - t0)} ms`);
      expect(text).toContain(name(N - 1));
    }
  });

  it('renders the first rows, sorts, searches and selects them all, rendering only the rows in sight', async () => {
    await page.goto(api.url);
    await page.getByText(`${N} of ${N} torrents`).waitFor({ timeout: 30_000 });
    const firstRender = await page.evaluate('performance.now()') as number;
    console.log(`10k: first render of ${N} torrents ${Math.round(firstRender)} ms after navigation start`);

    const rows = page.locator('[role="row"][data-hash]');
    expect(await rows.count()).toBeLessThan(100);

    // Timed inside the page: from the click to the frame that shows the expected first row.
    const sortMs = (label: string, first: string): Promise<number> => page.evaluate(`new Promise((resolve) => {
      const t0 = performance.now();
      [...document.querySelectorAll('button.sort')].find((b) => b.textContent.startsWith(${JSON.stringify(label)})).click();
      const check = () => {
        const a = document.querySelector('[role="row"][data-hash] .c-name a');
        if (a && a.textContent === ${JSON.stringify(first)}) resolve(performance.now() - t0);
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);
    })`) as Promise<number>;
    console.log(`10k: sort by name ${Math.round(await sortMs('Name', name(0)))} ms (click to the frame showing it)`);
    console.log(`10k: reverse sort ${Math.round(await sortMs('Name', name(N - 1)))} ms`);
    await rows.first().locator('.c-name').filter({ hasText: name(N - 1) }).waitFor();

    await page.evaluate("document.querySelector('.scroller').scrollTop = 1e9");
    await page.locator('.c-name').filter({ hasText: name(0) }).waitFor();
    expect(await rows.count()).toBeLessThan(100);

    await page.getByRole('searchbox').fill(name(4321));
    await page.getByText(`1 of ${N} torrents`).waitFor();
    await page.getByRole('searchbox').fill('');
    await page.locator('body').click({ position: { x: 5, y: 200 } });
    await page.keyboard.press('Control+a');
    await page.getByText(`${N} of ${N} torrents, ${N} selected`).waitFor();
    await page.keyboard.press('Escape');

    expect(await checkScreen(page, 'torrents-10k')).toEqual([]);
    expect(errors).toEqual([]);
  }, 90_000);
});
