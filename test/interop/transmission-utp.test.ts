/**
 * uTP with Transmission 3.00 (Debian's transmission-daemon: libutp on its UDP peer port) and our TCP off in
 * both directions, so the only way in or out is uTP. Transmission dials no one it was not told of, so we
 * dial it in both directions.
 */
import { describe, expect, it } from '@jest/globals';
import type { TorrentHandle } from '@spritzle/engine';
import { dataFiles, makeTorrent, sameBytes, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { finished, sessionsForThisFile, waitFor } from '../helpers/engine.js';
import { startTransmission } from '../helpers/transmission.js';

const newSession = sessionsForThisFile();
/** Our default encryption settings (out_enc_policy enabled): MSE over uTP, Transmission selecting plaintext. */
const UTP_ONLY = { enable_outgoing_tcp: false, enable_incoming_tcp: false } as const;

async function sameData(t: TestTorrent, save: string): Promise<void> {
  const src = dataFiles(t, t.dataRoot);
  const dst = dataFiles(t, save);
  for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
}

/** Polls the peer list while `until` runs: the transports it showed. */
async function transportsSeen(h: TorrentHandle, until: Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  const watch = setInterval(() => {
    for (const p of h.peers()) seen.add(p.transport);
  }, 50);
  try {
    await until;
  } finally {
    clearInterval(watch);
  }
  return seen;
}

describe('uTP with Transmission 3.00 (our TCP off both ways)', () => {
  it('downloads from a Transmission seed over uTP, byte-identical, and lists the peer as uTP', async () => {
    const t = await makeTorrent({ dir: await tmpDir('tr-utp-seed'), name: 'from-tr-utp.bin', files: 4_000_037, pieceLength: 262144, seed: 31 });
    const tr = await startTransmission(await tmpDir('tr-utp'), { utp: true, encryption: 0 });
    try {
      const id = await tr.add(t.torrentBytes, t.dataRoot);
      await tr.waitFor(id, (x) => x.percentDone === 1);
      const session = await newSession(UTP_ONLY);
      const save = await tmpDir('tr-utp-dl');
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${tr.peerPort}`] });
      const seen = await transportsSeen(h, finished(session, h));
      await sameData(t, save);
      expect([...seen]).toEqual(['utp']);
      const st = session.stats();
      expect(st['utp.utp_payload_pkts_in']!).toBeGreaterThan(4_000_037 / 1500);
      expect(st['peer.num_tcp_peers'] ?? 0).toBe(0);
      // No check of peer.error_encrypted_peers: one CI run counted 1 with the transfer complete and the data
      // right (cause not established). Transmission's answer to our MSE offer is checked in
      // test/interop/mse.test.ts (encryption 0 and 1, both directions).
    } finally {
      await tr.stop();
    }
  }, 90_000);

  it('seeds to Transmission over uTP, byte-identical', async () => {
    const t = await makeTorrent({ dir: await tmpDir('tr-utp-get'), name: 'to-tr-utp.bin', files: 3_000_017, pieceLength: 262144, seed: 32 });
    const tr = await startTransmission(await tmpDir('tr-utp2'), { utp: true, encryption: 0 });
    try {
      const session = await newSession(UTP_ONLY);
      const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
      await waitFor(() => h.status().state === 'seeding');
      const save = await tmpDir('tr-utp-got');
      const id = await tr.add(t.torrentBytes, save);
      h.connectPeer('127.0.0.1', tr.peerPort);
      const seen = await transportsSeen(h, tr.waitFor(id, (x) => x.percentDone === 1));
      await sameData(t, save);
      expect([...seen]).toEqual(['utp']);
      expect(session.stats()['utp.utp_payload_pkts_out']!).toBeGreaterThan(3_000_017 / 1500);
      // No check of peer.error_encrypted_peers, as in the download: we also dial as soon as torrent-add returns,
      // and a Transmission still setting the torrent up closes that first handshake (seen in CI).
    } finally {
      await tr.stop();
    }
  }, 90_000);
});
