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
