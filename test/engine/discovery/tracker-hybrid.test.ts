// BEP 52 with trackers: a hybrid torrent is in two swarms and announces both its v1 hash and its truncated
// v2 hash; a peer that knows only the v2 torrent (a btmh magnet) finds the seed through the tracker.
import { describe, it, expect, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Session, createTorrentFromData } from '@spritzle/engine';
import { tmpDir } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { startLocalTracker, type LocalTracker } from '../../helpers/trackers.js';

describe('a hybrid torrent and its trackers', () => {
  let tracker: LocalTracker | null = null;
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await tracker?.close();
  });

  it.each(['http', 'udp'] as const)('announces both hashes over %s, and a v2 magnet finds the seed', async (kind) => {
    tracker ??= await startLocalTracker();
    const url = kind === 'http' ? tracker.httpUrl : tracker.udpUrl;
    const data = randomBytes(100_000);
    const t = createTorrentFromData([{ path: [`${kind}.bin`], data }], { version: 'hybrid', pieceLength: 16384, name: `${kind}.bin`, singleFile: true });
    const dir = await tmpDir(`tracker-hybrid-${kind}`);
    await writeFile(path.join(dir, `${kind}.bin`), data);
    const seed = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(seed);
    await seed.addTorrent({ ti: t.torrent, save_path: dir, trackers: [url] });
    const v2Swarm = t.infoHashV2.slice(0, 40);
    await waitFor(() => tracker!.events.some((e) => e.infoHash === t.infoHashV1) && tracker!.events.some((e) => e.infoHash === v2Swarm), 10_000, 'both announces');
    const leecher = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(leecher);
    const h = await leecher.addTorrent({ url: `magnet:?xt=urn:btmh:1220${t.infoHashV2}&tr=${encodeURIComponent(url)}`, save_path: await tmpDir('tracker-hybrid-dl') });
    await finished(leecher, h, 30_000);
    expect(h.status().info_hashes.v1).toBe(t.infoHashV1);
  });
});
