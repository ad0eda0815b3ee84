// BEP 52 on the DHT: a hybrid torrent is in two swarms and announces both its v1 hash and its truncated v2
// hash; a peer that knows only the v2 torrent (a btmh magnet) finds the seed by the v2 hash.
import { describe, it, expect, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Session, createTorrentFromData, type DiscoveryOptions } from '@spritzle/engine';
import { tmpDir } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { startPlainDhtNodes, stopPlainDhtNodes, type PlainDhtNode } from '../../helpers/dht.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const FAST: DiscoveryOptions = { dhtAnnounceInterval: 1 };

describe('a hybrid torrent on the DHT', () => {
  let plain: PlainDhtNode[] = [];
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await stopPlainDhtNodes(plain);
  });

  it('announces its v1 and its truncated v2 hash, and a v2 magnet finds the seed by the v2 one', async () => {
    plain = await startPlainDhtNodes(3);
    const data = randomBytes(200_000);
    const t = createTorrentFromData([{ path: ['h.bin'], data }], { version: 'hybrid', pieceLength: 32768, name: 'h.bin', singleFile: true });
    const dir = await tmpDir('dht-hybrid');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'h.bin'), data);
    const mk = async (bootstrap: string): Promise<Session> => {
      const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: true, dht_bootstrap_nodes: bootstrap }, { discovery: FAST });
      sessions.push(s);
      return s;
    };
    const seed = await mk(plain[0]!.addr);
    await seed.addTorrent({ ti: t.torrent, save_path: dir });
    const v2Swarm = t.infoHashV2.slice(0, 40);
    await waitFor(() => plain.some((n) => n.announces.includes(t.infoHashV1!)) && plain.some((n) => n.announces.includes(v2Swarm)), 10_000, 'both announces');
    const leecher = await mk(plain[1]!.addr);
    const h = await leecher.addTorrent({ url: `magnet:?xt=urn:btmh:1220${t.infoHashV2}`, save_path: await tmpDir('dht-hybrid-dl') });
    await finished(leecher, h, 30_000);
    expect(h.status().info_hashes).toEqual({ v1: t.infoHashV1, v2: t.infoHashV2 });
  });
});
