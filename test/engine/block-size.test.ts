import { describe, it, expect } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BLOCK_SIZE } from '../../packages/engine/src/block-size.js';
import { PiecePicker } from '../../packages/engine/src/algo/piece-picker.js';
import { BLOCK_SIZE as WIRE_BLOCK_SIZE } from '../../packages/engine/src/wire/codec.js';

const src = join(process.cwd(), 'packages/engine/src');
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

describe('the block size', () => {
  it('is 16 KiB, the one the picker, storage and the wire use', () => {
    expect(BLOCK_SIZE).toBe(16384);
    expect(new PiecePicker(1, 4 * BLOCK_SIZE, 4 * BLOCK_SIZE).blocksPerPiece).toBe(4);
    expect(WIRE_BLOCK_SIZE).toBe(BLOCK_SIZE);
  });

  it('is spelled out in block-size.ts only (BEP 9\'s metadata piece is another quantity)', () => {
    const spelled = sources(src)
      .filter((f) => !f.endsWith('block-size.ts'))
      .filter((f) => /\b16384\b|\b16 \* 1024\b|\b16_384\b/.test(readFileSync(f, 'utf8').replace(/METADATA_PIECE_SIZE = 16384/, '')))
      .map((f) => relative(src, f));
    expect(spelled).toEqual([]);
  });
});
