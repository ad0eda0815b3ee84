import { describe, it, beforeAll, afterAll } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCli, cleanup, cliRunner, expectOneLineError, tmp } from '../helpers/cli.js';

// A bad value in the daemon's config file is named as the file spells it ("log-level", "listen-port"),
// with the file's path, and goes through the same checks as its flag: one line, before anything starts.

const { runCli } = cliRunner({ unset: ['SPRITZLE_PORT', 'SPRITZLE_LISTEN_PORT', 'SPRITZLE_LOG_LEVEL'], timeout: 20_000 });

beforeAll(() => buildCli(), 300_000);
afterAll(cleanup);

describe('config file errors', () => {
  it.each([
    [{ port: 99999 }, /config file .*config\.json: "port" must be a port number from 0 to 65535$/],
    [{ 'listen-port': 70000 }, /config file .*config\.json: "listen-port" must be a port number from 0 to 65535$/],
    [{ 'log-level': 'loud' }, /config file .*config\.json: "log-level" must be one of trace, .* or silent, not "loud"$/],
    [{ 'download-dir': 5 }, /config file .*config\.json: "download-dir" must be a string$/],
  ])('%j', async (config, message) => {
    const dir = await tmp('cli-config-');
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    expectOneLineError(await runCli(['start', '--state-dir', dir, '--no-dht', '--host', '127.0.0.1']), message);
  });
});
