import { describe, expect, it } from '@jest/globals';
import dgram from 'node:dgram';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../../../helpers/fixtures.js';
import { finished, sessionsForThisFile, waitFor } from '../../../helpers/engine.js';

const session = sessionsForThisFile();

/** A KRPC ping to 127.0.0.1:port; resolves with the answer's bytes (or null after 3 s). */
function krpcPing(port: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => (sock.close(), resolve(null)), 3000);
    sock.on('message', (buf) => {
      clearTimeout(timer);
      sock.close();
      resolve(buf);
    });
    sock.send(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'), port, '127.0.0.1');
  });
}

describe('one UDP port for uTP and the DHT (libtorrent\'s single UDP socket)', () => {
  it('answers DHT pings and carries a uTP download on the listen port at the same time', async () => {
    const t = await makeTorrent({ dir: await tmpDir('shared-src'), name: 'shared.bin', files: 1_000_000, pieceLength: 65536, seed: 11 });
    const seed = await session({ enable_dht: true, dht_bootstrap_nodes: '' });
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const answer = await krpcPing(seed.listenPort);
    expect(answer?.toString('latin1')).toContain('1:y1:r');
    const leech = await session();
    const save = await tmpDir('shared-dl');
    const h = await leech.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.listenPort}`] });
    await finished(leech, h);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(seed.stats()['utp.utp_payload_pkts_out']!).toBeGreaterThan(1_000_000 / 1500);
    expect(seed.stats()['dht.dht_ping_in']!).toBe(1);
    expect(await krpcPing(seed.listenPort)).not.toBeNull();
  });
});
