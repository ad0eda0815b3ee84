import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCli, cleanup, CLI, ROOT, tmp } from '../helpers/cli.js';

// Completion scripts and the man page, generated from the command definitions: bash's completion is run
// for real; the man page is rendered by groff with warnings on; zsh and fish (not installed here) are
// checked to name every command and option.

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

let bashScript = '';
let dir = '';

/** What bash's completion offers for the words typed so far (the cursor on the last one). */
function complete(...typed: string[]): string[] {
  const words = typed.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source '${bashScript}'; COMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _spritzle; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir, encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  buildCli();
  dir = await tmp('completion-');
  bashScript = join(dir, 'spritzle.bash');
  await writeFile(bashScript, cli(['completion', 'bash']));
  await mkdir(join(dir, 'downloads'));
}, 300_000);
afterAll(cleanup);

describe('bash completion', () => {
  it('completes command names', () => {
    expect(complete('spritzle', 'do')).toEqual(['download']);
    expect(complete('spritzle', 's').sort()).toEqual(['seed', 'set', 'start', 'stats', 'status', 'stream']);
  });

  it("completes a command's own options, new ones included", () => {
    expect(complete('spritzle', 'download', '--ke')).toEqual(['--keep-seeding']);
    expect(complete('spritzle', 'files', '--pr')).toEqual(['--priority']);
  });

  it('completes the actions of a command that takes a fixed set (category, tag, queue)', () => {
    expect(complete('spritzle', 'category', '')).toEqual(['ls', 'add', 'rm', 'set']);
    expect(complete('spritzle', 'tag', 'd')).toEqual(['delete']);
    expect(complete('spritzle', 'queue', 'b')).toEqual(['bottom']);
  });

  it('completes file names after an option that takes a value', () => {
    expect(complete('spritzle', 'download', '-o', 'down')).toEqual(['downloads']);
  });
});

describe('zsh and fish completion', () => {
  it('name every command and every option', () => {
    const help = cli(['--help']);
    const commands = [...help.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    const zsh = cli(['completion', 'zsh']);
    const fish = cli(['completion', 'fish']);
    for (const c of commands) {
      expect(zsh).toContain(`'${c}:`);
      expect(fish).toContain(`-a ${c} `);
      const opts = [...cli([c, '--help']).matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]!);
      for (const o of opts) {
        expect(zsh).toContain(o);
        expect(fish).toContain(`'__fish_seen_subcommand_from ${c}'`);
        expect(fish).toMatch(new RegExp(`__fish_seen_subcommand_from ${c}'.* -l ${o.slice(2)}\\b`));
      }
    }
  });
});

describe('man page', () => {
  it('renders without a groff warning and documents every command', () => {
    const page = cli(['man']);
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const c of ['create', 'download', 'seed', 'start', 'ls', 'watch', 'set', 'files', 'peers', 'trackers']) {
      expect(page).toContain(`.SS "spritzle ${c}`);
    }
    expect(page).toMatch(/\.B SPRITZLE_LOG_FILE\n/);
  });
});

describe('docs/spritzle.service', () => {
  it('starts the daemon with options the start command has', async () => {
    const unit = await readFile(join(ROOT, 'docs/spritzle.service'), 'utf8');
    const exec = /^ExecStart=\S+ start (.*)$/m.exec(unit)![1]!;
    const help = cli(['start', '--help']).replace(/\s+/g, ' ');
    for (const opt of exec.match(/--[a-z-]+/g)!) expect(help).toContain(opt);
    for (const v of /^Environment=(.*)$/m.exec(unit)![1]!.split(' ').map((kv) => kv.split('=')[0]!)) expect(help).toContain(`env: ${v}`);
  });
});
