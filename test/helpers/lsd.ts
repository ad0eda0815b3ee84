// A BEP 14 listener for the discovery tests: joins the LSD multicast group on 127.0.0.1 (multicast works on
// lo with IP_MULTICAST_LOOP on and the membership taken on 127.0.0.1) and records what it hears.
import dgram from 'node:dgram';
import { LSD_ADDRESS } from '@spritzle/engine';

export interface LsdListener {
  /** Info-hashes (hex) heard, with the announcing Port header. */
  heard: { infoHash: string; port: number }[];
  close(): Promise<void>;
}

export async function listenLsd(port: number, group = LSD_ADDRESS): Promise<LsdListener> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(port, group, () => resolve()));
  socket.addMembership(group, '127.0.0.1');
  const heard: LsdListener['heard'] = [];
  socket.on('message', (buf) => {
    const text = buf.toString('latin1');
    const p = /\r\nPort: (\d+)\r\n/i.exec(text);
    for (const m of text.matchAll(/\r\nInfohash: ([0-9a-fA-F]{40})/gi)) heard.push({ infoHash: m[1]!.toLowerCase(), port: Number(p?.[1] ?? 0) });
  });
  return { heard, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}
