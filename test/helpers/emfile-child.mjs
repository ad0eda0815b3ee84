// A session in a process of its own that runs out of file descriptors on purpose, for the EMFILE tests. Talks
// over stdio only (those descriptors exist already): one JSON line per event on stdout; commands on stdin.
//
//   node emfile-child.mjs TORRENT SAVE_PATH SEED_PORT
//   → {"ready": pid, "fds": n}   once its descriptor count is steady (the test then caps it, prlimit); on stdin:
//   go    takes every free descriptor but one (for the connection to the seed), then adds the torrent
//   go 0  takes every free descriptor, then adds the torrent (it cannot even dial the seed)
//   free  gives the descriptors it took back
//   quit  closes the session and exits
//   Events: {"event": "torrent_error" | "torrent_finished" | "state" | "out_of_descriptors", ...}
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Session } from '@spritzle/engine';

const [torrentPath, savePath, seedPort] = process.argv.slice(2);
const torrent = readFileSync(torrentPath);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const session = await Session.create({ listen_interfaces: '127.0.0.1:0', file_pool_size: 4 });
let handle;
const statusOf = () => {
  const s = handle?.status();
  return s && { state: s.state, error: s.error, errc: s.errc.message, progress: s.progress };
};
session.on('torrent_error', (e) => say({
  event: 'torrent_error', error: e.error, status: statusOf(), outOfDescriptors: session.stats()['spritzle.ses.out_of_descriptors'],
}));
session.on('torrent_finished', () => say({ event: 'torrent_finished', status: statusOf() }));
session.on('state_changed', (e) => say({ event: 'state', state: e.state }));
session.on('out_of_descriptors', (e) => say({ event: 'out_of_descriptors', ...e }));

// The disk threads open their event loops' descriptors as they start: wait until nothing changes.
const count = () => readdirSync('/proc/self/fd').length;
for (let last = -1, n = count(); n !== last; last = n, n = count()) await new Promise((r) => setTimeout(r, 300));
say({ ready: process.pid, fds: count() });

const taken = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go' || line === 'go 0') {
    for (;;) {
      try {
        taken.push(openSync('/dev/null', 'r'));
      } catch (e) {
        if (e.code !== 'EMFILE') throw e;
        break;
      }
    }
    if (line === 'go') closeSync(taken.pop());
    handle = await session.addTorrent({ ti: torrent, save_path: savePath, peers: [`127.0.0.1:${seedPort}`] });
  } else if (line === 'free') {
    for (const fd of taken.splice(0)) closeSync(fd);
  } else if (line === 'status') {
    say({ event: 'status', status: statusOf() });
  } else if (line === 'quit') {
    await session.close();
    process.exit(0);
  }
}
