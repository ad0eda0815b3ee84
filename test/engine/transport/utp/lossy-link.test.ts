import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { Counters, M } from '../../../../packages/engine/src/stats/counters.js';
import { DEFAULT_UTP_SETTINGS, type UtpConnection, type UtpSettings } from '../../../../packages/engine/src/transport/utp/connection.js';
import { UtpSocketManager } from '../../../../packages/engine/src/transport/utp/socket-manager.js';
import { UdpSocket } from '../../../../packages/engine/src/transport/utp/udp-socket.js';
import { startUdpRelay, type UdpRelay } from '../../../helpers/udp-relay.mjs';
import { pattern } from './fake-net.js';

interface Endpoint { mgr: UtpSocketManager; udp: UdpSocket; counters: Counters; port: number; accepted: UtpConnection[] }

async function endpoint(settings: Partial<UtpSettings> = {}): Promise<Endpoint> {
  const counters = new Counters();
  const accepted: UtpConnection[] = [];
  const holder: { mgr?: UtpSocketManager } = {};
  const udp = new UdpSocket((buf, address, port) => holder.mgr!.receive(buf, address, port));
  const mgr = new UtpSocketManager({ settings: { ...DEFAULT_UTP_SETTINGS, ...settings }, counters, udp, acceptIncoming: () => true, onAccept: (c) => accepted.push(c) });
  holder.mgr = mgr;
  const port = await udp.bind(0, '127.0.0.1');
  return { mgr, udp, counters, port, accepted };
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** Sends `data` from a to b through `relay`, writing as the window drains; resolves with what b received. */
async function transfer(a: Endpoint, b: Endpoint, relayPort: number, data: Uint8Array): Promise<{ received: Buffer; closed: string | null }> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  let closed: string | null = null;
  return new Promise((resolve, reject) => {
    const conn = a.mgr.connect('127.0.0.1', relayPort, (err) => {
      if (err) return reject(new Error(err));
      const server = b.accepted[0]!;
      server.attach({
        onData: (d) => {
          chunks.push(Uint8Array.from(d));
          got += d.length;
          if (got === data.length) resolve({ received: Buffer.concat(chunks), closed });
        },
        onClosed: (r) => {
          closed = r;
          if (got < data.length) reject(new Error(`closed early: ${r} after ${got} bytes`));
        },
      });
      let off = 0;
      const pump = (): void => {
        while (off < data.length && conn.writeQueued < 256 * 1024) {
          const n = Math.min(16 * 1024, data.length - off);
          conn.write(data.subarray(off, off + n));
          off += n;
        }
        if (off < data.length) setTimeout(pump, 5);
      };
      pump();
    });
    conn.attach({ onData: () => {}, onClosed: (r) => r !== "done" && reject(new Error(`sender closed: ${r} ${JSON.stringify(conn.stats)} ${JSON.stringify(Object.fromEntries(Object.entries(a.counters.snapshot()).filter(([k, v]) => k.startsWith("utp") && v)))}`)) });
  });
}

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

describe('uTP over a lossy link (seeded UDP relay: delay, jitter, reordering, duplication, loss)', () => {
  it.each([
    [0.01, 2048],
    [0.05, 1024],
    [0.2, 512],
  ])('delivers byte-identical data at %p loss (%p KiB)', async (loss, kib) => {
    const seed = 1000 + Math.round(loss * 100);
    // At 20 % loss each way a packet and its ack both arrive only 64 % of the time, so four timeouts in a
    // row (utp_num_resends = 3) or three lost SYNs (utp_syn_resends = 2) are routine: such a path needs
    // libtorrent's tunables raised, as a user on it would.
    const settings = loss >= 0.2 ? { numResends: 8, synResends: 5, connectTimeoutMs: 6000 } : {};
    const a = await endpoint(settings);
    const b = await endpoint(settings);
    const relay: UdpRelay = await startUdpRelay({ target: { port: b.port }, delayMs: 5, jitterMs: 2, loss, duplicate: 0.01, reorder: 0.02, seed });
    cleanup.push(() => (relay.close(), a.mgr.close(), b.mgr.close(), a.udp.close(), b.udp.close()));
    const data = pattern(kib * 1024, seed);
    const { received } = await transfer(a, b, relay.port, data);
    expect(sha1(received)).toBe(sha1(data));
    expect(relay.stats.dropped).toBeGreaterThan(0);
    expect(a.counters.get(M.utp_utp_packet_resend)).toBeGreaterThan(0);
  }, 120_000);
});
