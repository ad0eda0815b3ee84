import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../packages/engine/scripts/gen-counters-table.mjs', import.meta.url));

describe('the counter table', () => {
  it('is exactly what its generator writes from libtorrent\'s counter names', () => {
    // --check exits 1 (and execFileSync throws) when the checked-in table was edited by hand.
    expect(() => execFileSync(process.execPath, [SCRIPT, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
