import { it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildCli, cleanup, closedPort } from '../helpers/cli.js';
import { startDaemon, getJson, type Daemon } from '../helpers/daemon.js';
import { makeTorrent, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { startLtSeed, requireLibtorrent, type LtSeed } from '../helpers/libtorrent.js';
import { buildWebUi, checkScreen, describeBrowser, launchBrowser, watchConsole } from './browser.js';

// The web UI in a real browser against a real daemon (`spritzle start`) and real libtorrent seeds, all on
// 127.0.0.1. One browser for the file; each test gets a fresh page.

let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[] = [];
/** Console lines a test expects (the browser logs refused connections while the daemon restarts). */
let expectedErrors: RegExp | null = null;

beforeAll(async () => {
  buildCli();
  buildWebUi();
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await cleanup();
});

async function newPage(url: string): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  errors = [];
  expectedErrors = null;
  watchConsole(page, errors);
  await page.goto(url);
  return page;
}

afterEach(async () => {
  const unexpected = errors.filter((e) => expectedErrors === null || !expectedErrors.test(e));
  await context?.close();
  expect(unexpected).toEqual([]);
});

function peerPort(d: Daemon): number {
  const m = /peers on 127\.0\.0\.1:(\d+)/.exec(d.stdout());
  if (!m) throw new Error(`no peer port in: ${d.stdout()}`);
  return Number(m[1]);
}

const row = (hash: string): string => `[role="row"][data-hash="${hash}"]`;

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeBrowser('the web UI against a daemon and a libtorrent seed', () => {
  let d: Daemon;
  let state: string;
  let dl: string;
  let apiPort: number;
  let multi: TestTorrent;
  let single: TestTorrent;
  const seeds: LtSeed[] = [];

  beforeAll(async () => {
    requireLibtorrent();
    state = await tmpDir('web-state');
    dl = await tmpDir('web-dl');
    apiPort = await closedPort();
    d = await startDaemon(state, dl, ['--port', String(apiPort)]);
    const src = await tmpDir('web-src');
    multi = await makeTorrent({ dir: src, name: 'album', files: [{ path: 'one.bin', size: 700_000 }, { path: 'two.bin', size: 500_000 }], pieceLength: 32768, seed: 11 });
    single = await makeTorrent({ dir: src, name: 'magnet.bin', files: 900_000, pieceLength: 32768, seed: 12 });
    // The magnet link names this seed (x.pe); the other seed dials the daemon once its torrent is added.
    seeds.push(await startLtSeed(single.torrentPath, single.dataRoot));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(seeds.map((s) => s.stop().catch(() => undefined)));
    await d?.stop();
  }, 30_000);

  it('adds a torrent by file upload and shows its progress reach 100 % live, without polling', async () => {
    await newPage(d.url);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('dialog input[type="file"]').setInputFiles(multi.torrentPath);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname + new URL(r.url()).search));
    await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator(row(multi.infoHash)).waitFor();
    seeds.push(await startLtSeed(multi.torrentPath, multi.dataRoot, { peers: [`127.0.0.1:${peerPort(d)}`] }));
    await page.locator(`${row(multi.infoHash)} .pct`).filter({ hasText: '100.0 %' }).waitFor({ timeout: 30_000 });
    await expect(page.locator(`${row(multi.infoHash)} .c-state`).textContent()).resolves.toBe('seeding');
    // Everything after the add came over the event stream: no URL was asked for twice.
    expect(requests.filter((u, i) => requests.indexOf(u) !== i)).toEqual([]);
  }, 60_000);

  it('adds a torrent paused with only the files chosen in the dialog', async () => {
    const picky = await makeTorrent({ dir: await tmpDir('web-picky'), name: 'picky', files: [{ path: 'keep.bin', size: 40_000 }, { path: 'skip.bin', size: 30_000 }], seed: 13 });
    await newPage(d.url);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('dialog input[type="file"]').setInputFiles(picky.torrentPath);
    await page.getByRole('checkbox', { name: /picky\/skip\.bin/ }).uncheck();
    await page.getByRole('checkbox', { name: 'Start paused' }).check();
    await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator(row(picky.infoHash)).waitFor();
    expect((await getJson<{ paused: boolean }>(`${d.url}/torrent/${picky.infoHash}`)).paused).toBe(true);
    const files = await getJson<{ path: string; priority: number }[]>(`${d.url}/torrent/${picky.infoHash}/files`);
    expect(files.map((f) => [f.path, f.priority])).toEqual([['picky/keep.bin', 4], ['picky/skip.bin', 0]]);
    expect((await fetch(`${d.url}/torrent/${picky.infoHash}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('pauses and resumes the selected torrent', async () => {
    await newPage(d.url);
    await page.getByRole('checkbox', { name: `Select ${multi.name}` }).check();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator(`${row(multi.infoHash)} .c-state`).filter({ hasText: 'paused' }).waitFor();
    expect((await getJson<{ paused: boolean }>(`${d.url}/torrent/${multi.infoHash}`)).paused).toBe(true);
    // The state filter follows: shown under "paused", not under "seeding".
    const show = page.getByRole('combobox', { name: 'Show' });
    await show.selectOption('seeding');
    await page.locator(row(multi.infoHash)).waitFor({ state: 'detached' });
    await show.selectOption('paused');
    await page.locator(row(multi.infoHash)).waitFor();
    await show.selectOption('all');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator(`${row(multi.infoHash)} .c-state`).filter({ hasText: 'seeding' }).waitFor();
    expect((await getJson<{ paused: boolean }>(`${d.url}/torrent/${multi.infoHash}`)).paused).toBe(false);
  });

  it('changes a file priority in the files tab', async () => {
    await newPage(`${d.url}/#/t/${multi.infoHash}/files`);
    const select = page.getByRole('combobox', { name: 'Priority of album/two.bin' });
    await expect(select.inputValue()).resolves.toBe('4');
    await select.selectOption({ label: 'skip' });
    await until('priority 0 in the API', async () =>
      (await getJson<{ path: string; priority: number }[]>(`${d.url}/torrent/${multi.infoHash}/files`)).find((f) => f.path.endsWith('two.bin'))?.priority === 0);
    await select.selectOption({ label: 'high' });
    await until('priority 7 in the API', async () =>
      (await getJson<{ path: string; priority: number }[]>(`${d.url}/torrent/${multi.infoHash}/files`)).find((f) => f.path.endsWith('two.bin'))?.priority === 7);
  });

  it('turns sequential download on from the general tab', async () => {
    await newPage(`${d.url}/#/t/${multi.infoHash}/general`);
    await page.getByRole('form', { name: 'Torrent limits' }).getByRole('checkbox', { name: 'Download in order (sequential)' }).check();
    await page.getByRole('form', { name: 'Torrent limits' }).getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect((await getJson<{ sequential_download: boolean }>(`${d.url}/torrent/${multi.infoHash}`)).sequential_download).toBe(true);
  });

  it('adds a torrent by magnet link; its metadata and data arrive and progress reaches 100 %', async () => {
    await newPage(d.url);
    await page.getByText(/\d+ of \d+ torrents/).waitFor();
    await page.keyboard.press('a');
    await page.getByRole('textbox', { name: 'Magnet links or URLs, one a line' }).fill(`magnet:?xt=urn:btih:${single.infoHash}&dn=${single.name}&x.pe=127.0.0.1:${seeds[0]!.port}`);
    await page.getByRole('checkbox', { name: 'Download in order (sequential)' }).check();
    await page.locator('dialog').getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator(`${row(single.infoHash)} .pct`).filter({ hasText: '100.0 %' }).waitFor({ timeout: 30_000 });
    expect((await getJson<{ sequential_download: boolean }>(`${d.url}/torrent/${single.infoHash}`)).sequential_download).toBe(true);
  }, 60_000);

  it('every screen passes axe-core (no serious or critical violation), light and dark, desktop and 360 px', async () => {
    await newPage(d.url);
    await page.locator(row(multi.infoHash)).waitFor();
    const problems: string[] = [];
    problems.push(...await checkScreen(page, 'torrents'));
    await page.keyboard.press('a');
    await page.locator('dialog[open]').waitFor();
    problems.push(...await checkScreen(page, 'add'));
    await page.keyboard.press('Escape');
    await page.keyboard.press('?');
    problems.push(...await checkScreen(page, 'shortcuts'));
    await page.keyboard.press('Escape');
    for (const tab of ['general', 'files', 'peers', 'trackers', 'pieces', 'speed']) {
      await page.goto(`${d.url}/#/t/${multi.infoHash}/${tab}`);
      await page.locator('.tab-body > *').first().waitFor();
      problems.push(...await checkScreen(page, `torrent-${tab}`));
    }
    await page.goto(`${d.url}/#/session`);
    await page.getByRole('button', { name: 'Save settings' }).waitFor();
    problems.push(...await checkScreen(page, 'session'));
    await page.goto(`${d.url}/#/api`);
    await page.locator('.endpoint').first().waitFor();
    problems.push(...await checkScreen(page, 'api'));
    expect(problems).toEqual([]);
  }, 90_000);

  it('shows the free disk space of the download root in the session view', async () => {
    await newPage(`${d.url}/#/session`);
    const disk = await getJson<{ path: string; free_bytes: number }>(`${d.url}/session/disk`);
    expect(disk.path).toBe(resolve(dl));
    await page.locator('dd', { hasText: `(${disk.path})` }).waitFor();
    expect(await page.locator('dd', { hasText: `(${disk.path})` }).textContent()).toMatch(/^[\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]?i?B \(/);
  });

  it('shows each peer\'s client, transport and encryption, and each tracker\'s last and next announce', async () => {
    // The daemon's answers stand in for a swarm caught mid-transfer (loopback transfers end in well under a second).
    await newPage(`${d.url}/#/session`);
    const now = Math.floor(Date.now() / 1000);
    const peer = (port: number, client: string, rc4: boolean, plaintext: boolean): Record<string, unknown> => ({
      ip: '127.0.0.1', port, client, peer_id: '', direction: 'outgoing', flags: 'iC', rc4_encrypted: rc4, plaintext_encrypted: plaintext,
      progress: 0.5, down_speed: 1024, up_speed: 0, total_download: 0, total_upload: 0, num_pieces: 1, queue: 0,
    });
    await page.route(`**/torrent/${multi.infoHash}/peers`, (r) => r.fulfill({ json: [
      peer(6881, 'libtorrent 2.0.11', true, false), peer(6882, 'qBittorrent 5.0.0', false, true), peer(6883, '', false, false),
    ] }));
    await page.route(`**/torrent/${multi.infoHash}/trackers`, (r) => r.fulfill({ json: [
      { url: 'http://127.0.0.1:6969/announce', tier: 0, status: 'working', message: '', num_peers: 3, last_announce: now - 60, next_announce: now + 1800 },
      { url: 'ws://127.0.0.1:6970/announce', tier: 1, status: 'error', message: 'unsupported', num_peers: 0, last_announce: -1, next_announce: -1 },
    ] }));
    await page.goto(`${d.url}/#/t/${multi.infoHash}/peers`);
    const cells = (n: number): Promise<string[][]> => page.locator('.tab-body tbody tr').evaluateAll((rows, k) =>
      rows.map((r) => [...r.querySelectorAll('td')].slice(0, k as number).map((c) => c.textContent ?? '')), n);
    await page.getByRole('cell', { name: 'RC4 (MSE)' }).waitFor();
    expect((await cells(8)).map((r) => [r[1], r[6], r[7]])).toEqual([
      ['libtorrent 2.0.11', 'TCP, outgoing', 'RC4 (MSE)'],
      ['qBittorrent 5.0.0', 'TCP, outgoing', 'MSE handshake, plaintext'],
      ['–', 'TCP, outgoing', 'none'],
    ]);
    await page.goto(`${d.url}/#/t/${multi.infoHash}/trackers`);
    await page.getByRole('cell', { name: 'http://127.0.0.1:6969/announce' }).waitFor();
    const [working, unusable] = await cells(7);
    expect(working![4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(working![5]).toMatch(/^in (29|30)m \d+s$/);
    expect([unusable![4], unusable![5]]).toEqual(['–', '–']);
    expect(errors).toEqual([]);
  });

  it('removes a torrent with its files after a confirmation; the files are gone from disk', async () => {
    const files = multi.files.map((f) => join(dl, multi.name, f.path));
    expect(files.every((f) => existsSync(f))).toBe(true);
    await newPage(d.url);
    await page.getByRole('checkbox', { name: `Select ${multi.name}` }).check();
    await page.keyboard.press('Delete');
    const dialog = page.getByRole('dialog', { name: 'Remove 1 torrent?' });
    await dialog.getByRole('checkbox', { name: 'Also delete the downloaded files' }).check();
    await dialog.getByRole('button', { name: 'Remove and delete files' }).click();
    await page.locator(row(multi.infoHash)).waitFor({ state: 'detached' });
    expect(await getJson<string[]>(`${d.url}/torrent`)).not.toContain(multi.infoHash);
    await until('the files deleted', () => files.every((f) => !existsSync(f)));
  });

  it('settings saved in the page persist across a daemon restart; the page shows the lost connection and reconnects', async () => {
    await newPage(`${d.url}/#/session`);
    const limit = page.getByRole('spinbutton', { name: /Download limit/ });
    await limit.fill('123456');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    expect((await getJson<Record<string, unknown>>(`${d.url}/session/settings`)).download_rate_limit).toBe(123456);

    expectedErrors = /ERR_CONNECTION_REFUSED|Failed to load resource/;
    expect((await d.stop()).code).toBe(0);
    await page.getByRole('alert').filter({ hasText: 'Connection to the daemon lost; reconnecting' }).waitFor();
    d = await startDaemon(state, dl, ['--port', String(apiPort)]);
    await page.getByRole('alert').filter({ hasText: 'lost' }).waitFor({ state: 'detached', timeout: 20_000 });
    expect((await getJson<Record<string, unknown>>(`${d.url}/session/settings`)).download_rate_limit).toBe(123456);
    await page.reload();
    await expect(page.getByRole('spinbutton', { name: /Download limit/ }).inputValue()).resolves.toBe('123456');
  }, 60_000);
});

describeBrowser('the web UI of a daemon with a token', () => {
  const TOKEN = 'correct-horse-battery-staple';
  let d: Daemon;

  beforeAll(async () => {
    d = await startDaemon(await tmpDir('web-token-state'), await tmpDir('web-token-dl'), ['--token', TOKEN]);
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
  });

  it('shows a login screen, and the API is out of the page\'s reach until then', async () => {
    await newPage(d.url);
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(async () => (await fetch('torrent')).status)).toBe(401);
    expect(await page.evaluate(async () => (await fetch('session/settings', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{}' })).status)).toBe(401);
    expect(await checkScreen(page, 'login')).toEqual([]);
    // The two deliberate 401s above.
    expectedErrors = /status of 401/;
  });

  it('refuses a wrong token', async () => {
    await newPage(d.url);
    expectedErrors = /status of 401/;
    await page.getByLabel('API token').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That token is not valid.' }).waitFor();
    expect(await context.cookies()).toEqual([]);
  });

  it('signs in with the right token: an HttpOnly, SameSite=Strict cookie, nothing in the URL or storage', async () => {
    await newPage(d.url);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('0 of 0 torrents').waitFor();
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]')).toEqual(['', 0, 0]);
    expect(page.url()).not.toContain(TOKEN);
    // The cookie authenticates a state change from the page (its Origin is the daemon's own).
    await page.goto(`${d.url}/#/session`);
    await page.getByRole('spinbutton', { name: /Upload limit/ }).fill('654321');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    const r = await fetch(`${d.url}/session/settings`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await r.json()) as Record<string, unknown>).upload_rate_limit).toBe(654321);
    // After a reload the page is still signed in, and offers to sign out.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    expect(await context.cookies()).toEqual([]);
  });
});
