import { isIP } from 'node:net';

/** A TCP endpoint as the user wrote it, split. */
export interface Endpoint {
  host: string;
  port: number;
}

/** `host:port`, bracketing IPv6 literals so the result parses back (`[::1]:6881`). */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `host:port` or `[v6]:port`; throws a message fit for `--peer` errors. */
export function parseEndpoint(s: string): Endpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) throw new Error(`"${s}" is not host:port`);
  return { host: (m[1] ?? m[2])!, port };
}

