/**
 * Commander argument parsers. A bad value throws InvalidArgumentError, which commander reports as
 * "option '--x <v>' argument 'y' is invalid. <why>" before any work starts.
 */
import { InvalidArgumentError } from 'commander';
import { formatHostPort, parseEndpoint, type Endpoint } from './net.js';

/** Repeatable string option (`--announce a --announce b`), in the order given. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable `--peer host:port`: validated here, so a typo fails before a session is started. */
export function collectPeer(value: string, previous: string[] | undefined): string[] {
  let ep: Endpoint;
  try {
    ep = parseEndpoint(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return [...(previous ?? []), formatHostPort(ep.host, ep.port)];
}

/** A TCP port; 0 (any free port) only where we listen, never where we connect. */
export function portParser(allowZero: boolean): (value: string) => number {
  return (value) => {
    const min = allowZero ? 0 : 1;
    if (!/^\d{1,5}$/.test(value) || Number(value) < min || Number(value) > 65535) {
      throw new InvalidArgumentError(`must be a port number from ${min} to 65535`);
    }
    return Number(value);
  };
}

/** --piece-length: bytes, or with a K/M suffix (KiB/MiB); a power of two from 16 KiB (BEP 3's block) up. */
export function pieceLength(value: string): number {
  const m = /^(\d+)\s*([kKmM]?)(?:i?[bB])?$/.exec(value.trim());
  const unit = !m || !m[2] ? 1 : /k/i.test(m[2]) ? 1024 : 1024 * 1024;
  const n = m ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n < 16384 || n > 2 ** 30 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('must be a power of two from 16384 (16K) to 1G bytes, e.g. 262144 or 256K');
  }
  return n;
}

/** --timeout: seconds, fractions allowed, more than 0. */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds above 0');
  return n;
}

/** A file index: 0 or more. */
export function fileIndex(value: string): number {
  if (!/^\d{1,9}$/.test(value.trim())) throw new InvalidArgumentError('must be a file index (0, 1, ...), as `spritzle files` lists them');
  return Number(value.trim());
}
