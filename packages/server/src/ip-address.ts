import net from 'node:net';

/**
 * IP address literals in the one form they are compared in: an IPv6 address that carries an IPv4 address
 * (v4-mapped ::ffff:a.b.c.d, also spelled ::ffff:7f00:1 as URL parsers print it; the deprecated
 * v4-compatible ::a.b.c.d; SIIT ::ffff:0:a.b.c.d; NAT64 64:ff9b::a.b.c.d) is that IPv4 address, so
 * "::ffff:127.0.0.1" cannot slip past a check for 127/8.
 */

/** The eight 16-bit groups of an IPv6 literal (no brackets, no zone), or null when it is not one. */
function ipv6Groups(ip: string): number[] | null {
  if (!net.isIPv6(ip) || ip.includes('%')) return null;
  let s = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    s = `${s.slice(0, -dotted[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  if (tail === undefined) return h;
  const t = parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** The IPv4 address an IPv6 literal embeds (see above), or null. */
function embeddedIPv4(ip: string): string | null {
  const g = ipv6Groups(ip);
  if (!g) return null;
  const zeros = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  const v4 = (): string => `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  if (zeros(5) && g[5] === 0xffff) return v4(); // ::ffff:a.b.c.d
  if (zeros(4) && g[4] === 0xffff && g[5] === 0) return v4(); // ::ffff:0:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(); // 64:ff9b::a.b.c.d
  if (zeros(6) && (g[6] !== 0 || g[7]! > 1)) return v4(); // ::a.b.c.d, but not :: or ::1
  return null;
}

/**
 * An IP literal in canonical form: IPv4 dotted quad (also for IPv6 that embeds one), IPv6 compressed
 * lower-case; anything that is not an IP literal is returned as it is.
 */
export function canonicalIp(ip: string): string {
  if (net.isIPv4(ip)) return ip;
  const v4 = embeddedIPv4(ip);
  if (v4 !== null) return v4;
  const g = ipv6Groups(ip);
  if (!g) return ip;
  // Let the URL parser print the RFC 5952 form.
  return new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}

/** 127/8, ::1, or an IPv6 form of a 127/8 address. */
export function isLoopbackIp(ip: string): boolean {
  const c = canonicalIp(ip);
  return (net.isIPv4(c) && c.startsWith('127.')) || c === '::1';
}

/** 0.0.0.0 (also 0/8, which Linux treats as this host) or ::, in any spelling. */
export function isUnspecifiedIp(ip: string): boolean {
  const c = canonicalIp(ip);
  return (net.isIPv4(c) && c.startsWith('0.')) || c === '::';
}
