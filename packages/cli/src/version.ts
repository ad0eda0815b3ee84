import { readFileSync } from 'node:fs';

/**
 * The CLI's version, from its package.json (one place to bump). dist/ sits beside package.json both in
 * the workspace and in an installed package, so the relative URL holds in both.
 */
export const VERSION: string = (() => {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const v = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
