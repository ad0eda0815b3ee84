import { describe, it, expect } from '@jest/globals';
import { validateSettings, DEFAULT_SETTINGS, Session, SpritzleError } from '@spritzle/engine';

describe('session settings', () => {
  it('use libtorrent names and defaults', () => {
    expect(DEFAULT_SETTINGS.listen_interfaces).toBe('0.0.0.0:6881');
    expect(DEFAULT_SETTINGS.unchoke_slots_limit).toBe(8);
    expect(DEFAULT_SETTINGS.request_queue_time).toBe(3);
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
