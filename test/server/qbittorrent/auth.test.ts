// The login limiter and SID sessions on a clock of the test's own.
import { describe, it, expect } from '@jest/globals';
import { BAN_MS, LoginLimiter, MAX_FAILED_LOGINS, SESSION_MS, Sessions } from '../../../packages/server/src/qbittorrent/auth.js';

describe('LoginLimiter', () => {
  it(`bans an address after ${MAX_FAILED_LOGINS} failures, for ${BAN_MS / 60_000} minutes, and only that address`, () => {
    let now = 0;
    const l = new LoginLimiter(() => now);
    for (let i = 0; i < MAX_FAILED_LOGINS - 1; i++) l.failed('10.0.0.1');
    expect(l.isBanned('10.0.0.1')).toBe(false);
    l.failed('10.0.0.1');
    expect(l.isBanned('10.0.0.1')).toBe(true);
    expect(l.isBanned('10.0.0.2')).toBe(false);
    now += BAN_MS - 1;
    expect(l.isBanned('10.0.0.1')).toBe(true);
    now += 1;
    expect(l.isBanned('10.0.0.1')).toBe(false);
  });

  it('a success clears the count of failures', () => {
    const l = new LoginLimiter(() => 0);
    for (let i = 0; i < MAX_FAILED_LOGINS - 1; i++) l.failed('a');
    l.succeeded('a');
    l.failed('a');
    expect(l.isBanned('a')).toBe(false);
  });
});

describe('Sessions', () => {
  it('an SID lives SESSION_MS after its last use, and not after logout', () => {
    let now = 0;
    const s = new Sessions(() => now);
    const sid = s.create();
    now += SESSION_MS - 1;
    expect(s.touch(sid)).toBe(true);
    now += SESSION_MS - 1;
    expect(s.touch(sid)).toBe(true);
    now += SESSION_MS;
    expect(s.touch(sid)).toBe(false);
    const other = s.create();
    s.end(other);
    expect(s.touch(other)).toBe(false);
    expect(s.touch('made-up')).toBe(false);
  });
});
