import { afterAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { DEFAULT_SETTINGS, Session, SpritzleError, validateSettings } from '@spritzle/engine';
import { startServer } from '@spritzle/server';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';

function refusal(input: Record<string, unknown>): SpritzleError {
  try {
    validateSettings(input);
  } catch (e) {
    return e as SpritzleError;
  }
  throw new Error('expected an error');
}

describe('encryption settings (libtorrent\'s pe_settings names)', () => {
  it('default to encryption enabled both ways, both levels, plaintext preferred (libtorrent 2.0\'s defaults)', () => {
    expect(DEFAULT_SETTINGS).toMatchObject({ out_enc_policy: 'enabled', in_enc_policy: 'enabled', allowed_enc_level: 'both', prefer_rc4: false });
  });

  it('take the names, and libtorrent\'s numbers for them (pe_forced 0 ... pe_disabled 2, pe_plaintext 1 ... pe_both 3)', () => {
    expect(validateSettings({ out_enc_policy: 'forced', in_enc_policy: 'disabled', allowed_enc_level: 'rc4', prefer_rc4: true }))
      .toEqual({ out_enc_policy: 'forced', in_enc_policy: 'disabled', allowed_enc_level: 'rc4', prefer_rc4: true });
    expect(validateSettings({ out_enc_policy: 0, in_enc_policy: '2', allowed_enc_level: 3 }))
      .toEqual({ out_enc_policy: 'forced', in_enc_policy: 'disabled', allowed_enc_level: 'both' });
  });

  it('refuse anything else, naming the setting and its choices', () => {
    for (const [input, field] of [
      [{ out_enc_policy: 'required' }, 'out_enc_policy'], [{ in_enc_policy: 3 }, 'in_enc_policy'],
      [{ allowed_enc_level: 0 }, 'allowed_enc_level'], [{ allowed_enc_level: true }, 'allowed_enc_level'], [{ prefer_rc4: 'yes' }, 'prefer_rc4'],
    ] as const) {
      const e = refusal(input);
      expect(e).toBeInstanceOf(SpritzleError);
      expect(e.field).toBe(field);
    }
    expect(refusal({ out_enc_policy: 'required' }).message).toMatch(/one of forced \(0\), enabled \(1\), disabled \(2\)/);
  });

  describe('on a live session', () => {
    const open: Session[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    /** What the session answers a plaintext BitTorrent handshake for `infoHash` with, until it closes. */
    async function answerToPlaintext(session: Session, infoHash: string): Promise<number> {
      const sock = net.connect(session.listenPort, '127.0.0.1');
      const handshake = Buffer.alloc(68);
      handshake[0] = 19;
      handshake.write('BitTorrent protocol', 1);
      Buffer.from(infoHash, 'hex').copy(handshake, 28);
      handshake.write('-XX0000-000000000000', 48);
      sock.write(handshake);
      let bytes = 0;
      sock.on('data', (d: Buffer) => {
        bytes += d.length;
        sock.destroy();
      });
      await new Promise<void>((resolve) => sock.on('close', () => resolve()));
      return bytes;
    }

    it('in_enc_policy forced, applied while running, refuses the next plaintext connection', async () => {
      const t = await makeTorrent({ dir: await tmpDir('enc-live'), name: 'live.bin', files: 100_000 });
      const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
      open.push(session);
      await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
      expect(await answerToPlaintext(session, t.infoHash)).toBeGreaterThan(0); // enabled: answered
      session.applySettings({ in_enc_policy: 'forced' });
      expect(await answerToPlaintext(session, t.infoHash)).toBe(0);
    });

    it('PATCH /session/settings sets them and refuses a bad one with 400 naming it', async () => {
      const root = await tmpDir('enc-settings');
      const session = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: root });
      open.push(session);
      const server = await startServer(session, { port: 0, downloadRoot: root, log: () => undefined });
      try {
        const patch = (body: unknown): Promise<Response> => fetch(`${server.url}/session/settings`, {
          method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
        });
        expect((await patch({ out_enc_policy: 'forced', allowed_enc_level: 'rc4', prefer_rc4: true })).status).toBe(200);
        expect(session.settings()).toMatchObject({ out_enc_policy: 'forced', allowed_enc_level: 'rc4', prefer_rc4: true });
        const bad = await patch({ in_enc_policy: 'sometimes' });
        expect(bad.status).toBe(400);
        expect(JSON.stringify(await bad.json())).toContain('in_enc_policy');
      } finally {
        await server.close();
      }
    });
  });
});
