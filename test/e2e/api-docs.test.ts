import { describe, it, expect } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cli.js';

// The API documentation's check (docs/build-api-docs.mjs --check, TypeDoc validation): every export of
// the engine's and the server's public index has a doc comment, every {@link} resolves, and no type the
// public API uses is left out of it. Run here so that CI (scripts/test.sh) holds the line.

const run = promisify(execFile);

describe('API documentation', () => {
  it('documents every public export, with no broken link', async () => {
    const r = await run(process.execPath, [join(ROOT, 'docs/build-api-docs.mjs'), '--check'], { cwd: ROOT, timeout: 120_000 })
      .catch((e: { stdout: string; stderr: string; code: number }) => e);
    // eslint-disable-next-line no-control-regex
    expect(`${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '')).toBe('api docs: every public export is documented and every link resolves\n');
  }, 150_000);
});
