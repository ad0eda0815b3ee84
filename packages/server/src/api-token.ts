import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Whether a given string is the API token, or null when no token is set. Digests are compared: equal
 * length whatever was sent, so the comparison's time says nothing about the token. The header check, the
 * UI login and the UI cookie all ask this one.
 */
export function tokenMatcher(token: string | undefined): ((given: string) => boolean) | null {
  if (token === undefined) return null;
  const want = digest(token);
  return (given) => timingSafeEqual(digest(given), want);
}
