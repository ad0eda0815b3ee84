import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { isLoopbackIp } from '../ip-address.js';

/** qBittorrent's defaults: 5 failed logins ban the address for an hour; a session lives an hour. */
export const MAX_FAILED_LOGINS = 5;
export const BAN_MS = 60 * 60 * 1000;
export const SESSION_MS = 60 * 60 * 1000;
/** Most live sessions; the oldest goes first (a client that logs in on every call must not grow memory). */
export const MAX_SESSIONS = 1000;

/** Failed logins per address, and bans (qBittorrent's "IP banned after too many failed attempts"). */
export class LoginLimiter {
  private readonly fails = new Map<string, { count: number; bannedUntil: number }>();

  constructor(private readonly now: () => number = Date.now, private readonly maxFails = MAX_FAILED_LOGINS, private readonly banMs = BAN_MS) {}

  isBanned(ip: string): boolean {
    const f = this.fails.get(ip);
    if (!f || f.bannedUntil === 0) return false;
    if (f.bannedUntil > this.now()) return true;
    this.fails.delete(ip);
    return false;
  }

  failed(ip: string): void {
    const f = this.fails.get(ip) ?? { count: 0, bannedUntil: 0 };
    f.count++;
    if (f.count >= this.maxFails) f.bannedUntil = this.now() + this.banMs;
    this.fails.delete(ip);
    this.fails.set(ip, f);
    // Bounded: forget the oldest address once there are many (a spray of addresses costs memory otherwise).
    if (this.fails.size > 10_000) this.fails.delete(this.fails.keys().next().value!);
  }

  succeeded(ip: string): void {
    this.fails.delete(ip);
  }
}

/** SID cookies handed out by auth/login, each valid for SESSION_MS after its last use. */
export class Sessions {
  private readonly live = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  create(): string {
    const sid = randomBytes(24).toString('base64url');
    this.live.set(sid, this.now() + SESSION_MS);
    if (this.live.size > MAX_SESSIONS) this.live.delete(this.live.keys().next().value!);
    return sid;
  }

  /** Whether the SID is live; a live one is refreshed (and moves to the young end). */
  touch(sid: string): boolean {
    const until = this.live.get(sid);
    if (until === undefined) return false;
    this.live.delete(sid);
    if (until <= this.now()) return false;
    this.live.set(sid, this.now() + SESSION_MS);
    return true;
  }

  end(sid: string): void {
    this.live.delete(sid);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison with the token (digests: equal lengths whatever was sent). */
export function isToken(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

/** The value of a cookie in the request, or null. */
export function cookie(req: Request, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** `Authorization: Bearer <t>` → t; `Authorization: Basic <b64 user:pass>` → pass (the password is the token). */
export function headerCredential(req: Request): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const bearer = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  if (bearer) return bearer[1]!;
  const basic = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(h);
  if (!basic) return null;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/** The caller's address, unmapped (::ffff:127.0.0.1 → 127.0.0.1). */
export function remoteIp(req: Request): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** qBittorrent's "bypass authentication for clients on localhost", on when the daemon has no token. */
export function bypasses(req: Request, token: string | undefined): boolean {
  return token === undefined && isLoopbackIp(remoteIp(req));
}
