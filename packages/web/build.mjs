#!/usr/bin/env node
/**
 * Builds the web UI into dist/: index.html (never cached) and assets/app-<hash>.{js,css} (cached for good,
 * the hash changes with the content). esbuild only bundles and minifies; `tsc -b` type-checks src/.
 *
 *   node packages/web/build.mjs          (pnpm run build does it after tsc -b)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const DIR = dirname(fileURLToPath(import.meta.url));
const OUT = join(DIR, 'dist');

rmSync(join(OUT, 'assets'), { recursive: true, force: true });
mkdirSync(join(OUT, 'assets'), { recursive: true });
const result = await esbuild.build({
  absWorkingDir: DIR,
  entryPoints: { app: 'src/main.tsx' },
  outdir: join(OUT, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: ['chrome111', 'firefox115', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`web build: expected a .js and a .css output, got ${outputs.join(', ')}`);
const html = readFileSync(join(DIR, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', `ui/assets/${js}`)
  .replace('%APP_CSS%', `ui/assets/${css}`);
writeFileSync(join(OUT, 'index.html'), html);
process.stderr.write(`web build: ${js}, ${css}\n`);
