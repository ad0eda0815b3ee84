import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(process.cwd(), 'scripts/check-cycles.mjs');
const run = (root?: string) => spawnSync(process.execPath, root ? [script, root] : [script], { encoding: 'utf8' });

describe('scripts/check-cycles.mjs', () => {
  it('finds no import cycle among the packages\' sources', () => {
    const r = run();
    expect(r.stdout).toMatch(/ 0 import cycle\(s\)/);
    expect(r.status).toBe(0);
  });

  it('finds a cycle made of type-only imports, and fails', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cycles-'));
    try {
      const src = join(root, 'packages/p/src');
      await mkdir(join(src, 'sub'), { recursive: true });
      await writeFile(join(src, 'a.ts'), "import type { B } from './sub/b.js';\nexport type A = B;\n");
      await writeFile(join(src, 'sub/b.ts'), "import type { A } from '../a.js';\nexport type B = A | 1;\n");
      await writeFile(join(src, 'c.ts'), "import { x } from './sub/b.js';\n");
      const r = run(root);
      expect(r.stdout).toContain('import cycle: packages/p/src/a.ts ↔ packages/p/src/sub/b.ts');
      expect(r.stdout).toMatch(/3 modules, 1 import cycle\(s\)/);
      expect(r.status).toBe(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
