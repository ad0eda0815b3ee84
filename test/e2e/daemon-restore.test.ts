// Issue 18: restoring 50,000 torrents at start-up decodes each one's resume data once.
import { describe, it, expect, afterEach } from '@jest/globals';
import { join } from 'node:path';
import { Session, decodeResumeData, encodeResumeData, type AddOptions, type AddTorrentParams, type ResumeData } from '@spritzle/engine';
import { Restorer } from '../../packages/cli/src/daemon/torrent-restore.js';
import { tmpDir } from '../helpers/fixtures.js';

const HASH = 'ab'.repeat(20);
const INFO = Buffer.from(`d6:lengthi16384e4:name5:x.bin12:piece lengthi16384e6:pieces20:${'p'.repeat(20)}e`);

function resume(infoHash: string, savePath: string, info?: Uint8Array): Uint8Array {
  return encodeResumeData({
    info_hash: infoHash, name: 'x.bin', save_path: savePath, flags: 0, trackers: [], tracker_tiers: [], peers: [],
    ...(info ? { info } : {}), added_time: 1, completed_time: 0, total_uploaded: 0, total_downloaded: 0,
    active_time: 0, finished_time: 0, seeding_time: 0,
  });
}

const silent = { warn: () => undefined, error: () => undefined };
const sessions: Session[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});

describe('restoring a torrent from its resume data', () => {
  it('hands the session the decoded resume data and not the bytes, so they are decoded once', async () => {
    const root = await tmpDir('restore-once');
    const calls: { params: AddTorrentParams; options: AddOptions | undefined }[] = [];
    // Only addTorrent of the session is used by a restore that succeeds.
    const session = { addTorrent: async (params: AddTorrentParams, options?: AddOptions) => void calls.push({ params, options }) };
    const r = new Restorer(session as unknown as Session, silent, root);
    const bytes = resume(HASH, join(root, 'sub'));
    const { outcome, record } = await r.restore(HASH, {
      resume: bytes, torrent: () => null, savePath: null, resumeWord: 'resume data', torrentWord: 'metadata',
    });
    expect(outcome).toBe('restored');
    expect(record.resume).toBe(bytes);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params).toEqual({});
    expect(calls[0]!.options?.resume).toEqual(decodeResumeData(bytes));
  });

  it('a session adds a torrent from resume data decoded by its caller as it would from the bytes', async () => {
    const root = await tmpDir('restore-decoded');
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    const infoHash = (await s.addTorrent({ ti: Buffer.concat([Buffer.from('d4:info'), INFO, Buffer.from('e')]), save_path: root, paused: true })).infoHash;
    const bytes = resume(infoHash, join(root, 'sub'), INFO);
    await s.removeTorrent(infoHash);
    const decoded: ResumeData = decodeResumeData(bytes);
    const h = await s.addTorrent({}, { resume: decoded });
    expect(h.infoHash).toBe(infoHash);
    const st = h.status();
    expect(st.save_path).toBe(join(root, 'sub'));
    expect(st.name).toBe('x.bin');
    expect(st.has_metadata).toBe(true);
  });
});
