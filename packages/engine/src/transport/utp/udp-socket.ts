/**
 * The UDP edge under the uTP socket manager: a node:dgram socket. Sends to an IP literal skip dgram's
 * default address lookup (dns.lookup, which defers every send to another tick); a name (a DHT bootstrap
 * node sharing the socket) still goes through dns.lookup.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { UdpSender } from './socket-manager.js';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

function literalLookup(host: string, opts: unknown, cb: LookupCallback): void {
  const family = net.isIP(host);
  if (family !== 0) cb(null, host, family);
  else dns.lookup(host, opts as dns.LookupOptions, cb as never);
}

export class UdpSocket implements UdpSender {
  readonly socket: dgram.Socket;

  constructor(onMessage: (buf: Buffer, address: string, port: number) => void, type: 'udp4' | 'udp6' = 'udp4') {
    this.socket = dgram.createSocket({ type, lookup: literalLookup as never, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.socket.on('message', (buf: Buffer, rinfo: dgram.RemoteInfo) => onMessage(buf, rinfo.address, rinfo.port));
  }

  bind(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(port, host, () => {
        this.socket.off('error', reject);
        resolve(this.socket.address().port);
      });
    });
  }

  send(buf: Uint8Array, len: number, port: number, address: string): void {
    this.socket.send(buf, 0, len, port, address);
  }

  queuedSends(): number {
    return this.socket.getSendQueueCount();
  }

  close(): void {
    this.socket.close();
  }
}
