import dns from 'node:dns';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type express from 'express';
import type { Session } from '@spritzle/engine';
import { createApp } from './app.js';
import { answerClientErrors } from './client-error.js';
import { DEFAULT_HOST, DEFAULT_PORT, type ServerOptions } from './options.js';
import { isLoopbackIp, isUnspecifiedIp } from './ip-address.js';
import { normalizeHostname } from './security.js';

/** A server started by startServer: its URL (with the port it got) and how to stop it. */
export interface RunningServer {
  /** Base URL, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** Stops listening and closes every connection (event streams included). */
  close(): Promise<void>;
}

/**
 * Request and response classes whose prototypes already are the app's `request` / `response` objects.
 * Express re-parents every plain IncomingMessage and ServerResponse with Object.setPrototypeOf; V8 then
 * registers each object as a user of the prototype, and that bookkeeping survives young-generation GCs: at
 * a few thousand requests per second about 3 MB is promoted per scavenge and each scavenge pauses for
 * milliseconds. Built on the right prototype from the start, Express's setPrototypeOf is a no-op.
 */
function expressMessages(app: express.Express): http.ServerOptions {
  function Request(this: http.IncomingMessage, socket: Socket): void {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = app.request;
  function Response(this: http.ServerResponse, req: http.IncomingMessage, opts?: unknown): void {
    (http.ServerResponse as unknown as (this: http.ServerResponse, req: http.IncomingMessage, opts?: unknown) => void).call(this, req, opts);
  }
  Response.prototype = app.response;
  return {
    IncomingMessage: Request as unknown as typeof http.IncomingMessage,
    ServerResponse: Response as unknown as typeof http.ServerResponse,
  };
}

/**
 * Serves the API on options.host:options.port (127.0.0.1:8080 by default; port 0 picks one). Listening on
 * an address other machines can reach is refused unless a token is set: the API can write files anywhere
 * the download root allows.
 */
export async function startServer(session: Session, options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be an integer from 0 to 65535, not ${port}`);
  // Bind the address the name resolves to, and judge that address, not the name: "api.localhost" or
  // "localhost" in a hosts file may well say 0.0.0.0. Resolving once means the address checked is the one bound.
  const address = await resolveHost(host);
  if (!isLoopbackIp(address) && !options.token) {
    const what = address === normalizeHostname(host) ? host : `${host} (${address})`;
    throw new Error(`refusing to serve the API on ${what}, which is not a loopback address, without an API token; set a token or listen on 127.0.0.1`);
  }
  // A wildcard bind answers on every interface: the Host allow-list must know that, whatever name it was given.
  const appHost = isUnspecifiedIp(address) ? address : host;
  const allowedHosts = appHost === host ? options.allowedHosts : [...(options.allowedHosts ?? []), host];
  const app = createApp(session, { ...options, host: appHost, ...(allowedHosts ? { allowedHosts } : {}) });
  const server = http.createServer(expressMessages(app), app);
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(new Error(e.code === 'EADDRINUSE' ? `cannot serve the API: ${host}:${port} is already in use` : `cannot serve the API on ${host}:${port}: ${e.message}`, { cause: e }));
    };
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      // Event streams never end on their own; without this close() would wait for every client to leave.
      server.closeAllConnections();
    }),
  };
}

/** The address `listen(port, host)` would bind: the first answer of dns.lookup, as net.Server does. */
async function resolveHost(host: string): Promise<string> {
  const name = normalizeHostname(host);
  if (net.isIP(name)) return name;
  try {
    return await new Promise<string>((resolve, reject) => {
      dns.lookup(name, (e, address) => (e ? reject(e) : resolve(address)));
    });
  } catch (e) {
    throw new Error(`cannot serve the API on ${host}: the name does not resolve (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
}
