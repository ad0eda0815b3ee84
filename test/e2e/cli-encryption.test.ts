import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCli, cleanup, cliRunner, expectOneLineError, tmp, waitForOutput } from '../helpers/cli.js';

// `spritzle start`'s encryption options: flags, SPRITZLE_* variables and config keys, into the engine's
// out_enc_policy / in_enc_policy / allowed_enc_level / prefer_rc4 (read back over GET /session/settings).
const { spawnCli, runCli } = cliRunner({ timeout: 20_000 });

beforeAll(() => buildCli(), 180_000);
afterAll(() => cleanup());

describe('spritzle start encryption options', () => {
  it('set the session\'s encryption settings from flags, the environment and the config file', async () => {
    const home = await tmp('cli-enc');
    const config = join(home, 'config.json');
    await writeFile(config, JSON.stringify({ 'in-enc-policy': 'forced', preferRc4: true }));
    const run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1', '--no-dht',
      '--download-dir', join(home, 'dl'), '--state-dir', join(home, 'state'), '--config', config, '--out-enc-policy', 'forced'],
    { SPRITZLE_TOKEN: '', SPRITZLE_ALLOWED_ENC_LEVEL: 'rc4' });
    try {
      const url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
      const settings = (await (await fetch(`${url}/session/settings`)).json()) as Record<string, unknown>;
      expect(settings).toMatchObject({ out_enc_policy: 'forced', in_enc_policy: 'forced', allowed_enc_level: 'rc4', prefer_rc4: true });
    } finally {
      run.child.kill('SIGTERM');
      await run.done;
    }
  });

  it('a policy that is not one of forced, enabled, disabled is a usage error (exit 2)', async () => {
    const r = await runCli(['start', '--no-dht', '--out-enc-policy', 'sometimes']);
    expectOneLineError(r, /--out-enc-policy/, { stackAllowed: true });
    expect(r.code).toBe(2);
  });
});
