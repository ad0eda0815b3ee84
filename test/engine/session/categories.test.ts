// Categories (with save paths) and tags: on the torrent, in its status and resume data, and in the session.
import { describe, it, expect } from '@jest/globals';
import path from 'node:path';
import { decodeResumeData } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile } from '../../helpers/engine.js';

const newSession = sessionsForThisFile();
let n = 0;
async function torrentBytes(): Promise<Uint8Array> {
  const dir = await tmpDir('spritzle-categories');
  return (await makeTorrent({ dir, name: `c${n}`, files: 20_000, pieceLength: 16384, seed: 300 + n++ })).torrentBytes;
}

describe('categories and tags', () => {
  it('a torrent added in a category with a save path goes there (relative to the session\'s save_path)', async () => {
    const root = await tmpDir('spritzle-cat-root');
    const s = await newSession({ save_path: root });
    s.setCategory('tv', 'shows');
    const h = await s.addTorrent({ ti: await torrentBytes(), category: 'tv', paused: true });
    expect(h.status()).toMatchObject({ category: 'tv', save_path: path.join(root, 'shows') });
    const own = await s.addTorrent({ ti: await torrentBytes(), category: 'tv', save_path: path.join(root, 'elsewhere'), paused: true });
    expect(own.savePath()).toBe(path.join(root, 'elsewhere'));
  });

  it('adding in an unknown category creates it without a save path', async () => {
    const s = await newSession();
    await s.addTorrent({ ti: await torrentBytes(), category: 'new', paused: true });
    expect(s.categories()).toEqual([{ name: 'new', save_path: '' }]);
  });

  it('tags are added, removed, listed sorted without duplicates, and shown in the status', async () => {
    const s = await newSession();
    const h = await s.addTorrent({ ti: await torrentBytes(), tags: ['b', 'a'], paused: true });
    expect(h.addTags(['c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(h.removeTags(['b'])).toEqual(['a', 'c']);
    expect(h.status().tags).toEqual(['a', 'c']);
    s.createTags(['lonely']);
    expect(s.tags()).toEqual(['a', 'c', 'lonely']);
    s.deleteTag('a');
    expect(h.tags()).toEqual(['c']);
  });

  it('removing a category takes it off its torrents', async () => {
    const s = await newSession();
    const h = await s.addTorrent({ ti: await torrentBytes(), category: 'gone', paused: true });
    expect(s.removeCategory('gone')).toBe(true);
    expect(h.category()).toBe('');
    expect(s.categories()).toEqual([]);
  });

  it('category and tags are saved with the resume data and come back with it', async () => {
    const s = await newSession();
    const h = await s.addTorrent({ ti: await torrentBytes(), category: 'movies', tags: ['hd'], paused: true });
    const resume = await h.saveResumeData();
    expect(decodeResumeData(resume)).toMatchObject({ category: 'movies', tags: ['hd'] });
    await s.removeTorrent(h.infoHash);
    const s2 = await newSession();
    const back = await s2.addTorrent({ resume_data: resume });
    expect([back.category(), back.tags()]).toEqual(['movies', ['hd']]);
    expect(s2.categories()).toEqual([{ name: 'movies', save_path: '' }]);
  });

  it('bad names are refused, naming the field', async () => {
    const s = await newSession();
    await expect(s.addTorrent({ ti: await torrentBytes(), category: '/abs' })).rejects.toMatchObject({ code: 'invalid_param', field: 'category' });
    await expect(s.addTorrent({ ti: await torrentBytes(), tags: ['a,b'] })).rejects.toMatchObject({ code: 'invalid_param', field: 'tags[0]' });
    const h = await s.addTorrent({ ti: await torrentBytes(), paused: true });
    expect(() => h.update({ sequential_download: true, category: 'a//b' })).toThrow(expect.objectContaining({ field: 'category' }));
    expect(h.status().sequential_download).toBe(false);
  });
});
