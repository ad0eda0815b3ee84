import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTorrent, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, ROOT, tmp } from '../helpers/cli.js';

// @spritzle/engine and @spritzle/server as a stranger gets them: packed with pnpm (as they would be
// published), installed with npm into an empty project outside the workspace (install scripts on, so a
// native build would fail here), compiled as a strict TypeScript consumer (skipLibCheck: false, so every
// .d.ts we ship and every type it reaches must hold), then run: a download between two sessions on
// 127.0.0.1, with the REST app answering about it.

const run = promisify(execFile);
const PNPM = ['-y', '--prefer-offline', JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).packageManager as string];

let project = '';
let install = { stdout: '', stderr: '' };
let t: TestTorrent;

const CONSUMER = `
import { readFile } from 'node:fs/promises';
import { Session, SpritzleError, type TorrentStatus } from '@spritzle/engine';
import { startServer } from '@spritzle/server';

const [torrentPath, dataDir, saveDir] = process.argv.slice(2) as [string, string, string];
const ti = await readFile(torrentPath);
const seed = await Session.create({ listen_interfaces: '127.0.0.1:0' });
await seed.addTorrent({ ti, save_path: dataDir });
const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
const api = await startServer(session, { port: 0, host: '127.0.0.1', downloadRoot: saveDir });
const handle = await session.addTorrent({ ti, save_path: saveDir, peers: [\`127.0.0.1:\${seed.listenPort}\`] });
const done: TorrentStatus = await handle.waitFor('finished');
const rest = (await (await fetch(\`\${api.url}/torrent/\${handle.infoHash}?fields=state,progress\`)).json()) as Record<string, unknown>;
let typedError = '';
try {
  await session.addTorrent({ info_hash: 'nope' });
} catch (e) {
  if (e instanceof SpritzleError) typedError = e.code;
}
await api.close();
await session.close();
await seed.close();
console.log(JSON.stringify({ bytes: done.total_wanted_done, rest, typedError }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'],
    strict: true, skipLibCheck: false, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, outDir: 'out',
  },
  files: ['consumer.ts'],
};

beforeAll(async () => {
  buildCli();
  const base = await tmp('spritzle-packed-');
  const packs = join(base, 'packs');
  for (const p of ['engine', 'server']) {
    await run('npx', [...PNPM, 'pack', '--pack-destination', packs], { cwd: join(ROOT, 'packages', p), timeout: 180_000 });
  }
  const tarballs = (await readdir(packs)).map((f) => join(packs, f));
  project = join(base, 'project');
  await run('mkdir', ['-p', project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await writeFile(join(project, 'consumer.ts'), CONSUMER);
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  const nodeTypes = JSON.parse(await readFile(join(ROOT, 'packages/engine/package.json'), 'utf8')).devDependencies['@types/node'] as string;
  install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', ...tarballs, `@types/node@${nodeTypes}`], {
    cwd: project, timeout: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  t = await makeTorrent({ dir: join(base, 'src'), name: 'packed.bin', files: 300_000, pieceLength: 16384 });
}, 600_000);
afterAll(cleanup);

describe('the packed library', () => {
  it('installs with npm on this Node without an engine warning (no native build, no install script failing)', () => {
    expect(`${install.stdout}${install.stderr}`).not.toMatch(/EBADENGINE|gyp|cmake|node-datachannel/i);
  });

  it('compiles as a strict TypeScript consumer with skipLibCheck false', async () => {
    const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project }).catch((e: { stdout: string }) => e);
    expect(r.stdout).toBe('');
  });

  it('downloads between two sessions and serves the REST API', async () => {
    const save = join(project, 'downloads');
    await run('mkdir', ['-p', save]);
    const r = await run(process.execPath, [join(project, 'out/consumer.js'), t.torrentPath, t.dataRoot, save], { cwd: project, timeout: 60_000 });
    expect(JSON.parse(r.stdout)).toEqual({ bytes: 300_000, rest: { info_hash: t.infoHash, state: 'seeding', progress: 1 }, typedError: 'invalid_param' });
  });
});
