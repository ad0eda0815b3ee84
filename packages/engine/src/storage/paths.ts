/**
 * Path safety for names that come from untrusted .torrent files. We refuse rather than rewrite:
 * a torrent with a hostile or malformed path is rejected as a whole, so a user never ends up with
 * files in places (or under names) they did not expect.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { SpritzleError } from '../errors.js';

/** 'C:', 'C:\\x', 'c:foo': drive-relative or drive-absolute on Windows, even though POSIX would accept it. */
const DRIVE_PREFIX = /^[A-Za-z]:/;

function describe(components: readonly string[]): string {
  return JSON.stringify(components);
}

function componentProblem(c: unknown): string | null {
  if (typeof c !== 'string') return 'is not a string';
  if (c.length === 0) return 'is empty';
  if (c === '.' || c === '..') return `is "${c}"`;
  if (c.includes('\0')) return 'contains a NUL character';
  if (c.includes('/') || c.includes('\\')) return 'contains a path separator';
  if (path.posix.isAbsolute(c) || path.win32.isAbsolute(c) || DRIVE_PREFIX.test(c)) return 'is absolute';
  return null;
}

/** Turns the path components of one file in a .torrent (info.files[i].path, or [info.name] for a single file,
 * prefixed by info.name for multi-file torrents as the caller passes it) into a safe relative path, or throws invalid_path. */
export function sanitizeTorrentPath(components: readonly string[]): string {
  if (!Array.isArray(components) || components.length === 0) {
    throw new SpritzleError('invalid_path', 'torrent file path is empty (no path components)');
  }
  for (const [i, c] of components.entries()) {
    const problem = componentProblem(c);
    if (problem !== null) {
      throw new SpritzleError('invalid_path', `torrent file path ${describe(components)}: component ${i} ${problem}`);
    }
  }
  const joined = components.join('/');
  if (joined.length === 0) throw new SpritzleError('invalid_path', `torrent file path ${describe(components)} is empty`);
  return joined;
}

/** Joins root and a relative path and proves the result stays inside root (after path.resolve); throws invalid_path if not. */
export function resolveInside(root: string, relative: string): string {
  if (relative.includes('\0') || root.includes('\0')) {
    throw new SpritzleError('invalid_path', `path ${JSON.stringify(relative)} under ${JSON.stringify(root)} contains a NUL character`);
  }
  const base = path.resolve(root);
  const full = path.resolve(base, relative);
  const rel = path.relative(base, full);
  // rel === '' means the path names root itself, which is never a valid place for a torrent file.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new SpritzleError('invalid_path', `path ${JSON.stringify(relative)} resolves to ${full}, which is not inside ${base}`);
  }
  return full;
}

/** Whether `p` is `root` or below it (both absolute and normalised; no file-system access). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** realpath of the deepest part of `p` that exists, with the rest appended: where `p` really lands. */
async function landing(p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(await realpath(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * Confines a save path to a download root, by the rules the REST API applies to `save_path` on add: a
 * relative path is taken inside the root; an absolute one (or one climbing out with "..", or through a
 * link) must land inside it. Returns the absolute path, or throws invalid_path naming both.
 */
export async function confineSavePath(savePath: string, root: string): Promise<string> {
  const base = path.resolve(root);
  if (savePath.includes('\0')) throw new SpritzleError('invalid_path', 'a save path cannot hold a NUL byte');
  const abs = path.resolve(base, savePath);
  if (!isInside(base, abs) || !isInside(await landing(base), await landing(abs))) {
    throw new SpritzleError('invalid_path', `save path ${JSON.stringify(savePath.slice(0, 200))} is outside the download root ${base}`);
  }
  return abs;
}
