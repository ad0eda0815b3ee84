#!/usr/bin/env node
/**
 * The `spritzle` command: commander wiring only. Each command lives in commands/<name>.ts and is loaded
 * when run, so `spritzle create` does not pay for loading the REST server and `--help` stays instant.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT_USAGE, reportError } from './errors.js';
import { collect, collectPeer, pieceLength, portParser, seconds } from './parsers.js';
import { VERSION } from './version.js';
import type { CreateOptions } from './commands/create.js';
import type { DownloadOptions } from './commands/download.js';
import type { SeedOptions } from './commands/seed.js';
import type { StartOptions } from './commands/start.js';

let exitCode = 0;

const program = new Command('spritzle')
  .description('A BitTorrent engine with a REST API')
  .version(VERSION, '-V, --version')
  .showSuggestionAfterError()
  // Usage errors go through the same one-line `spritzle: <message>` format as every other error, the
  // "(Did you mean ...?)" suggestion joined onto that line.
  .configureOutput({ outputError: (str, write) => write(`spritzle: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) })
  // Throw instead of exiting so that main decides the exit code (2 for usage errors) in one place.
  .exitOverride();

program.command('create')
  .description('make a .torrent from a file or folder and print its info-hash')
  .argument('<path>', 'file or folder to share')
  .requiredOption('-o, --output <file>', 'where to write the .torrent')
  .option('--piece-length <bytes>', 'piece size, a power of two (e.g. 262144 or 256K); default: chosen by size', pieceLength)
  .option('--announce <url>', 'tracker URL, one tier each (repeatable); none by default', collect)
  .option('--private', 'mark the torrent private (BEP 27: trackers only, no DHT or PEX)')
  .option('--name <name>', 'torrent name (default: the file or folder name)')
  .option('--comment <text>', 'free-form comment stored in the torrent')
  .action(async (path: string, opts: CreateOptions) => {
    const { runCreate } = await import('./commands/create.js');
    exitCode = await runCreate(path, opts);
  });

program.command('download')
  .description('download a torrent into a folder, verify it and exit (does not stay to seed)')
  .argument('<torrent>', '.torrent file')
  .requiredOption('-o, --output <dir>', 'save path: the torrent\'s file or folder is created inside it')
  .option('--peer <host:port>', 'peer to connect to (repeatable)', collectPeer)
  .option('--listen-port <port>', 'TCP port for incoming peers (0 = any free port)', portParser(true), 0)
  .option('--host <address>', 'address to listen on for peers', '0.0.0.0')
  .option('--json', 'print one JSON line {"info_hash","bytes","seconds","mib_per_s"} at the end')
  .option('--timeout <seconds>', 'give up (exit 1) if not complete this many seconds after adding', seconds)
  .action(async (file: string, opts: DownloadOptions) => {
    const { runDownload } = await import('./commands/download.js');
    exitCode = await runDownload(file, opts);
  });

program.command('seed')
  .description('check local data against a torrent and seed it until SIGINT/SIGTERM')
  .argument('<torrent>', '.torrent file')
  .requiredOption('--data <dir>', 'save path holding the torrent\'s file or folder')
  .option('--listen-port <port>', 'TCP port for peers (0 = any free port; the port used is printed)', portParser(true), 0)
  .option('--host <address>', 'address to listen on for peers', '0.0.0.0')
  .action(async (file: string, opts: SeedOptions) => {
    const { runSeed } = await import('./commands/seed.js');
    exitCode = await runSeed(file, opts);
  });

program.command('start')
  .description('run the daemon: a session and the REST API, until SIGINT/SIGTERM')
  .option('--port <port>', 'REST API port (0 = any free port; the URL printed has the port used)', portParser(true), 8080)
  .option('--host <address>', 'REST API address (anything but loopback needs a token)', '127.0.0.1')
  .option('--listen-port <port>', 'TCP port for peers (0 = any free port)', portParser(true), 6881)
  .option('--listen-host <address>', 'address to listen on for peers', '0.0.0.0')
  .addOption(new Option('--download-dir <dir>', 'where torrents are saved (created if missing)')
    .default(undefined, '$XDG_DOWNLOAD_DIR/spritzle or ~/Downloads/spritzle'))
  .addOption(new Option('--state-dir <dir>', 'daemon state directory')
    .default(undefined, '$XDG_STATE_HOME/spritzle or ~/.local/state/spritzle'))
  .addOption(new Option('--token <token>', 'API token, sent as "Authorization: Bearer <token>"').env('SPRITZLE_TOKEN'))
  .option('--no-dht', 'do not run the DHT node')
  .action(async (opts: StartOptions) => {
    const { runStart } = await import('./commands/start.js');
    exitCode = await runStart(opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and --version "fail" with exit code 0; anything else commander raises is bad usage, already
    // printed through outputError.
    exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    exitCode = reportError(e);
  }
}
// Exit explicitly: a command is over once its action returns, even if a library left a handle open.
process.exit(exitCode);
