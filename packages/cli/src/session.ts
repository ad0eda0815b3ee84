import { Session, isSpritzleError, type SessionSettings } from '@spritzle/engine';
import { CliError } from './errors.js';
import { formatHostPort } from './net.js';

/**
 * Creates a session listening on host:port. A listen failure (port in use, address not local) becomes a
 * CliError that names the flag to change, since that is what the user can do about it.
 */
export async function openSession(host: string, port: number, settings: Partial<SessionSettings> = {}): Promise<Session> {
  try {
    return await Session.create({ ...settings, listen_interfaces: formatHostPort(host, port) });
  } catch (e) {
    if (isSpritzleError(e) && e.code === 'network_error') {
      throw new CliError(`${e.message} (choose another with --listen-port, or 0 for any free port)`);
    }
    throw e;
  }
}

/** libtorrent's default DHT routers, for a node given none: without them a fresh node knows nobody. */
export const DEFAULT_DHT_BOOTSTRAP = 'dht.libtorrent.org:25401,router.bittorrent.com:6881,router.utorrent.com:6881,dht.transmissionbt.com:6881';

export interface DhtFlags {
  dht: boolean;
  dhtBootstrap?: string[];
  dhtPort?: number;
}

export interface TransportFlags {
  utp: boolean;
}

/** Engine settings for --no-utp: TCP only, both ways (libtorrent's enable_{outgoing,incoming}_utp). */
export function transportSettings(f: TransportFlags): Partial<SessionSettings> {
  return f.utp ? {} : { enable_outgoing_utp: false, enable_incoming_utp: false };
}

/** Engine settings for the --dht / --no-dht, --dht-bootstrap and --dht-port flags. */
export function dhtSettings(f: DhtFlags): Partial<SessionSettings> {
  return {
    enable_dht: f.dht,
    dht_bootstrap_nodes: f.dhtBootstrap?.length ? f.dhtBootstrap.join(',') : DEFAULT_DHT_BOOTSTRAP,
    ...(f.dhtPort !== undefined ? { dht_port: f.dhtPort } : {}),
  };
}
