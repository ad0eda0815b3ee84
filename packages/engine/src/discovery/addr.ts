import net from 'node:net';
import os from 'node:os';

/** A dialable peer or node address. */
export interface Endpoint {
  host: string;
  port: number;
}

/** "host:port" or "[v6]:port" → parts; null if it is not one. */
export function parseEndpoint(s: string): Endpoint | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

/** "host:port,host:port" (libtorrent's dht_bootstrap_nodes); bad entries are skipped, empty gives none. */
export function parseEndpointList(s: string): Endpoint[] {
  const out: Endpoint[] = [];
  for (const part of s.split(',')) {
    if (part.trim() === '') continue;
    const e = parseEndpoint(part);
    if (e) out.push(e);
  }
  return out;
}

/** Compact IPv4 peers (BEP 23: 4 bytes address, 2 bytes port, each); a short tail is ignored. */
export function decodeCompact4(buf: Uint8Array, max: number): Endpoint[] {
  const out: Endpoint[] = [];
  for (let i = 0; i + 6 <= buf.length && out.length < max; i += 6) {
    const port = (buf[i + 4]! << 8) | buf[i + 5]!;
    if (port === 0) continue;
    out.push({ host: `${buf[i]}.${buf[i + 1]}.${buf[i + 2]}.${buf[i + 3]}`, port });
  }
  return out;
}

/** Compact IPv6 peers (16 bytes address, 2 bytes port, each). */
export function decodeCompact6(buf: Uint8Array, max: number): Endpoint[] {
  const out: Endpoint[] = [];
  for (let i = 0; i + 18 <= buf.length && out.length < max; i += 18) {
    const port = (buf[i + 16]! << 8) | buf[i + 17]!;
    if (port === 0) continue;
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(((buf[i + 2 * g]! << 8) | buf[i + 2 * g + 1]!).toString(16));
    out.push({ host: groups.join(':'), port });
  }
  return out;
}

/** Encodes IPv4 endpoints compactly; others are left out (the caller sends them as added6). */
export function encodeCompact4(peers: readonly Endpoint[]): Uint8Array {
  const v4 = peers.filter((p) => net.isIPv4(p.host));
  const buf = new Uint8Array(v4.length * 6);
  v4.forEach((p, k) => {
    const parts = p.host.split('.');
    for (let j = 0; j < 4; j++) buf[k * 6 + j] = Number(parts[j]);
    buf[k * 6 + 4] = p.port >> 8;
    buf[k * 6 + 5] = p.port & 0xff;
  });
  return buf;
}

/** Encodes IPv6 endpoints compactly (18 bytes each). */
export function encodeCompact6(peers: readonly Endpoint[]): Uint8Array {
  const v6 = peers.filter((p) => net.isIPv6(p.host));
  const buf = new Uint8Array(v6.length * 18);
  v6.forEach((p, k) => {
    const words = expandIPv6(p.host);
    for (let g = 0; g < 8; g++) {
      buf[k * 18 + 2 * g] = words[g]! >> 8;
      buf[k * 18 + 2 * g + 1] = words[g]! & 0xff;
    }
    buf[k * 18 + 16] = p.port >> 8;
    buf[k * 18 + 17] = p.port & 0xff;
  });
  return buf;
}

function expandIPv6(host: string): number[] {
  const [head, tail] = host.includes('::') ? host.split('::') as [string, string] : [host, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return words.slice(0, 8).map((w) => parseInt(w, 16) || 0);
}

/**
 * Addresses that are this machine: a tracker or the DHT hands us back to ourselves (toolchain.md §5), and
 * dialling ourselves costs a connection and a handshake before the session notices.
 */
export function localAddresses(listenHost: string): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1', '0.0.0.0', '::', listenHost]);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address);
  }
  return out;
}

/** The IPv4 address to bind UDP sockets to for a listen host ('0.0.0.0' for any or for an IPv6 host). */
export function udp4BindHost(listenHost: string): string {
  return net.isIPv4(listenHost) ? listenHost : '0.0.0.0';
}

/**
 * Whether a peer address can be a connect candidate: not port 0, not an unspecified, multicast or broadcast
 * address (0.0.0.0/8, 224.0.0.0/4, 240.0.0.0/4 with 255.255.255.255, ::, ff00::/8 such as ff02::1). A tracker,
 * the DHT or PEX can hand us any of them; dialling one is at best wasted, at worst a packet to a whole network.
 */
export function isDialable(host: string, port: number): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  if (net.isIPv4(host)) {
    const first = Number(host.slice(0, host.indexOf('.')));
    return first !== 0 && first < 224;
  }
  if (net.isIPv6(host)) {
    const h = host.toLowerCase();
    if (h.startsWith('ff')) return false;
    if (/^[0:]+$/.test(h)) return false;
    // An IPv4-mapped address obeys the IPv4 rules.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped ? isDialable(mapped[1]!, port) : true;
  }
  // A host name (from x.pe or args.peers): resolved when dialled.
  return host.length > 0;
}
