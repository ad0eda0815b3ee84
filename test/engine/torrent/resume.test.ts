import { describe, it, expect } from '@jest/globals';
import { utimes, writeFile, readFile } from 'node:fs/promises';
import { Session, SpritzleError, decodeResumeData } from '@spritzle/engine';
import { makeTorrent, tmpDir, dataFiles } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

async function seededResume(name: string): Promise<{ resume: Uint8Array; file: string; infoHash: string }> {
  const t = await makeTorrent({ dir: await tmpDir(`resume-${name}`), name: `${name}.bin`, files: 600_000, pieceLength: 32768 });
  const s = await session();
  const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await waitFor(() => h.status().is_seeding);
  const resume = await h.saveResumeData();
  await s.removeTorrent(t.infoHash);
  return { resume, file: dataFiles(t, t.dataRoot)[0]!, infoHash: t.infoHash };
}

describe('fast resume', () => {
  it('brings a complete torrent back seeding without hashing its data', async () => {
    const { resume, infoHash } = await seededResume('complete');
    const s = await session();
    const states: string[] = [];
    s.on('state_changed', ({ state }) => states.push(state));
    const h = await s.addTorrent({ resume_data: resume });
    expect(h.infoHash).toBe(infoHash);
    expect(h.status().state).toBe('seeding');
    expect(states).toEqual(['seeding']);
    expect(s.stats()['disk.num_blocks_hashed']).toBe(0);
    expect(h.status().need_save_resume).toBe(false);
  });

  it('keeps a paused torrent paused', async () => {
    const t = await makeTorrent({ dir: await tmpDir('resume-paused'), name: 'p.bin', files: 100_000 });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('resume-paused-dl'), flags: ['paused'] });
    const resume = await h.saveResumeData();
    const savePath = h.status().save_path;
    await s.removeTorrent(t.infoHash);
    const h2 = await (await session()).addTorrent({ resume_data: resume });
    expect(h2.status().paused).toBe(true);
    expect(h2.status().save_path).toBe(savePath);
  });

  it('re-hashes when a file changed after the resume data was saved, and says why', async () => {
    const { resume, file } = await seededResume('changed');
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    const s = await session();
    const rejected: string[] = [];
    s.on('fastresume_rejected', ({ error }) => rejected.push(error));
    const h = await s.addTorrent({ resume_data: resume });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/changed on disk/);
    expect(h.status().state).toBe('seeding');
    expect(s.stats()['disk.num_blocks_hashed']).toBeGreaterThan(0);
  });

  it('re-hashes and finds the damage when data was altered behind its back', async () => {
    const { resume, file } = await seededResume('damaged');
    const bytes = await readFile(file);
    bytes[100] = bytes[100]! ^ 1;
    await writeFile(file, bytes);
    const h = await (await session()).addTorrent({ resume_data: resume });
    expect(h.status().state).toBe('downloading');
    expect(h.status().pieces[0]).toBe(false);
    expect(h.status().num_pieces).toBe(18);
  });

  it('refuses damaged resume data with a clear error and adds nothing', async () => {
    const { resume } = await seededResume('garbage');
    const s = await session();
    for (const bad of [Buffer.from('garbage'), resume.subarray(0, resume.length - 10)]) {
      await expect(s.addTorrent({ resume_data: bad })).rejects.toThrow(SpritzleError);
    }
    expect(s.torrents()).toHaveLength(0);
  });

  it('records totals, times, priorities and peers', async () => {
    const t = await makeTorrent({ dir: await tmpDir('resume-totals'), name: 't.bin', files: 200_000, pieceLength: 16384 });
    const seed = await session();
    await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('resume-totals-dl'), peers: [`127.0.0.1:${seed.listenPort}`] });
    await finished(s, h);
    const r = decodeResumeData(await h.saveResumeData());
    expect(r.total_downloaded).toBe(200_000);
    expect(r.completed_time).toBeGreaterThan(0);
    expect(r.file_priorities).toEqual([4]);
    expect(r.peers).toEqual([`127.0.0.1:${seed.listenPort}`]);
    expect(r.info).toBeDefined();
  });
});
