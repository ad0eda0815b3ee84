// Issue 9: a daemon start must not stall on one big torrent. A torrent at the file-count cap whose resume
// data cannot be used as it is comes back from its metadata, which was parsed on the event loop (most of a
// second) and then parsed again by the session; it is now parsed on a parser thread, as every big add is.
import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { encodeResumeData, parseTorrentFile } from '@spritzle/engine';
import { Restorer, metadataOf } from '../../packages/cli/src/daemon/torrent-restore.js';
import { MAX_FILES } from '../../packages/engine/src/metainfo/metainfo.js';
import { sessionsForThisFile } from '../helpers/engine.js';
import { longestStall, manyFilesTorrent } from '../helpers/event-loop.js';
import { tmpDir } from '../helpers/fixtures.js';

const newSession = sessionsForThisFile();
const quiet = { warn: () => undefined, error: () => undefined };

describe(`a daemon start with a ${MAX_FILES}-file torrent in its state (issue 9)`, () => {
  it('brings it back from the metadata in its unusable resume data without blocking the event loop for most of a synchronous parse', async () => {
    const torrent = manyFilesTorrent(MAX_FILES);
    const info = torrent.subarray('d4:info'.length, torrent.length - 1);
    const hash = createHash('sha1').update(info).digest('hex');
    // Its save path is outside the download root: the resume data cannot be used, its metadata can.
    const resume = encodeResumeData({
      info_hash: hash, name: 'many', save_path: '/outside/the/root', flags: 0, info, trackers: [], tracker_tiers: [], peers: [],
      added_time: 1, completed_time: 0, total_uploaded: 0, total_downloaded: 0, active_time: 0, finished_time: 0, seeding_time: 0,
    });
    const session = await newSession();
    const root = await tmpDir('big-restore-');
    const restorer = new Restorer(session, quiet, root);
    const { result, longestMs } = await longestStall(() => restorer.restore(hash, {
      resume, torrent: () => metadataOf(resume), savePath: null, resumeWord: 'resume data', torrentWord: 'metadata',
    }));
    // Measured after the restore, so that the garbage of this parse is not collected during it.
    const t0 = performance.now();
    parseTorrentFile(torrent);
    const syncMs = performance.now() - t0;
    console.log(`sync parse ${syncMs.toFixed(0)} ms; during the restore: longest block ${longestMs.toFixed(0)} ms`);
    expect(result.outcome).toBe('broken');
    const h = session.findTorrent(hash)!;
    expect(h.status().error).toMatch(/save path/);
    expect(h.files()).toHaveLength(MAX_FILES);
    // Relative to the synchronous parse on the same machine in the same test (the machine is shared and loaded).
    // The old code ran that whole parse on this thread (its longest block was 1.1-1.5x the parse); the bound sits
    // well below that yet clear of the restore's other work on a loaded 2-core machine (0.35-0.6x measured).
    expect(longestMs).toBeLessThan(syncMs * 0.8);
  });
});
