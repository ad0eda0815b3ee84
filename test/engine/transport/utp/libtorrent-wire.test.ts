/**
 * Our uTP against libtorrent's, below the session: a BitTorrent handshake and a whole torrent's blocks
 * requested over one uTP connection from a libtorrent seed whose TCP is off in both directions.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counters, M } from '../../../../packages/engine/src/stats/counters.js';
import { DEFAULT_UTP_SETTINGS } from '../../../../packages/engine/src/transport/utp/connection.js';
import { UtpSocketManager } from '../../../../packages/engine/src/transport/utp/socket-manager.js';
import { UdpSocket } from '../../../../packages/engine/src/transport/utp/udp-socket.js';
import { makeTorrent, tmpDir } from '../../../helpers/fixtures.js';
import { startLtSeed, type LtSeed } from '../../../helpers/libtorrent.js';
import { startUdpRelay, type UdpRelay } from '../../../helpers/udp-relay.mjs';

const BLOCK = 16 * 1024;
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

function msg(id: number, payload: number[] = []): Uint8Array {
  const b = Buffer.alloc(5 + payload.length * 4);
  b.writeUInt32BE(1 + payload.length * 4, 0);
  b[4] = id;
  payload.forEach((v, i) => b.writeUInt32BE(v, 5 + i * 4));
  return b;
}

/** Fetches every block of the torrent from the seed at `port` over uTP; resolves with the bytes. */
async function fetchAll(port: number, infoHash: string, size: number, pieceLength: number, counters: Counters): Promise<Buffer> {
  let mgr: UtpSocketManager | null = null;
  const udp = new UdpSocket((buf, address, p) => mgr!.receive(buf, address, p));
  mgr = new UtpSocketManager({ settings: DEFAULT_UTP_SETTINGS, counters, udp, acceptIncoming: () => false, onAccept: (c) => c.close('no') });
  await udp.bind(0, '127.0.0.1');
  cleanup.push(() => (mgr!.close(), udp.close()));
  const out = Buffer.alloc(size);
  let received = 0;
  return new Promise((resolve, reject) => {
    const conn = mgr!.connect('127.0.0.1', port, (err) => {
      if (err) return reject(new Error(`uTP connect: ${err}`));
      const hs = Buffer.alloc(68);
      hs[0] = 19;
      hs.write('BitTorrent protocol', 1, 'latin1');
      Buffer.from(infoHash, 'hex').copy(hs, 28);
      hs.write('-SZ0001-utpwiretest0', 48, 'latin1');
      conn.write(hs);
      conn.write(msg(2)); // interested
    });
    let buf = Buffer.alloc(0);
    let last = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - last < 15_000) return;
      clearInterval(watchdog);
      reject(new Error(`stalled after ${received} bytes: ${JSON.stringify(conn.stats)} handshaken=${handshaken} requested=${requested}`));
    }, 1000);
    cleanup.push(() => clearInterval(watchdog));
    let handshaken = false;
    let requested = false;
    conn.attach({
      onData: (d) => {
        last = Date.now();
        buf = Buffer.concat([buf, d]);
        if (!handshaken) {
          if (buf.length < 68) return;
          if (buf.subarray(28, 48).toString('hex') !== infoHash) return reject(new Error('wrong info hash in the handshake'));
          handshaken = true;
          buf = buf.subarray(68);
        }
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const len = buf.readUInt32BE(0);
          const id = len > 0 ? buf[4] : -1;
          if (id === 1 && !requested) {
            requested = true;
            conn.cork();
            for (let off = 0; off < size; off += BLOCK) {
              const piece = Math.floor(off / pieceLength);
              conn.write(msg(6, [piece, off - piece * pieceLength, Math.min(BLOCK, size - off)]));
            }
            conn.uncork();
          } else if (id === 7) {
            const piece = buf.readUInt32BE(5);
            const begin = buf.readUInt32BE(9);
            buf.copy(out, piece * pieceLength + begin, 13, 4 + len);
            received += len - 9;
            if (received === size) {
              conn.close('done');
              resolve(out);
            }
          }
          buf = buf.subarray(4 + len);
        }
      },
      onClosed: (r) => {
        if (received < size) reject(new Error(`closed after ${received} bytes: ${r}`));
      },
    });
  });
}

describe('uTP against libtorrent (TCP off on the libtorrent side)', () => {
  let seed: LtSeed;
  let data: Buffer;
  let t: Awaited<ReturnType<typeof makeTorrent>>;
  const size = 4 * 1024 * 1024 + 12_345;
  const pieceLength = 256 * 1024;

  it('downloads a whole torrent block by block over one uTP connection, byte-identical', async () => {
    const dir = await tmpDir('utp-wire');
    t = await makeTorrent({ dir, name: 'utp-wire.bin', files: size, pieceLength, seed: 13 });
    data = await readFile(join(dir, 'utp-wire.bin'));
    seed = await startLtSeed(t.torrentPath, dir, { transport: 'utp', seedMode: true });
    cleanup.push(() => seed.stop());
    const counters = new Counters();
    const got = await fetchAll(seed.port, t.infoHash, size, pieceLength, counters);
    expect(got.equals(data)).toBe(true);
    expect(counters.get(M.utp_utp_payload_pkts_in)).toBeGreaterThan(size / 1500);
  }, 60_000);

  // One connection, so libtorrent's own limits decide: its sender gives up on a packet sent
  // utp_num_resends times, which at 5 % loss (and with jitter-reordering) happens to libtorrent talking to
  // libtorrent too (its peer layer then reconnects). Higher loss rates are tested between two spritzles.
  it('does the same through the lossy relay at 1 % loss', async () => {
    const relay: UdpRelay = await startUdpRelay({ target: { port: seed.port }, delayMs: 5, loss: 0.01, seed: 29 });
    cleanup.push(() => relay.close());
    const counters = new Counters();
    const got = await fetchAll(relay.port, t.infoHash, size, pieceLength, counters);
    expect(got.equals(data)).toBe(true);
    expect(relay.stats.dropped).toBeGreaterThan(0);
  }, 120_000);
});
