import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { validateSettings, DEFAULT_SETTINGS, Session, SpritzleError } from '@spritzle/engine';

describe('session settings', () => {
  it('use libtorrent names and defaults', () => {
    expect(DEFAULT_SETTINGS.listen_interfaces).toBe('0.0.0.0:6881');
    expect(DEFAULT_SETTINGS.unchoke_slots_limit).toBe(8);
    expect(DEFAULT_SETTINGS.request_queue_time).toBe(3);
  });

  it('give our peer ids a client code no known client uses: libtorrent can only name it by its letters', () => {
    expect(DEFAULT_SETTINGS.peer_fingerprint).toBe('-ZL0100-');
    // libtorrent's identify_client (Debian's python3-libtorrent); -SZ0100- was Shareaza's code ("Shareaza 0.1.0").
    const peerId = `${DEFAULT_SETTINGS.peer_fingerprint}abcdefghijkl`;
    const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, libtorrent as lt; print(lt.identify_client(lt.sha1_hash(sys.argv[1].encode())))', peerId], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('ZL 0.1.0');
  });

  it('coerce numeric strings for numeric settings, as the original spritzle did', () => {
    expect(validateSettings({ unchoke_slots_limit: '4', enable_dht: 'true' })).toEqual({ unchoke_slots_limit: 4, enable_dht: true });
  });

  it('refuse unknown names and wrong types, naming the setting', () => {
    for (const [input, field] of [[{ bogus: 1 }, 'bogus'], [{ unchoke_slots_limit: 'many' }, 'unchoke_slots_limit'], [{ listen_interfaces: 'nope' }, 'listen_interfaces']] as const) {
      try {
        validateSettings(input);
        throw new Error('expected an error');
      } catch (e) {
        expect(e).toBeInstanceOf(SpritzleError);
        expect((e as SpritzleError).field).toBe(field);
      }
    }
  });

  it('refuse non-integers and integers out of range like settings_pack, naming the setting', () => {
    const cases: Record<string, unknown>[] = [
      { connections_limit: 1.5 }, { connections_limit: 1e15 }, { connections_limit: -1 }, { dht_port: 70000 }, { dht_port: -1 },
      { download_rate_limit: -1 }, { upload_rate_limit: 2 ** 31 }, { peer_timeout: 0 }, { peer_connect_timeout: 3e6 },
      { unchoke_slots_limit: -2 }, { max_out_request_queue: '0.5' },
    ];
    for (const input of cases) {
      expect(() => validateSettings(input)).toThrow(expect.objectContaining({ code: 'invalid_param', field: Object.keys(input)[0] }));
    }
    expect(validateSettings({ dht_port: 65535, unchoke_slots_limit: -1, connections_limit: 0 })).toEqual({ dht_port: 65535, unchoke_slots_limit: -1, connections_limit: 0 });
  });

  it('refuse over-long strings and strings with control characters, naming the setting', () => {
    for (const input of [{ user_agent: 'x'.repeat(1025) }, { user_agent: 'ok\u001b]0;PWNED\u0007' }, { user_agent: 'a\u0085' }, { peer_fingerprint: '-SZ\u00000-' }, { dht_bootstrap_nodes: 'h:1\n' }]) {
      expect(() => validateSettings(input)).toThrow(expect.objectContaining({ code: 'invalid_param', field: Object.keys(input)[0] }));
    }
    expect(validateSettings({ user_agent: 'x'.repeat(1024) }).user_agent).toHaveLength(1024);
  });

  it('refuse non-booleans for boolean settings', () => {
    for (const v of [1, 0, 'yes', null]) {
      expect(() => validateSettings({ enable_dht: v })).toThrow(expect.objectContaining({ code: 'invalid_param', field: 'enable_dht' }));
    }
  });

  it('apply on a live session and drive ses.num_unchoke_slots', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      s.applySettings({ unchoke_slots_limit: 3 });
      expect(s.settings().unchoke_slots_limit).toBe(3);
      expect(s.stats()['ses.num_unchoke_slots']).toBe(3);
      expect(() => s.applySettings({ listen_interfaces: '127.0.0.1:1' })).toThrow(/only be set when the session starts/);
    } finally {
      await s.close();
    }
  });

  it('a port already in use is a clear network_error', async () => {
    const a = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      await expect(Session.create({ listen_interfaces: `127.0.0.1:${a.listenPort}` })).rejects.toThrow(/already in use/);
    } finally {
      await a.close();
    }
  });
});
