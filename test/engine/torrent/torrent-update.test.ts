import { describe, it, expect, afterAll } from '@jest/globals';
import { Session, SpritzleError, TORRENT_UPDATE_RULES, validateTorrentUpdate } from '@spritzle/engine';
import { TORRENT_UPDATE } from '../../../packages/server/src/schemas.js';

// PATCH /torrent/<hash>'s rules live in one place (the engine): the route, the OpenAPI schema and
// TorrentHandle.update apply the same ones.
describe('torrent update rules', () => {
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
  });

  const refused = (u: unknown): string | undefined => {
    try {
      validateTorrentUpdate(u);
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(SpritzleError);
      expect((e as SpritzleError).code).toBe('invalid_param');
      return (e as SpritzleError).field;
    }
  };

  it('accept each changeable key with a good value', () => {
    const u = { sequential_download: true, file_priorities: [0, 7], upload_limit: -1, download_limit: 1000, max_uploads: 4, max_connections: 50 };
    expect(validateTorrentUpdate(u)).toEqual(u);
  });

  it('refuse a bad value or an unknown key, naming it', () => {
    expect(refused({ sequential_download: 1 })).toBe('sequential_download');
    expect(refused({ file_priorities: [8] })).toBe('file_priorities');
    expect(refused({ upload_limit: -2 })).toBe('upload_limit');
    expect(refused({ max_connections: 2 ** 60 })).toBe('max_connections');
    expect(refused({ name: 'x' })).toBe('name');
    expect(refused([])).toBe('body');
  });

  it('are the OpenAPI schema of the PATCH body', () => {
    expect(TORRENT_UPDATE.properties).toEqual(TORRENT_UPDATE_RULES);
  });

  it('are what TorrentHandle.update applies: it refuses what the route refuses, and changes nothing then', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    const h = await s.addTorrent({ info_hash: 'ab'.repeat(20), save_path: '/tmp', flags: ['paused'] });
    expect(() => h.update({ max_connections: 5, upload_limit: 2 ** 60 })).toThrow(SpritzleError);
    expect(() => h.update({ max_connections: 5, bogus: 1 } as never)).toThrow(/bogus/);
    expect(h.status().connections_limit).toBe(-1);
    h.update({ max_connections: 7 });
    expect(h.status().connections_limit).toBe(7);
  });
});
