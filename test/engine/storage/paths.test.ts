import { describe, it, expect } from '@jest/globals';
import path from 'node:path';
import { confineSavePath, resolveInside, sanitizeTorrentPath } from '../../../packages/engine/src/storage/paths.js';
import { mkdir, symlink } from 'node:fs/promises';
import { tmpDir } from '../../helpers/fixtures.js';
import { SpritzleError } from '../../../packages/engine/src/errors.js';

function invalidPath(fn: () => unknown): SpritzleError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SpritzleError);
    expect((e as SpritzleError).code).toBe('invalid_path');
    return e as SpritzleError;
  }
  throw new Error('expected invalid_path');
}

describe('sanitizeTorrentPath', () => {
  it('joins components with /', () => {
    expect(sanitizeTorrentPath(['name', 'dir', 'file.txt'])).toBe('name/dir/file.txt');
  });

  it('accepts unicode, spaces and leading dots', () => {
    expect(sanitizeTorrentPath(['Música', '日本語 ファイル.flac'])).toBe('Música/日本語 ファイル.flac');
    expect(sanitizeTorrentPath(['t', '.hidden'])).toBe('t/.hidden');
    expect(sanitizeTorrentPath(['...'])).toBe('...');
  });

  it('refuses an empty component list', () => {
    invalidPath(() => sanitizeTorrentPath([]));
  });

  it('refuses absolute components', () => {
    for (const c of ['/etc', 'C:\\x', '\\\\server', 'C:', 'c:foo']) invalidPath(() => sanitizeTorrentPath(['t', c]));
  });

  it('refuses .. components and names the path in the message', () => {
    const e = invalidPath(() => sanitizeTorrentPath(['t', '..', 'passwd']));
    expect(e.message).toContain('passwd');
  });

  it('refuses . components', () => {
    invalidPath(() => sanitizeTorrentPath(['t', '.', 'x']));
  });

  it('refuses separators inside a component', () => {
    invalidPath(() => sanitizeTorrentPath(['t', 'a/b']));
    invalidPath(() => sanitizeTorrentPath(['t', 'a\\b']));
  });

  it('refuses NUL inside a component', () => {
    invalidPath(() => sanitizeTorrentPath(['t', 'a\0b']));
  });

  it('refuses empty components', () => {
    invalidPath(() => sanitizeTorrentPath(['t', '', 'x']));
    invalidPath(() => sanitizeTorrentPath(['']));
  });
});

describe('resolveInside', () => {
  const root = path.resolve('/srv/downloads');

  it('resolves a relative path under root', () => {
    expect(resolveInside(root, 'a/b.txt')).toBe(path.join(root, 'a', 'b.txt'));
  });

  it('refuses .. escapes', () => {
    invalidPath(() => resolveInside(root, '../etc/passwd'));
    invalidPath(() => resolveInside(root, 'a/../../x'));
  });

  it('refuses absolute paths outside root', () => {
    invalidPath(() => resolveInside(root, '/etc/passwd'));
  });

  it('refuses a sibling directory sharing the prefix', () => {
    invalidPath(() => resolveInside(root, '../downloads-evil/x'));
  });

  it('refuses root itself', () => {
    invalidPath(() => resolveInside(root, ''));
    invalidPath(() => resolveInside(root, '.'));
  });

  it('refuses NUL', () => {
    invalidPath(() => resolveInside(root, 'a\0b'));
  });
});

describe('confineSavePath (save paths restored from state obey the rule save_path on add does)', () => {
  it('takes a relative path inside the root and keeps an absolute one inside it', async () => {
    const root = await tmpDir('confine');
    expect(await confineSavePath('a/b', root)).toBe(path.join(root, 'a/b'));
    expect(await confineSavePath(path.join(root, 'c'), root)).toBe(path.join(root, 'c'));
  });

  it('refuses a path outside the root, one climbing out with "..", and one leading out through a link', async () => {
    const root = await tmpDir('confine-out');
    const outside = await tmpDir('confine-elsewhere');
    await mkdir(path.join(root, 'in'));
    await symlink(outside, path.join(root, 'in', 'link'));
    for (const p of ['/etc', '../x', path.join(root, 'in', 'link', 'deeper')]) {
      const e = await confineSavePath(p, root).catch((x: unknown) => x);
      expect((e as SpritzleError).code).toBe('invalid_path');
      expect((e as SpritzleError).message).toContain(`outside the download root ${root}`);
    }
  });
});
