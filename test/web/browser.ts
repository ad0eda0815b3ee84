// Shared by the test/web files: the web UI's build, Debian's chromium driven by playwright-core (no browser
// download), axe-core, console watching and screenshots.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../helpers/cli.js';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

/**
 * describe, or describe.skip with the reason printed when chromium is missing on a developer's machine. In
 * CI (CI set) the tests always run, and fail at launch when chromium is missing.
 */
export const describeBrowser = CHROMIUM !== null || process.env.CI ? describe : (() => {
  console.warn('test/web: skipping the browser tests: no chromium (/usr/bin/chromium). Install it with `apt-get install chromium` (CI does).');
  return describe.skip;
})();

/** Builds packages/web into packages/web/dist (esbuild, about a second). */
export function buildWebUi(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'packages/web/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`web build failed:\n${r.stdout}${r.stderr}`);
}

export async function launchBrowser(): Promise<Browser> {
  if (CHROMIUM === null) throw new Error('chromium is missing: apt-get install -y chromium (CI must have it)');
  // Only 127.0.0.1 is ever visited; no sandbox because CI runs as root.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
}

/** Collects the page's console errors and uncaught exceptions. */
export function watchConsole(page: Page, errors: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now, one line each. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
  await page.evaluate(AXE_SOURCE);
  // A string, not a function: the test is type-checked without the DOM library.
  const found = await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) })))`) as
    { id: string; impact: string; help: string; targets: string[] }[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(' ')}`);
}

export const SHOTS = join(ROOT, 'test/web/.screenshots');

/**
 * Screenshots of the screen in light and dark, desktop (1280×800) and phone (360×740) sizes, and axe-core's
 * serious/critical violations in each colour scheme. Leaves the page at desktop size, light.
 */
export async function checkScreen(page: Page, name: string): Promise<string[]> {
  mkdirSync(SHOTS, { recursive: true });
  const problems: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [label, w, h] of [['desktop', 1280, 800], ['phone', 360, 740]] as const) {
      await page.setViewportSize({ width: w, height: h });
      // Two frames: layout, then the canvases that redraw on resize.
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      await page.screenshot({ path: join(SHOTS, `${name}-${scheme}-${label}.png`) });
      if (label === 'desktop' || scheme === 'light') problems.push(...(await axeViolations(page)).map((v) => `${name} ${scheme} ${label}: ${v}`));
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  return problems;
}
