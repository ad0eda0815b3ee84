import { afterAll } from '@jest/globals';
import { Session, type SessionSettings, type TorrentHandle } from '@spritzle/engine';

/** Polls `cond` every 20 ms until it holds; fails with `what` after `ms`. */
export async function waitFor(cond: () => boolean, ms = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves when the torrent has finished (all wanted pieces verified on disk); rejects on torrent_error. */
export function finished(session: Session, handle: TorrentHandle, ms = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const st = handle.status();
    if (st.is_finished) return resolve();
    const timer = setTimeout(() => reject(new Error(`torrent ${handle.infoHash} did not finish in ${ms} ms: ${JSON.stringify({ state: st.state, progress: handle.status().progress })}`)), ms);
    const done = ({ info_hash }: { info_hash: string }): void => {
      if (info_hash !== handle.infoHash) return;
      clearTimeout(timer);
      resolve();
    };
    session.on('torrent_finished', done);
    session.on('torrent_error', ({ info_hash, error }) => {
      if (info_hash !== handle.infoHash) return;
      clearTimeout(timer);
      reject(new Error(error));
    });
  });
}

/**
 * A session factory for one test file: sessions listen on 127.0.0.1 with a free port and are all closed
 * after the file's tests. Call at module level.
 */
export function sessionsForThisFile(): (settings?: Partial<SessionSettings>) => Promise<Session> {
  const open: Session[] = [];
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
  });
  return async (settings = {}) => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', ...settings });
    open.push(s);
    return s;
  };
}
