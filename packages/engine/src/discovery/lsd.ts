import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

/** BEP 14's multicast group and port. */
/** BEP 14's multicast group for Local Service Discovery (IPv4). */
export const LSD_ADDRESS = '239.192.152.143';
/** BEP 14's UDP port for Local Service Discovery. */
export const LSD_PORT = 6771;
/** Info-hashes per announce: keeps a datagram well under a 1500-byte MTU. */
const MAX_HASHES_PER_MESSAGE = 20;
/** Larger datagrams are not LSD announces; they are dropped unparsed. */
const MAX_MESSAGE_BYTES = 1500;

/**
 * Local service discovery (BEP 14): one multicast UDP socket per session. It announces
 * `BT-SEARCH * HTTP/1.1` with our TCP port and info-hashes, and hands on every announce it hears for an
 * info-hash (except its own, recognised by the cookie, as libtorrent does).
 */
export class Lsd {
  private socket: dgram.Socket | null = null;
  private group = LSD_ADDRESS;
  private port = LSD_PORT;
  private readonly cookie = randomBytes(4).toString('hex');

  constructor(private readonly onPeer: (infoHashHex: string, host: string, port: number) => void) {}

  get running(): boolean {
    return this.socket !== null;
  }

  /**
   * Joins `group` on the interface `iface` (an IPv4 address; null = the default interface). On Linux the
   * socket binds to the group address itself, so it receives only LSD traffic and no unicast to that port.
   */
  async start(group: string, port: number, iface: string | null): Promise<void> {
    await this.stop();
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, process.platform === 'linux' ? group : '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((e: Error) => {
      socket.close();
      throw e;
    });
    try {
      if (iface) socket.setMulticastInterface(iface);
      socket.addMembership(group, iface ?? undefined);
      socket.setMulticastTTL(1);
      // Other clients on this host (and tests on 127.0.0.1) hear us only with loopback on.
      socket.setMulticastLoopback(true);
    } catch (e) {
      socket.close();
      throw e;
    }
    socket.on('error', () => undefined);
    socket.on('message', (buf, rinfo) => this.onMessage(buf, rinfo.address));
    this.socket = socket;
    this.group = group;
    this.port = port;
  }

  /** Announces the info-hashes (40 hex each) with our TCP port, batched into as few datagrams as fit. */
  announce(infoHashes: readonly string[], tcpPort: number): void {
    const socket = this.socket;
    if (!socket) return;
    for (let i = 0; i < infoHashes.length; i += MAX_HASHES_PER_MESSAGE) {
      const batch = infoHashes.slice(i, i + MAX_HASHES_PER_MESSAGE);
      const msg = `BT-SEARCH * HTTP/1.1\r\nHost: ${this.group}:${this.port}\r\nPort: ${tcpPort}\r\n` +
        batch.map((h) => `Infohash: ${h}\r\n`).join('') + `cookie: ${this.cookie}\r\n\r\n\r\n`;
      socket.send(Buffer.from(msg, 'latin1'), this.port, this.group, () => undefined);
    }
  }

  private onMessage(buf: Buffer, from: string): void {
    if (buf.length > MAX_MESSAGE_BYTES) return;
    const lines = buf.toString('latin1').split('\r\n');
    if (lines[0] !== 'BT-SEARCH * HTTP/1.1') return;
    let port = 0;
    let cookie = '';
    const hashes: string[] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'port') port = /^\d{1,5}$/.test(value) ? Number(value) : 0;
      else if (name === 'cookie') cookie = value;
      else if (name === 'infohash' && /^[0-9a-fA-F]{40}$/.test(value) && hashes.length < MAX_HASHES_PER_MESSAGE) hashes.push(value.toLowerCase());
    }
    if (cookie === this.cookie || port < 1 || port > 65535) return;
    for (const h of hashes) this.onPeer(h, from, port);
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
