import { describe, it, expect } from '@jest/globals';
import { normalizeAddParams, TORRENT_FLAGS, DEFAULT_FLAGS, flagNames, SpritzleError } from '@spritzle/engine';

function fieldOf(input: unknown): string | undefined {
  try {
    normalizeAddParams(input);
  } catch (e) {
    if (e instanceof SpritzleError && e.code === 'invalid_param') return e.field;
    throw e;
  }
  return undefined;
}

describe('add-torrent params', () => {
  it('default to libtorrent default flags minus paused (spritzle starts torrents itself)', () => {
    const p = normalizeAddParams({ info_hash: 'A'.repeat(40) });
    expect(p.flags).toBe(DEFAULT_FLAGS);
    expect(flagNames(p.flags)).toEqual(['apply_ip_filter', 'auto_managed', 'update_subscribe']);
    expect(p.info_hash).toBe('a'.repeat(40));
  });

  it('take flags by name, as a comma list, or as libtorrent 2.0 bits', () => {
    expect(normalizeAddParams({ flags: ['paused', 'sequential_download'] }).flags).toBe(TORRENT_FLAGS.paused | TORRENT_FLAGS.sequential_download);
    expect(normalizeAddParams({ flags: 'paused,seed_mode' }).flags).toBe(TORRENT_FLAGS.paused | TORRENT_FLAGS.seed_mode);
    expect(normalizeAddParams({ flags: 16 }).flags).toBe(TORRENT_FLAGS.paused);
  });

  it('refuse a flags bitmask with bits beyond 32 (2^53, 2^32 + 16) or unknown ones, naming flags', () => {
    for (const flags of [2 ** 53, 2 ** 53 - 1, 2 ** 32, 2 ** 32 + 16, 2 ** 31, 1 << 14, -16, 1.5, Number.MAX_VALUE]) {
      expect(fieldOf({ flags })).toBe('flags');
    }
  });

  it('apply the old boolean keys on top of the flags', () => {
    const p = normalizeAddParams({ sequential_download: true, apply_ip_filter: false });
    expect(p.flags & TORRENT_FLAGS.sequential_download).toBeTruthy();
    expect(p.flags & TORRENT_FLAGS.apply_ip_filter).toBe(0);
  });

  it('make {"paused": true} mean paused, not queued for the auto-manager', () => {
    const p = normalizeAddParams({ paused: true });
    expect(flagNames(p.flags)).toContain('paused');
    expect(flagNames(p.flags)).not.toContain('auto_managed');
  });

  it('parse peers as "ip:port", "[v6]:port" or [ip, port]', () => {
    expect(normalizeAddParams({ peers: ['127.0.0.1:6881', '[::1]:7000', ['10.0.0.1', 51413]] }).peers).toEqual([
      { host: '127.0.0.1', port: 6881 }, { host: '::1', port: 7000 }, { host: '10.0.0.1', port: 51413 },
    ]);
  });

  it('refuse an unknown key, naming it', () => {
    expect(fieldOf({ bogus_key: 1 })).toBe('bogus_key');
  });

  it('refuse libtorrent keys spritzle does not implement, with the reason', () => {
    expect(() => normalizeAddParams({ banned_peers: [] } as never)).toThrow(/banned_peers is not supported/);
  });

  it('take http_seeds (BEP 17 HTTP seeds) as http(s) URLs, naming a bad entry', () => {
    expect(normalizeAddParams({ http_seeds: ['http://x/seed.php'] }).http_seeds).toEqual(['http://x/seed.php']);
    expect(fieldOf({ http_seeds: ['http://x/', 'ftp://y/'] })).toBe('http_seeds[1]');
  });

  it('take url_seeds (BEP 19 web seeds) as http(s) URLs, naming a bad entry', () => {
    expect(normalizeAddParams({ url_seeds: ['http://x/a.bin', 'https://y/'] }).url_seeds).toEqual(['http://x/a.bin', 'https://y/']);
    expect(fieldOf({ url_seeds: ['http://x/', 'ftp://y/'] })).toBe('url_seeds[1]');
    expect(fieldOf({ url_seeds: 'http://x/' })).toBe('url_seeds');
  });

  it('refuse ill-typed values, naming the field', () => {
    expect(fieldOf({ save_path: 5 })).toBe('save_path');
    expect(fieldOf({ file_priorities: [1, 8] })).toBe('file_priorities[1]');
    expect(fieldOf({ peers: ['nope'] })).toBe('peers');
    expect(fieldOf({ peers: ['1.2.3.4:0'] })).toBe('peers');
    expect(fieldOf({ flags: ['paused', 'warp_speed'] })).toBe('flags');
    expect(fieldOf({ flags: 1 << 30 })).toBe('flags');
    expect(fieldOf({ upload_limit: -2 })).toBe('upload_limit');
    expect(fieldOf({ paused: 'yes' })).toBe('paused');
    expect(fieldOf({ info_hash: 'abc' })).toBe('info_hash');
    expect(fieldOf({ storage_mode: 'storage_mode_allocate' })).toBe('storage_mode');
    expect(fieldOf({ ti: 'not bytes' })).toBe('ti');
    expect(fieldOf('a string')).toBe('params');
  });
});
