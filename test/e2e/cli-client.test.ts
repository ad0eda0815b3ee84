import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { makeTorrent, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, cliRunner, closedPort, expectOneLineError, tmp, waitForOutput, type Run, type Running } from '../helpers/cli.js';

// The client commands (add, ls, status, watch, pause, resume, recheck, rm, stats) as real subprocesses of
// the built dist, against a real `spritzle start` subprocess. Everything listens on 127.0.0.1, port 0.

const TOKEN = 'cli-client-sekrit';
const HEX40 = /^[0-9a-f]{40}$/;

interface Daemon { run: Running; url: string; downloadDir: string; token: string | undefined }

const daemons: Daemon[] = [];
// No SPRITZLE_* leaks in from the environment the tests run in: each run says what it means.
const { spawnCli, runCli } = cliRunner({ unset: ['SPRITZLE_URL', 'SPRITZLE_TOKEN'], timeout: 30_000 });

function expectOk(r: Run): void {
  if (r.code !== 0) throw new Error(`exit ${r.code ?? r.signal}: ${r.stderr}`);
  expect(r.stderr).toBe('');
}

async function startDaemon(prefix: string, token?: string): Promise<Daemon> {
  const dir = await tmp(prefix);
  const downloadDir = join(dir, 'dl');
  const run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
    '--download-dir', downloadDir, '--state-dir', join(dir, 'state'), '--no-dht', ...(token !== undefined ? ['--token', token] : [])]);
  const url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
  const d: Daemon = { run, url, downloadDir, token };
  daemons.push(d);
  return d;
}

/** A client command against `d`, which it finds through SPRITZLE_URL and SPRITZLE_TOKEN. */
function client(d: Daemon, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runCli(args, { SPRITZLE_URL: d.url, ...(d.token !== undefined ? { SPRITZLE_TOKEN: d.token } : {}), ...env });
}

/** The API itself, to check what a command did (or to set up what it should find). */
async function api<T>(d: Daemon, path: string): Promise<T> {
  const res = await fetch(`${d.url}${path}`, { headers: d.token !== undefined ? { authorization: `Bearer ${d.token}` } : {} });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface Status { info_hash: string; name: string; state: string; paused: boolean; progress: number; save_path: string }

async function statusOf(d: Daemon, hash: string): Promise<Status> {
  return api<Status>(d, `/torrent/${hash}`);
}

async function waitForStatus(d: Daemon, hash: string, ok: (s: Status) => boolean, ms = 20_000): Promise<Status> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await statusOf(d, hash);
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`torrent ${hash} never got there: ${JSON.stringify(s)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

let fixtureSeed = 100;

/** A torrent whose complete data lies in `<download dir>/<folder>`, which is the save path to add it with. */
async function completeTorrent(d: Daemon, folder: string, size = 512 * 1024): Promise<TestTorrent> {
  return makeTorrent({ dir: join(d.downloadDir, folder), name: `${folder}.bin`, files: size, pieceLength: 32768, seed: fixtureSeed++ });
}

/** Adds a complete-data torrent with `spritzle add` and waits until it seeds. */
async function seeding(d: Daemon, folder: string): Promise<TestTorrent> {
  const t = await completeTorrent(d, folder);
  expectOk(await client(d, ['add', t.torrentPath, '--save-path', folder]));
  await waitForStatus(d, t.infoHash, (s) => s.state === 'seeding');
  return t;
}

function magnet(hash: string, name: string): string {
  return `magnet:?xt=urn:btih:${hash}&dn=${name}`;
}

beforeAll(() => buildCli(), 180_000);

afterAll(async () => {
  await Promise.all(daemons.map(async (d) => {
    d.run.child.kill('SIGTERM');
    const timer = setTimeout(() => d.run.child.kill('SIGKILL'), 10_000);
    await d.run.done;
    clearTimeout(timer);
  }));
  await cleanup();
}, 30_000);

describe('client commands against a daemon with a token', () => {
  let d: Daemon;

  beforeAll(async () => {
    d = await startDaemon('cli-client', TOKEN);
  }, 60_000);

  describe('add', () => {
    it('uploads a local .torrent and prints its name and info-hash', async () => {
      const t = await completeTorrent(d, 'add-file');
      const r = await client(d, ['add', t.torrentPath, '--save-path', 'add-file']);
      expectOk(r);
      expect(r.stdout).toBe(`added ${t.name} (${t.infoHash})\n`);
      const s = await statusOf(d, t.infoHash);
      expect(s.save_path).toBe(join(d.downloadDir, 'add-file'));
    });

    it('--json prints the API answer, {"info_hash"}', async () => {
      const t = await completeTorrent(d, 'add-json');
      const r = await client(d, ['add', t.torrentPath, '--save-path', 'add-json', '--json']);
      expectOk(r);
      expect(JSON.parse(r.stdout)).toEqual({ info_hash: t.infoHash });
    });

    it('sends a magnet link as url: the torrent is added and waits for metadata', async () => {
      const hash = 'aa'.repeat(20);
      const r = await client(d, ['add', magnet(hash, 'from-magnet')]);
      expectOk(r);
      expect(r.stdout).toBe(`added from-magnet (${hash})\n`);
      expect((await statusOf(d, hash)).state).toBe('downloading_metadata');
    });

    it('sends an http URL as url: the daemon fetches the .torrent', async () => {
      const t = await completeTorrent(d, 'add-url');
      const srv = http.createServer((_req, res) => {
        res.setHeader('content-type', 'application/x-bittorrent');
        res.end(Buffer.from(t.torrentBytes));
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      try {
        const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/add-url.torrent`;
        const r = await client(d, ['add', url, '--save-path', 'add-url']);
        expectOk(r);
        expect(r.stdout).toBe(`added ${t.name} (${t.infoHash})\n`);
      } finally {
        srv.closeAllConnections();
        await new Promise<void>((r) => srv.close(() => r()));
      }
      await waitForStatus(d, t.infoHash, (s) => s.state === 'seeding');
    });

    it('--paused adds the torrent paused', async () => {
      const t = await completeTorrent(d, 'add-paused');
      const r = await client(d, ['add', t.torrentPath, '--save-path', 'add-paused', '--paused']);
      expectOk(r);
      expect(r.stdout).toBe(`added ${t.name} (${t.infoHash}), paused\n`);
      expect((await statusOf(d, t.infoHash)).paused).toBe(true);
    });

    it('a file that is not there: one line naming it', async () => {
      const missing = join(d.downloadDir, 'no-such.torrent');
      expectOneLineError(await client(d, ['add', missing]), new RegExp(`${missing}: no such file or directory`));
    });

    it('a file that is not a torrent: the API\'s 400 message', async () => {
      const junk = join(d.downloadDir, 'junk.torrent');
      await writeFile(junk, 'this is not bencoded');
      expectOneLineError(await client(d, ['add', junk]), /not a valid \.torrent/);
    });

    it('a save path outside the download directory: the API\'s message', async () => {
      const t = await completeTorrent(d, 'add-outside');
      expectOneLineError(await client(d, ['add', t.torrentPath, '--save-path', '/etc']), /outside the download root/);
    });
  });

  describe('ls', () => {
    it('prints a table: name, state, done, size, rates, peers, eta, ratio and the whole hash (into a pipe)', async () => {
      const t = await seeding(d, 'ls-table');
      const r = await client(d, ['ls']);
      expectOk(r);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+STATE\s+DONE\s+SIZE\s+DOWN\s+UP\s+PEERS\s+ETA\s+RATIO\s+HASH$/);
      const row = lines.find((l) => l.endsWith(t.infoHash));
      expect(row).toMatch(new RegExp(`^${t.name.replace('.', '\\.')}\\s+seeding\\s+100\\.0%\\s+512K\\s+\\S+\\s+\\S+\\s+\\d+\\s+done\\s+\\d\\.\\d\\d\\s+${t.infoHash}$`));
    });

    it('--json prints the API\'s list of status fields', async () => {
      const t = await seeding(d, 'ls-json');
      const r = await client(d, ['ls', '--json']);
      expectOk(r);
      const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
      const row = rows.find((x) => x.info_hash === t.infoHash);
      expect(row).toMatchObject({ info_hash: t.infoHash, name: t.name, state: 'seeding', progress: 1, paused: false });
      expect(row).toHaveProperty('download_payload_rate');
      expect(row).toHaveProperty('upload_payload_rate');
    });
  });

  describe('status', () => {
    it('prints the torrent\'s name, hash, state and progress', async () => {
      const t = await seeding(d, 'status-text');
      const r = await client(d, ['status', t.infoHash]);
      expectOk(r);
      expect(r.stdout).toMatch(new RegExp(`^name:\\s+${t.name.replace('.', '\\.')}$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^info-hash:\\s+${t.infoHash}$`, 'm'));
      expect(r.stdout).toMatch(/^state:\s+seeding$/m);
      expect(r.stdout).toMatch(/^progress:\s+100\.0% \(512\.0 KiB of 512\.0 KiB\)$/m);
      expect(r.stdout).toMatch(new RegExp(`^save path:\\s+${join(d.downloadDir, 'status-text')}$`, 'm'));
    });

    it('--json prints the API\'s status object', async () => {
      const t = await seeding(d, 'status-json');
      const r = await client(d, ['status', t.infoHash, '--json']);
      expectOk(r);
      const s = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(s).toMatchObject({ info_hash: t.infoHash, name: t.name, state: 'seeding', progress: 1 });
      expect(Object.keys(s)).toEqual(Object.keys(await statusOf(d, t.infoHash)));
    });

    it('takes a unique start of the info-hash', async () => {
      const hash = 'bc'.repeat(20);
      expectOk(await client(d, ['add', magnet(hash, 'prefix-me')]));
      const r = await client(d, ['status', 'bcbcbcbcbcbc', '--json']);
      expectOk(r);
      expect((JSON.parse(r.stdout) as Status).info_hash).toBe(hash);
    });
  });

  describe('pause, resume, recheck', () => {
    it('pause pauses the torrent and prints what it paused', async () => {
      const t = await seeding(d, 'pause');
      const r = await client(d, ['pause', t.infoHash]);
      expectOk(r);
      expect(r.stdout).toBe(`paused ${t.name} (${t.infoHash})\n`);
      expect((await statusOf(d, t.infoHash)).paused).toBe(true);
    });

    it('resume resumes a paused torrent; --json prints the API\'s status', async () => {
      const t = await seeding(d, 'resume');
      expectOk(await client(d, ['pause', t.infoHash]));
      const r = await client(d, ['resume', t.infoHash, '--json']);
      expectOk(r);
      expect(JSON.parse(r.stdout)).toMatchObject({ info_hash: t.infoHash, paused: false });
      expect((await statusOf(d, t.infoHash)).paused).toBe(false);
    });

    it('recheck hashes the data again and the torrent seeds again', async () => {
      const t = await seeding(d, 'recheck');
      const before = (await api<Record<string, number>>(d, '/session'))['disk.num_blocks_hashed'] ?? 0;
      const r = await client(d, ['recheck', t.infoHash]);
      expectOk(r);
      expect(r.stdout).toBe(`rechecking ${t.name} (${t.infoHash})\n`);
      await waitForStatus(d, t.infoHash, (s) => s.state === 'seeding' && s.progress === 1);
      const after = (await api<Record<string, number>>(d, '/session'))['disk.num_blocks_hashed'] ?? 0;
      expect(after).toBeGreaterThan(before);
    });
  });

  describe('rm', () => {
    it('removes the torrent and leaves its data', async () => {
      const t = await seeding(d, 'rm-keep');
      const r = await client(d, ['rm', t.infoHash]);
      expectOk(r);
      expect(r.stdout).toBe(`removed ${t.name} (${t.infoHash})\n`);
      expect(await api<string[]>(d, '/torrent')).not.toContain(t.infoHash);
      expect(existsSync(join(t.dataRoot, t.name))).toBe(true);
    });

    it('--delete-files removes the torrent and deletes its data', async () => {
      const t = await seeding(d, 'rm-delete');
      const data = join(t.dataRoot, t.name);
      expect(existsSync(data)).toBe(true);
      const r = await client(d, ['rm', t.infoHash, '--delete-files', '--json']);
      expectOk(r);
      expect(JSON.parse(r.stdout)).toEqual({ info_hash: t.infoHash, deleted_files: true });
      expect(await api<string[]>(d, '/torrent')).not.toContain(t.infoHash);
      expect(existsSync(data)).toBe(false);
    });
  });

  describe('stats', () => {
    it('prints every session counter, one "name value" line each', async () => {
      const r = await client(d, ['stats']);
      expectOk(r);
      expect(r.stdout).toMatch(/^net\.recv_bytes +\d+$/m);
      expect(r.stdout).toMatch(/^ses\.num_loaded_torrents +[1-9]\d*$/m);
    });

    it('--json prints the API\'s counters by libtorrent name', async () => {
      const r = await client(d, ['stats', '--json']);
      expectOk(r);
      const stats = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(Object.keys(stats)).toEqual(Object.keys(await api<Record<string, number>>(d, '/session')));
      for (const name of ['net.recv_bytes', 'net.sent_payload_bytes', 'ses.num_loaded_torrents', 'disk.num_blocks_hashed', 'peer.num_tcp_peers']) {
        expect(typeof stats[name]).toBe('number');
      }
    });

    it('keeps only the counters whose names start with the prefixes given', async () => {
      const r = await client(d, ['stats', 'net.', 'ses.num_loaded', '--json']);
      expectOk(r);
      const names = Object.keys(JSON.parse(r.stdout) as Record<string, unknown>);
      expect(names).toContain('net.recv_bytes');
      expect(names).toContain('ses.num_loaded_torrents');
      expect(names.every((n) => n.startsWith('net.') || n.startsWith('ses.num_loaded'))).toBe(true);
    });

    it('a prefix no counter has: one line saying so', async () => {
      expectOneLineError(await client(d, ['stats', 'nosuch.']), /no session counter name starts with "nosuch\."/);
    });
  });

  describe('watch', () => {
    it('<hash> ends once the torrent added over complete data is seeding (a line per update into a pipe)', async () => {
      const t = await completeTorrent(d, 'watch-one', 4 * 1024 * 1024);
      const added = await client(d, ['add', t.torrentPath, '--save-path', 'watch-one', '--json']);
      expectOk(added);
      const r = await client(d, ['watch', t.infoHash]);
      expectOk(r);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.at(-2)).toMatch(new RegExp(`^${t.name.replace('.', '\\.')}  seeding  100\\.0%  down \\S+ B/s  up \\S+ B/s$`));
      expect(lines.at(-1)).toBe(`${t.name} finished`);
      // Only the torrent asked for: the session holds others that will never finish (the magnet links).
      expect(lines.every((l) => l.startsWith(t.name))).toBe(true);
    });
  });

  describe('a torrent name with terminal control sequences', () => {
    // dn= sets the window title (OSC 0 ... BEL), clears the screen (CSI 2J), C1 CSI (U+009B), DEL and a newline.
    const HOSTILE = '%1b]0;PWNED%07%1b[2J%c2%9b31m%7fx%0Ay';
    const SHOWN = '\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\x7fx\\x0ay';
    const hash = 'c0'.repeat(20);
    /** C0 controls except newline, DEL, C1 controls: none may reach the terminal. */
    // eslint-disable-next-line no-control-regex
    const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

    beforeAll(async () => {
      const r = await client(d, ['add', magnet(hash, HOSTILE), '--paused']);
      expectOk(r);
      expect(r.stdout).toBe(`added ${SHOWN} (${hash}), paused\n`);
    });

    it('ls shows it escaped', async () => {
      const r = await client(d, ['ls']);
      expectOk(r);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      expect(r.stdout.split('\n').find((l) => l.endsWith(hash))).toMatch(new RegExp(`^${SHOWN.replace(/[\\[\]]/g, '\\$&')}\\s+paused\\s`));
    });

    it('status shows it escaped', async () => {
      const r = await client(d, ['status', hash]);
      expectOk(r);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      expect(r.stdout).toContain(`name:      ${SHOWN}\n`);
    });

    it('watch and pause show it escaped', async () => {
      for (const args of [['watch', hash], ['pause', hash]]) {
        const r = await client(d, args);
        expectOk(r);
        expect(r.stdout).not.toMatch(RAW_CONTROL);
        expect(r.stdout).toContain(SHOWN);
      }
    });

    it('--json stays JSON with the name intact, C1 controls as \\u escapes', async () => {
      const r = await client(d, ['ls', '--json']);
      expectOk(r);
      expect(r.stdout).not.toMatch(RAW_CONTROL);
      const rows = JSON.parse(r.stdout) as { info_hash: string; name: string }[];
      expect(rows.find((x) => x.info_hash === hash)?.name).toBe(decodeURIComponent(HOSTILE));
    });

    it('an error message carrying it is escaped', async () => {
      const r = await client(d, ['add', join(d.downloadDir, `${decodeURIComponent(HOSTILE)}.torrent`)]);
      expectOneLineError(r, /no such file or directory/);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      expect(r.stderr).toContain(SHOWN);
    });

    it('rm shows it escaped', async () => {
      const r = await client(d, ['rm', hash]);
      expectOk(r);
      expect(r.stdout).toBe(`removed ${SHOWN} (${hash})\n`);
    });
  });

  describe('errors', () => {
    const UNKNOWN = '0123456789abcdef0123456789abcdef01234567';

    it.each([['status'], ['pause'], ['resume'], ['recheck'], ['rm'], ['watch']])('%s of an unknown info-hash: the API\'s 404 message', async (cmd) => {
      expectOneLineError(await client(d, [cmd, UNKNOWN]), new RegExp(`^spritzle: no torrent ${UNKNOWN} in the session$`));
    });

    it('a start of a hash no torrent has: one line saying so', async () => {
      expectOneLineError(await client(d, ['status', 'fedcba']), /no torrent in the session has an info-hash starting with fedcba/);
    });

    it('something that is not a hash: the API\'s 400 message', async () => {
      expectOneLineError(await client(d, ['status', 'xyz']), /"xyz" is not an info-hash/);
    });

    it.each([['ls'], ['stats'], ['status']])('%s with a wrong token: the API\'s 401 message', async (cmd) => {
      const args = cmd === 'status' ? [cmd, UNKNOWN] : [cmd];
      expectOneLineError(await client(d, [...args, '--token', 'wrong']), /^spritzle: the API token is not valid; pass it with --token or SPRITZLE_TOKEN$/);
    });

    it('no token for a daemon that wants one: the API\'s 401 message', async () => {
      expectOneLineError(await client(d, ['ls'], { SPRITZLE_TOKEN: '' }), /^spritzle: an API token is required/);
    });

    it('--token given on the command line is sent', async () => {
      const r = await runCli(['ls', '--json', '--url', d.url, '--token', TOKEN]);
      expectOk(r);
      expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
    });

    it.each<string[]>([
      ['add', 'magnet:?xt=urn:btih:' + 'cd'.repeat(20)], ['ls'], ['status', UNKNOWN], ['watch'], ['pause', UNKNOWN],
      ['resume', UNKNOWN], ['recheck', UNKNOWN], ['rm', UNKNOWN], ['stats'],
    ])('%s when the daemon is unreachable: one line naming the URL', async (...args: string[]) => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      const r = await client(d, args, { SPRITZLE_URL: url });
      expectOneLineError(r, new RegExp(`^spritzle: cannot reach the spritzle daemon at ${url.replace(/\./g, '\\.')}: connection refused; is \`spritzle start\` running\\?$`));
    });

    it('--url takes precedence over SPRITZLE_URL', async () => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      expectOneLineError(await client(d, ['ls', '--url', url]), new RegExp(`cannot reach the spritzle daemon at ${url.replace(/\./g, '\\.')}:`));
    });

    it('a --url that is not an http URL is a usage error (exit 2)', async () => {
      const r = await client(d, ['ls', '--url', 'ftp://127.0.0.1/']);
      expectOneLineError(r, /--url/);
      expect(r.code).toBe(2);
    });
  });

  describe('--help', () => {
    it.each([['add'], ['ls'], ['status'], ['watch'], ['pause'], ['resume'], ['recheck'], ['rm'], ['stats']])('%s --help shows its usage and --url, --token, --timeout, --json', async (cmd) => {
      const r = await runCli([cmd, '--help']);
      expectOk(r);
      expect(r.stdout).toMatch(new RegExp(`^Usage: spritzle ${cmd} `));
      expect(r.stdout).toMatch(/--url <url>.*\n?.*SPRITZLE_URL/);
      expect(r.stdout).toMatch(/--token <token>[\s\S]*SPRITZLE_TOKEN/);
      expect(r.stdout).toMatch(/--timeout <seconds>[\s\S]*SPRITZLE_TIMEOUT/);
      expect(r.stdout).toContain('--json');
    });
  });
});

describe('client commands against something that is not a working daemon', () => {
  it('a server that accepts but never answers: one line once --timeout has passed', async () => {
    const held: net.Socket[] = [];
    const srv = net.createServer((sock) => { held.push(sock); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    try {
      const started = Date.now();
      const r = await runCli(['ls', '--url', url, '--timeout', '0.5']);
      expectOneLineError(r, new RegExp(`^spritzle: cannot reach the spritzle daemon at ${url.replace(/\./g, '\\.')}: no answer within 0\\.5 s;`));
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('another HTTP server at the URL: one line with the status it answered', async () => {
    const srv = http.createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    try {
      expectOneLineError(await runCli(['stats', '--url', url]), new RegExp(`^spritzle: the daemon at ${url.replace(/\./g, '\\.')} answered 502 Bad Gateway$`));
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

describe('watch against a daemon without a token', () => {
  let d: Daemon;

  beforeAll(async () => {
    d = await startDaemon('cli-client-watch');
  }, 60_000);

  it('ends at once when the session holds no torrent', async () => {
    const r = await client(d, ['watch']);
    expectOk(r);
    expect(r.stdout).toBe('no torrents to watch\n');
  });

  it('follows every torrent until all are seeding, then says so', async () => {
    const a = await completeTorrent(d, 'watch-a', 4 * 1024 * 1024);
    const b = await completeTorrent(d, 'watch-b', 4 * 1024 * 1024);
    expectOk(await client(d, ['add', a.torrentPath, '--save-path', 'watch-a']));
    expectOk(await client(d, ['add', b.torrentPath, '--save-path', 'watch-b']));
    const r = await client(d, ['watch']);
    expectOk(r);
    expect(r.stdout).toMatch(new RegExp(`^watch-a\\.bin  seeding  100\\.0%`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^watch-b\\.bin  seeding  100\\.0%`, 'm'));
    expect(r.stdout.endsWith('all 2 torrents finished\n')).toBe(true);
  });

  it('--json prints stats events, one JSON line each, the last with every torrent complete', async () => {
    const r = await client(d, ['watch', '--json']);
    expectOk(r);
    const events = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { session: Record<string, number>; torrents: { state: string; progress: number }[] });
    const last = events.at(-1)!;
    expect(typeof last.session['net.recv_bytes']).toBe('number');
    expect(last.torrents).toHaveLength(2);
    expect(last.torrents.every((t) => t.state === 'seeding' && t.progress === 1)).toBe(true);
  });

  it('does not wait for a paused torrent', async () => {
    const hash = 'de'.repeat(20);
    expectOk(await client(d, ['add', magnet(hash, 'paused-magnet'), '--paused']));
    const r = await client(d, ['watch']);
    expectOk(r);
    expect(r.stdout).toMatch(/^paused-magnet  paused  0\.0%/m);
    expect(r.stdout.endsWith('2 finished; 1 paused before finishing\n')).toBe(true);
  });

  it('stops on SIGINT with exit code 130 while a torrent is unfinished', async () => {
    const hash = 'ef'.repeat(20);
    expectOk(await client(d, ['add', magnet(hash, 'never-done')]));
    const w = spawnCli(['watch', hash], { SPRITZLE_URL: d.url });
    await waitForOutput(w, /^never-done  downloading_metadata  0\.0%/m);
    w.child.kill('SIGINT');
    const r = await w.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('');
  });

  it('fails with one line when the daemon goes away', async () => {
    const w = spawnCli(['watch'], { SPRITZLE_URL: d.url });
    await waitForOutput(w, /^never-done /m);
    d.run.child.kill('SIGTERM');
    const r = await w.done;
    expectOneLineError(r, new RegExp(`^spritzle: lost the connection to the spritzle daemon at ${d.url.replace(/\./g, '\\.')}|closed the event stream`));
    expect((await d.run.done).code).toBe(0);
  });
});
