#!/usr/bin/env node
/**
 * The `spritzle` command: commander wiring only. Each command lives in commands/<name>.ts and is loaded
 * when run, so `spritzle create` does not pay for loading the REST server and `--help` stays instant.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { CliError, EXIT_USAGE, reportError } from './errors.js';
import { escapeControl } from './format.js';
import { collect, collectPeer, fileIndex, pieceLength, portParser, seconds } from './parsers.js';
import { VERSION } from './version.js';
import type { CreateOptions } from './commands/create.js';
import type { DownloadOptions } from './commands/download.js';
import type { SeedOptions } from './commands/seed.js';
import type { StartOptions } from './commands/start.js';
import { tokenOption, withClientOptions } from './client/options.js';
import type { AddOptions } from './commands/add.js';
import type { ControlAction, ControlOptions } from './commands/control.js';
import type { LsOptions } from './commands/ls.js';
import type { RmOptions } from './commands/rm.js';
import type { StatsOptions } from './commands/stats.js';
import type { StatusOptions } from './commands/status.js';
import type { WatchOptions } from './commands/watch.js';
import type { SetOptions } from './commands/set.js';
import type { FilesOptions } from './commands/files.js';
import type { PeersOptions } from './commands/peers.js';
import type { TrackersOptions } from './commands/trackers.js';
import type { StreamOptions } from './commands/stream.js';
import type { CategoryOptions } from './commands/category.js';
import type { TagOptions } from './commands/tag.js';
import type { QueueOptions } from './commands/queue.js';
import type { MoveOptions } from './commands/move.js';
import type { RenameOptions } from './commands/rename.js';

let exitCode = 0;

const program = new Command('spritzle')
  .description('A BitTorrent engine with a REST API')
  .version(VERSION, '-V, --version')
  .showSuggestionAfterError()
  // Usage errors go through the same one-line `spritzle: <message>` format as every other error, the
  // "(Did you mean ...?)" suggestion joined onto that line.
  .configureOutput({ outputError: (str, write) => write(`spritzle: ${escapeControl(str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' '))}\n`) })
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
  .option('--v2', 'a BitTorrent v2 torrent (BEP 52: SHA-256 merkle trees; v1-only clients cannot use it)')
  .option('--hybrid', 'a hybrid v1 + v2 torrent (BEP 52), as libtorrent creates by default; v1 stays the default here')
  .action(async (path: string, opts: CreateOptions) => {
    const { runCreate } = await import('./commands/create.js');
    exitCode = await runCreate(path, opts);
  });

program.command('download')
  .description('download a torrent into a folder, verify it and exit (unless --keep-seeding); data already complete is verified, not fetched again')
  .argument('<torrent>', '.torrent file or magnet link')
  .option('-o, --output <dir>', 'save path: the torrent\'s file or folder is created inside it (default: the current folder)')
  .option('--keep-seeding', 'once complete, stay and seed until Ctrl-C (SIGINT) or SIGTERM, then print what was uploaded')
  .option('--peer <host:port>', 'peer to connect to (repeatable)', collectPeer)
  .option('--listen-port <port>', 'TCP port for incoming peers (0 = any free port)', portParser(true), 0)
  .option('--host <address>', 'address to listen on for peers', '0.0.0.0')
  .option('--json', 'print one JSON line {"info_hash","bytes","seconds","mib_per_s"} at the end')
  .option('--no-dht', 'do not run a DHT node (on by default, bootstrapping from libtorrent\'s routers)')
  .option('--dht-bootstrap <host:port>', 'DHT bootstrap node (repeatable)', collectPeer)
  .option('--dht-port <port>', 'UDP port of the DHT node (default: the listen port)', portParser(true))
  .option('--timeout <seconds>', 'give up (exit 1) if not complete this many seconds after adding', seconds)
  .option('--no-utp', 'TCP only: no uTP either way (by default peers are dialled over uTP first, then TCP, as libtorrent does)')
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
  .option('--no-dht', 'do not run a DHT node (on by default, bootstrapping from libtorrent\'s routers)')
  .option('--dht-bootstrap <host:port>', 'DHT bootstrap node (repeatable)', collectPeer)
  .option('--dht-port <port>', 'UDP port of the DHT node, for others to bootstrap from (default: the listen port)', portParser(true))
  .option('--no-utp', 'TCP only: no uTP either way (by default peers are dialled over uTP first, then TCP, as libtorrent does)')
  .action(async (file: string, opts: SeedOptions) => {
    const { runSeed } = await import('./commands/seed.js');
    exitCode = await runSeed(file, opts);
  });

program.command('start')
  .description('run the daemon: a session and the REST API, keeping its torrents across restarts, until SIGINT/SIGTERM')
  .addOption(new Option('--port <port>', 'REST API port (0 = any free port; the URL printed has the port used)').argParser(portParser(true)).default(8080).env('SPRITZLE_PORT'))
  .addOption(new Option('--host <address>', 'REST API address (anything but loopback needs a token)').default('127.0.0.1').env('SPRITZLE_HOST'))
  .addOption(new Option('--listen-port <port>', 'TCP port for peers (0 = any free port)').argParser(portParser(true)).default(6881).env('SPRITZLE_LISTEN_PORT'))
  .addOption(new Option('--listen-host <address>', 'address to listen on for peers').default('0.0.0.0').env('SPRITZLE_LISTEN_HOST'))
  .addOption(new Option('--download-dir <dir>', 'where torrents are saved (created if missing)')
    .default(undefined, '$XDG_DOWNLOAD_DIR/spritzle or ~/Downloads/spritzle').env('SPRITZLE_DOWNLOAD_DIR'))
  .addOption(new Option('--state-dir <dir>', 'daemon state: resume data, session state, the lock')
    .default(undefined, '$XDG_STATE_HOME/spritzle or ~/.local/state/spritzle').env('SPRITZLE_STATE_DIR'))
  .addOption(new Option('--config <file>', 'JSON file of these options (flags and SPRITZLE_* variables win)')
    .default(undefined, '<state-dir>/config.json if present').env('SPRITZLE_CONFIG'))
  .addOption(tokenOption())
  .option('--no-dht', 'do not run the DHT node')
  .addOption(new Option('--dht-bootstrap <host:port>', "DHT bootstrap node (repeatable); default: libtorrent's routers").argParser(collect).env('SPRITZLE_DHT_BOOTSTRAP'))
  .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent').default('info').env('SPRITZLE_LOG_LEVEL'))
  .addOption(new Option('--log-file <file>', 'append the log (JSON lines) to this file instead of stderr').env('SPRITZLE_LOG_FILE'))
  .addOption(new Option('--out-enc-policy <policy>', 'encryption (MSE/PE) of connections we dial: enabled tries it and falls back to plaintext, forced refuses plaintext')
    .choices(['forced', 'enabled', 'disabled']).default('enabled').env('SPRITZLE_OUT_ENC_POLICY'))
  .addOption(new Option('--in-enc-policy <policy>', 'encryption of incoming connections: enabled accepts both, forced refuses plaintext, disabled refuses encrypted')
    .choices(['forced', 'enabled', 'disabled']).default('enabled').env('SPRITZLE_IN_ENC_POLICY'))
  .addOption(new Option('--allowed-enc-level <level>', 'what an encrypted connection may carry its payload as')
    .choices(['plaintext', 'rc4', 'both']).default('both').env('SPRITZLE_ALLOWED_ENC_LEVEL'))
  .option('--prefer-rc4', 'with both levels allowed, choose RC4 when an incoming encrypted peer offers both (default: plaintext)')
  .action(async (opts: StartOptions & { config?: string }, cmd: Command) => {
    const { startCommand } = await import('./commands/start.js');
    exitCode = await startCommand(opts, cmd);
  });

// The client commands: they talk to a running `spritzle start` over its REST API (--url, --token, --json).

withClientOptions(program.command('add')
  .description('add a torrent to the running daemon and print its info-hash')
  .argument('<torrent>', '.torrent file (uploaded to the daemon), http(s):// URL of one (fetched by the daemon) or magnet: link')
  .option('--save-path <dir>', 'where the daemon saves it (on the daemon\'s side; a relative path is inside its download directory)')
  .option('--paused', 'add it paused: it transfers nothing until `spritzle resume`')
  .option('--peer <host:port>', 'a peer the daemon connects to for this torrent (repeatable)', collectPeer))
  .action(async (torrent: string, opts: AddOptions) => {
    const { runAdd } = await import('./commands/add.js');
    exitCode = await runAdd(torrent, opts);
  });

withClientOptions(program.command('ls')
  .description('list the daemon\'s torrents: name, state, done, size, rates, peers, ETA, ratio, info-hash (fits the terminal)'))
  .action(async (opts: LsOptions) => {
    const { runLs } = await import('./commands/ls.js');
    exitCode = await runLs(opts);
  });

withClientOptions(program.command('status')
  .description('show one torrent\'s status')
  .argument('<hash>', 'info-hash (or a unique start of it)'))
  .action(async (hash: string, opts: StatusOptions) => {
    const { runStatus } = await import('./commands/status.js');
    exitCode = await runStatus(hash, opts);
  });

withClientOptions(program.command('watch')
  .description('live progress until every torrent (or every one named) is finished; paused ones and errors are not waited for')
  .argument('[hash...]', 'only these torrents (info-hashes or unique starts of them)'))
  .action(async (hashes: string[], opts: WatchOptions) => {
    const { runWatch } = await import('./commands/watch.js');
    exitCode = await runWatch(hashes, opts);
  });

const CONTROL: readonly [ControlAction, string][] = [
  ['pause', 'pause a torrent: its peers are disconnected and nothing more is transferred'],
  ['resume', 'resume a paused torrent'],
  ['recheck', 'hash the torrent\'s data on disk again (answers once checking has started)'],
];
for (const [action, description] of CONTROL) {
  const cmd = program.command(action)
    .description(description)
    .argument('<hash>', 'info-hash (or a unique start of it)');
  if (action === 'resume') cmd.option('--force', 'force-start: take it out of the queue\'s control (auto_managed false) so it runs whatever the active limits');
  withClientOptions(cmd)
    .action(async (hash: string, opts: ControlOptions) => {
      const { runControl } = await import('./commands/control.js');
      exitCode = await runControl(action, hash, opts);
    });
}

withClientOptions(program.command('rm')
  .description('remove a torrent from the daemon (its data stays unless --delete-files)')
  .argument('<hash>', 'info-hash (or a unique start of it)')
  .option('--delete-files', 'also delete the downloaded data'))
  .action(async (hash: string, opts: RmOptions) => {
    const { runRm } = await import('./commands/rm.js');
    exitCode = await runRm(hash, opts);
  });

withClientOptions(program.command('set')
  .description('show or change the daemon\'s settings by libtorrent\'s names (kept across restarts), or with --torrent one torrent\'s limits')
  .argument('[name=value...]', 'e.g. download_rate_limit=1048576 (bytes/s, 0 = unlimited); none: print every setting')
  .option('--torrent <hash>', 'change this torrent instead: upload_limit, download_limit, max_uploads, max_connections (-1 = unlimited), ' +
    'sequential_download, first_last_piece_priority, auto_managed (false + resume = force-start); share limits ratio_limit, ' +
    'seeding_time_limit, inactive_seeding_time_limit (seconds; -1 none, -2 the session\'s) and share_limit_action (pause, remove, remove_with_files)'))
  .action(async (assignments: string[], opts: SetOptions) => {
    const { runSet } = await import('./commands/set.js');
    exitCode = await runSet(assignments, opts);
  });

withClientOptions(program.command('category')
  .description('categories (qBittorrent\'s, each with a save path): ls; add <name> [--save-path]; rm <name>; set <hash> <name> ("" for none)')
  .addArgument(new Argument('<action>', 'what to do').choices(['ls', 'add', 'rm', 'set']))
  .argument('[args...]', 'a category name; for set, a torrent\'s info-hash and the category')
  .option('--save-path <dir>', 'for add: where its torrents are saved, on the daemon\'s side (default: the daemon\'s download directory)'))
  .action(async (action: string, args: string[], opts: CategoryOptions) => {
    const { runCategory } = await import('./commands/category.js');
    exitCode = await runCategory(action, args, opts);
  });

withClientOptions(program.command('tag')
  .description('tags (qBittorrent\'s): ls; add <hash> <tag...>; rm <hash> <tag...>; create <tag...>; delete <tag...> (from every torrent)')
  .addArgument(new Argument('<action>', 'what to do').choices(['ls', 'add', 'rm', 'create', 'delete']))
  .argument('[args...]', 'for add and rm a torrent\'s info-hash (or a unique start of it), then tags; for create and delete, tags'))
  .action(async (action: string, args: string[], opts: TagOptions) => {
    const { runTag } = await import('./commands/tag.js');
    exitCode = await runTag(action, args, opts);
  });

withClientOptions(program.command('queue')
  .description('move a downloading torrent in the queue (active_downloads, active_seeds and active_limit settings decide how many run)')
  .addArgument(new Argument('<move>', 'where to').choices(['top', 'up', 'down', 'bottom']))
  .argument('<hash>', 'info-hash (or a unique start of it)'))
  .action(async (move: string, hash: string, opts: QueueOptions) => {
    const { runQueue } = await import('./commands/queue.js');
    exitCode = await runQueue(move, hash, opts);
  });

withClientOptions(program.command('move')
  .description('move a torrent\'s files to another save path on the daemon\'s side (libtorrent\'s move_storage; answers once they are there)')
  .argument('<hash>', 'info-hash (or a unique start of it)')
  .argument('<dir>', 'the new save path (inside the daemon\'s download directory)'))
  .action(async (hash: string, dir: string, opts: MoveOptions) => {
    const { runMove } = await import('./commands/move.js');
    exitCode = await runMove(hash, dir, opts);
  });

withClientOptions(program.command('rename')
  .description('rename one of a torrent\'s files (libtorrent\'s rename_file), as `spritzle files` numbers them')
  .argument('<hash>', 'info-hash (or a unique start of it)')
  .argument('<index>', 'the file\'s index', fileIndex)
  .argument('<name>', 'its new path, relative to the torrent\'s save path'))
  .action(async (hash: string, index: number, name: string, opts: RenameOptions) => {
    const { runRename } = await import('./commands/rename.js');
    exitCode = await runRename(hash, index, name, opts);
  });

withClientOptions(program.command('files')
  .description('a torrent\'s files: progress, size and priority (0 skips a file, 4 is normal, 7 highest)')
  .argument('<hash>', 'info-hash (or a unique start of it)')
  .option('--priority <index=prio>', 'set a file\'s priority first, e.g. 2=0 to skip file 2 (repeatable)', collect))
  .action(async (hash: string, opts: FilesOptions) => {
    const { runFiles } = await import('./commands/files.js');
    exitCode = await runFiles(hash, opts);
  });

withClientOptions(program.command('stream')
  .description('print the URL a player (mpv, VLC) opens to stream one of a torrent\'s files while it downloads; adds the torrent first if needed')
  .argument('<torrent>', '.torrent file, http(s):// URL or magnet: link (added if the daemon lacks it), or an info-hash (or a unique start of it)')
  .option('--file <index>', 'the file to stream (default: the largest)', fileIndex)
  .option('--stdout', 'write the file\'s bytes to stdout instead, e.g. | mpv -'))
  .action(async (torrent: string, opts: StreamOptions) => {
    const { runStream } = await import('./commands/stream.js');
    exitCode = await runStream(torrent, opts);
  });

withClientOptions(program.command('peers')
  .description('a torrent\'s connected peers: address, client, flags, progress, rates')
  .argument('<hash>', 'info-hash (or a unique start of it)')
  .option('--connect <ip:port>', 'have the daemon connect this peer to the torrent first (repeatable)', collectPeer))
  .action(async (hash: string, opts: PeersOptions) => {
    const { runPeers } = await import('./commands/peers.js');
    exitCode = await runPeers(hash, opts);
  });

withClientOptions(program.command('trackers')
  .description('a torrent\'s trackers: tier, state, peers from the last answer, URL')
  .argument('<hash>', 'info-hash (or a unique start of it)'))
  .action(async (hash: string, opts: TrackersOptions) => {
    const { runTrackers } = await import('./commands/trackers.js');
    exitCode = await runTrackers(hash, opts);
  });

withClientOptions(program.command('stats')
  .description('the daemon\'s session counters, by libtorrent\'s names')
  .argument('[prefix...]', 'only counters whose names start with one of these (e.g. net. or dht.)'))
  .action(async (prefixes: string[], opts: StatsOptions) => {
    const { runStats } = await import('./commands/stats.js');
    exitCode = await runStats(prefixes, opts);
  });

program.command('completion')
  .description('print a shell completion script: bash (source <(spritzle completion bash)), zsh (save as _spritzle in $fpath) or fish')
  .argument('<shell>', 'bash, zsh or fish')
  .action(async (shell: string) => {
    const docs = await import('./command-docs.js');
    const make = { bash: docs.bashCompletion, zsh: docs.zshCompletion, fish: docs.fishCompletion }[shell];
    if (!make) throw new CliError(`no completion for "${escapeControl(shell)}" (bash, zsh or fish)`);
    process.stdout.write(make(program));
  });

program.command('man')
  .description('print the spritzle(1) man page (man <(spritzle man), or save it as spritzle.1)')
  .action(async () => {
    const { manPage } = await import('./command-docs.js');
    process.stdout.write(manPage(program, VERSION));
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
