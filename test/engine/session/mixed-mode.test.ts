import { describe, it, expect } from '@jest/globals';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

/**
 * One seed, two downloaders on 127.0.0.1: one over TCP only, one over uTP only. The seed's upload limit keeps
 * both downloading for many seconds, so that its tick sees both with requests pending. Assertions are on the
 * TCP peer class's limits the seed's tick set, not on timing.
 */
async function seedWithTcpAndUtpPeers(mixedMode: number) {
  const t = await makeTorrent({ dir: await tmpDir('mm-src'), name: 'mm.bin', files: 8_000_000, pieceLength: 65536 });
  const seed = await session({ upload_rate_limit: 400_000, mixed_mode_algorithm: mixedMode });
  const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await waitFor(() => sh.status().is_seeding);
  const peer = `127.0.0.1:${seed.listenPort}`;
  const overTcp = await session({ enable_outgoing_utp: false });
  const overUtp = await session({ enable_outgoing_tcp: false });
  await overTcp.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('mm-tcp'), peers: [peer] });
  await overUtp.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('mm-utp'), peers: [peer] });
  const transports = () => sh.peers().map((p) => p.transport).sort().join(',');
  await waitFor(() => transports() === 'tcp,utp', 30_000, 'a TCP and a uTP peer at the seed');
  // A tick that counted both with requests pending at the seed, and what it decided (one snapshot).
  let seen: { counts: typeof seed.tcpClass.counts; limits: typeof seed.tcpClass.limits; upLimited: boolean; downLimited: boolean } | undefined;
  await waitFor(() => {
    const c = seed.tcpClass;
    if (c.counts.upTcp !== 1 || c.counts.upUtp !== 1) return false;
    seen = { counts: c.counts, limits: c.limits, upLimited: c.up.limited, downLimited: c.down.limited };
    return true;
  }, 30_000, 'a seed tick counting both peers with requests pending');
  return seen!;
}

describe('mixed_mode_algorithm', () => {
  it('peer_proportional limits the TCP peer class to its share of the upload rate while a uTP peer downloads', async () => {
    const seen = await seedWithTcpAndUtpPeers(1);
    // One TCP and one uTP peer: half the seed's current upload rate, never under libtorrent's 5,000 B/s floor.
    expect(seen.limits.upload).toBeGreaterThanOrEqual(5000);
    expect(seen.upLimited).toBe(true);
    // The seed downloads nothing: no uTP peer is active that way, and that direction stays unlimited.
    expect(seen.counts.downUtp).toBe(0);
    expect(seen.limits.download).toBe(0);
    expect(seen.downLimited).toBe(false);
  });

  it('prefer_tcp leaves the TCP peer class unlimited with TCP and uTP peers downloading', async () => {
    const seen = await seedWithTcpAndUtpPeers(0);
    expect(seen.limits).toEqual({ upload: 0, download: 0 });
    expect(seen.upLimited).toBe(false);
  });
});
