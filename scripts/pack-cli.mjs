#!/usr/bin/env node
/**
 * Packs the `spritzle` command into a tarball that `npx <tarball> start` runs on a machine with nothing
 * but Node: no workspace, no registry.
 *
 * packages/cli depends on the workspace packages @spritzle/engine and @spritzle/server (unpublished) and,
 * through bittorrent-tracker → @thaunknown/simple-peer → webrtc-polyfill, on node-datachannel, a native
 * module whose install downloads a binary from outside the registries. So the packed package does not
 * list dependencies at all: esbuild bundles the CLI from its TypeScript sources, the workspace packages
 * and every npm dependency into one ESM file, with webrtc-polyfill replaced by the workspace's stub
 * (spritzle speaks TCP only). The package written around it has a `bin`, `engines` and no dependencies.
 *
 *   pnpm run pack:cli                          packages/cli/spritzle-<version>.tgz (staged in a temp folder)
 *   node scripts/pack-cli.mjs --out DIR        the tarball goes to DIR instead
 *   node scripts/pack-cli.mjs --bundle-only    only packages/cli/bundle/spritzle.mjs, to try the bundle
 *                                              in the workspace: node packages/cli/bundle/spritzle.mjs ...
 *
 * The last line printed is the tarball's absolute path (or the bundle's, with --bundle-only). The
 * bundle is built from the TypeScript sources, so no `tsc -b` is needed first (nor does it type-check).
 *
 * Running it: `npx -y ./spritzle-0.1.0.tgz start` or `npx -y file:/abs/path/spritzle-0.1.0.tgz start` (without -y,
 * npx asks before installing, and refuses when not on a terminal). A bare
 * absolute path (`npx /abs/spritzle-0.1.0.tgz`) is taken by npm for a command to execute, not a package.
 * npm runs the bin through `sh -c`, and a SIGTERM sent to the npx process alone stops npm and the
 * shell but does not reach the daemon; Ctrl-C in a terminal reaches the whole process group and so
 * the daemon too, which then shuts down cleanly.
 *
 * `pnpm pack` inside packages/cli gives the same package: its prepack runs `--stage pack` and
 * publishConfig.directory makes pnpm pack that staged folder.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI_DIR = join(ROOT, 'packages/cli');
/**
 * The bundle's place inside a package folder: bundle/ sits beside package.json, in the workspace
 * (packages/cli/bundle, --bundle-only) and in the packed package alike, so version.ts's
 * `../package.json` finds the right manifest.
 */
const BUNDLE_FILE = 'bundle/spritzle.mjs';
const LICENSES_FILE = 'bundle/THIRD_PARTY_LICENSES.txt';
/**
 * The engine's worker threads' code, entries of their own beside the bundle: the engine starts its workers
 * from `./<name>.js` next to the module that runs them (the bundle here). The disk threads, and the parser
 * of big .torrent files (issue 9, section 5).
 */
const WORKER_FILES = {
  'bundle/disk-worker.js': 'packages/engine/src/disk/disk-worker.ts',
  'bundle/metainfo-worker.js': 'packages/engine/src/metainfo/metainfo-worker.ts',
};
/** The web UI's files (index.html, assets/) inside the bundle folder. */
const WEB_DIR = 'bundle/web';

const { values: args } = parseArgs({
  options: { out: { type: 'string' }, 'bundle-only': { type: 'boolean', default: false }, stage: { type: 'string' } },
});

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const log = (msg) => process.stderr.write(`pack-cli: ${msg}\n`);

/**
 * The bundle is ESM, but most of Node's ecosystem inside it is CommonJS: esbuild's CJS wrappers call
 * `require` for Node's built-ins, and some modules read `__filename`/`__dirname`. ESM has none of these.
 * (__dirname is the bundle's folder, so a package reading files beside itself at run time would look in
 * the wrong place; none that spritzle loads does so on the paths it uses; see the smoke run below.)
 */
const BANNER = [
  "import { createRequire as __spritzleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __spritzleFileURLToPath } from 'node:url';",
  "import { dirname as __spritzleDirname } from 'node:path';",
  'const require = __spritzleCreateRequire(import.meta.url);',
  'const __filename = __spritzleFileURLToPath(import.meta.url);',
  'const __dirname = __spritzleDirname(__filename);',
].join('\n');

/** Builds <pkgDir>/bundle/spritzle.mjs, the disk worker and the licences beside it; returns the bundle's path. */
async function bundle(pkgDir) {
  const t0 = performance.now();
  const outfile = join(pkgDir, BUNDLE_FILE);
  rmSync(dirname(outfile), { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(CLI_DIR, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    tsconfig: join(CLI_DIR, 'tsconfig.json'),
    // The workspace packages from their sources (no tsc build needed), and no WebRTC (see above).
    alias: {
      '@spritzle/engine': join(ROOT, 'packages/engine/src/index.ts'),
      '@spritzle/server': join(ROOT, 'packages/server/src/index.ts'),
      'webrtc-polyfill': join(ROOT, 'stubs/webrtc-polyfill/index.js'),
    },
    // ws (websocket trackers) tries these native speed-ups inside try/catch and falls back to plain JS.
    external: ['bufferutil', 'utf-8-validate'],
    banner: { js: BANNER },
    // Identifiers stay readable in stack traces; whitespace and syntax are squeezed.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    logOverride: {
      // `require('x')` in a try block for an optional module esbuild cannot see: fine at run time.
      'require-resolve-not-external': 'silent',
    },
  });
  for (const [out, entry] of Object.entries(WORKER_FILES)) {
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [join(ROOT, entry)],
      outfile: join(pkgDir, out),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      tsconfig: join(ROOT, 'packages/engine/tsconfig.json'),
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
  writeFileSync(join(pkgDir, LICENSES_FILE), thirdPartyLicenses(result.metafile));
  copyWebUi(join(pkgDir, WEB_DIR));
  chmodSync(outfile, 0o755);
  log(`bundle ${outfile}: ${mib(statSync(outfile).size)} in ${Math.round(performance.now() - t0)} ms`);
  return outfile;
}

/**
 * The web UI's built files beside the bundle (bundle/web/), where the server looks for them when it runs
 * from the bundle (packages/server/src/web-ui.ts).
 */
function copyWebUi(dest) {
  execFileSync(process.execPath, [join(ROOT, 'packages/web/build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dist = join(ROOT, 'packages/web/dist');
  mkdirSync(join(dest, 'assets'), { recursive: true });
  cpSync(join(dist, 'index.html'), join(dest, 'index.html'));
  cpSync(join(dist, 'assets'), join(dest, 'assets'), { recursive: true });
}

/** A bundle that cannot even print its version must not be packed. */
function smokeTest(file, version) {
  const out = execFileSync(process.execPath, [file, '--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  if (out !== version) throw new Error(`${file} --version printed "${out}", expected "${version}"`);
}

/** The licence texts of every npm package inlined into the bundle (MIT and friends ask for them to travel along). */
function thirdPartyLicenses(metafile) {
  const pkgDirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const abs = resolve(ROOT, input);
    const parts = abs.split(sep);
    const i = parts.lastIndexOf('node_modules');
    if (i < 0) continue;
    const n = parts[i + 1]?.startsWith('@') ? 3 : 2;
    pkgDirs.add(parts.slice(0, i + n).join(sep));
  }
  const sections = [];
  for (const dir of [...pkgDirs].sort()) {
    const pkg = readJson(join(dir, 'package.json'));
    const file = readdirSync(dir).sort().find((n) => /^(licen[cs]e|copying)/i.test(n));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : '';
    const license = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'see package');
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
    const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
    const about = [author && `by ${author}`, repo].filter(Boolean).join(', ');
    sections.push(`${pkg.name}@${pkg.version} (${license})${about ? `\n${about}` : ''}\n\n${text || '(no licence file in the package)'}`);
  }
  const unique = [...new Set(sections)];
  return `spritzle bundles the following packages.\n\n${unique.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`;
}

/** The published manifest: the workspace's one without its dependencies, which are all inside the bundle. */
function manifest() {
  const cli = readJson(join(CLI_DIR, 'package.json'));
  const root = readJson(join(ROOT, 'package.json'));
  return {
    name: cli.name,
    version: cli.version,
    description: cli.description,
    license: cli.license,
    type: 'module',
    bin: { spritzle: BUNDLE_FILE },
    files: ['bundle'],
    engines: { node: root.engines?.node ?? '>=20' },
  };
}

/** Writes the publishable package (manifest, README, bundle) into `stage`. */
async function stagePackage(stage) {
  mkdirSync(stage, { recursive: true });
  const pkg = manifest();
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(stage, 'README.md'), readme());
  smokeTest(await bundle(stage), pkg.version);
}

/** Stages the package in a temporary folder (nothing of the work tree is touched) and packs it into outDir. */
async function pack(outDir) {
  const stage = mkdtempSync(join(tmpdir(), 'spritzle-pack-'));
  try {
    await stagePackage(stage);
    const t0 = performance.now();
    mkdirSync(outDir, { recursive: true });
    // npm pack: it ships with Node, needs no registry and writes the same tarball layout as pnpm pack.
    const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    });
    const [info] = JSON.parse(out);
    const tarball = join(outDir, info.filename);
    log(`tarball ${tarball}: ${mib(statSync(tarball).size)} packed, ${mib(info.unpackedSize)} unpacked, `
      + `${info.entryCount} files, in ${Math.round(performance.now() - t0)} ms`);
    return tarball;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function readme() {
  return `# spritzle

A BitTorrent daemon with a REST API, in one file: everything it needs is bundled in, so it installs
without dependencies.

\`\`\`sh
npx -y ./spritzle-<version>.tgz start     # REST API on http://127.0.0.1:8080 (-y: npx asks otherwise)
npx -y ./spritzle-<version>.tgz --help
\`\`\`

WebRTC peers are not supported (spritzle speaks TCP). The licences of the bundled packages are in
\`${LICENSES_FILE}\`.
`;
}

if (args.stage) {
  // `pnpm pack` in packages/cli: its prepack stages here and publishConfig.directory packs this folder.
  const stage = resolve(CLI_DIR, args.stage);
  rmSync(stage, { recursive: true, force: true });
  await stagePackage(stage);
  console.log(stage);
} else if (args['bundle-only']) {
  const file = await bundle(CLI_DIR);
  smokeTest(file, manifest().version);
  console.log(file);
} else {
  console.log(await pack(resolve(args.out ?? CLI_DIR)));
}
