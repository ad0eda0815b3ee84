import type { Logger } from 'pino';
import { SpritzleError, confineSavePath, decodeResumeData, isSpritzleError, parseTorrentFileOffThread, type ResumeData, type Session } from '@spritzle/engine';
import type { TorrentRecord } from './torrent-record.js';

/**
 * Bringing one torrent of the state directory back into the session: as it was when its resume data is
 * usable, else in an error state that says why, in its own save path when that is still allowed, from its
 * metadata when there is some, else by its info-hash. Nothing is checked or written until it is resumed.
 */

/** What a torrent is restored from, and the words its error state uses for each part. */
export interface Sources {
  resume: Uint8Array | null;
  /** The metadata as a .torrent, asked only when the resume data cannot be used. */
  torrent: () => Uint8Array | null;
  savePath: string | null;
  /** 'resume file' / '.torrent' for files of the old layout, 'resume data' / 'metadata' for journal records. */
  resumeWord: string;
  torrentWord: string;
  /** Called when the resume data is unusable (an old-layout file is renamed *.bad). */
  setAside?: () => Promise<void>;
}

export type Outcome = 'restored' | 'broken' | 'failed';

/** A .torrent made of an info dictionary alone (its bytes kept exactly, so the info-hash is the same). */
function torrentOfInfo(info: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
}

/** The metadata inside resume data, as a .torrent; null when the resume data has none or does not decode. */
export function metadataOf(resume: Uint8Array | undefined | null): Uint8Array | null {
  if (!resume) return null;
  try {
    const info = decodeResumeData(resume).info;
    return info ? torrentOfInfo(info) : null;
  } catch {
    return null;
  }
}

/** Restores torrents into one session; the save paths it confines are remembered for its lifetime (one start). */
export class Restorer {
  private readonly confined = new Map<string, Promise<string>>();

  constructor(
    private readonly session: Session,
    private readonly log: Pick<Logger, 'warn' | 'error'>,
    /** The download folder: the root every restored save path must stay inside, and the fallback. */
    private readonly root: string,
  ) {}

  /** Brings one torrent back, and says how, with the record that describes it as restored. */
  async restore(hash: string, src: Sources): Promise<{ outcome: Outcome; record: TorrentRecord }> {
    const record: TorrentRecord = {};
    if (src.savePath !== null) record.savePath = src.savePath;
    let problem = `its ${src.resumeWord} is missing`;
    if (src.resume) {
      try {
        // Decoded once, here: the session takes the decoded form rather than decoding the bytes again.
        const resume = decodeResumeData(src.resume);
        const why = await this.resumeProblem(hash, resume, src.resumeWord);
        if (why === null) {
          await this.session.addTorrent({}, { resume });
          record.resume = src.resume;
          return { outcome: 'restored', record };
        }
        problem = why;
      } catch (e) {
        problem = `its ${src.resumeWord} is unusable (${(e as Error).message})`;
      }
      this.log.warn({ info_hash: hash, reason: problem }, `${src.resumeWord} unusable; the torrent comes back in an error state`);
      await src.setAside?.().catch(() => undefined);
    }
    const { savePath, why } = await this.recordedSavePath(src.savePath);
    const torrent = src.torrent();
    let torrentProblem = `its ${src.torrentWord} is missing`;
    try {
      if (torrent) {
        try {
          // Metadata of another torrent would bring that one back instead (or nothing, if it is back already).
          // Parsed off the event loop when big: a 100,000-file one took most of a second of the start.
          const other = (await parseTorrentFileOffThread(torrent)).infoHash;
          if (other !== hash) throw new SpritzleError('invalid_torrent', `it is another torrent's (${other})`);
          const reason = `${problem}${why}; resume the torrent to check its data in ${savePath}`;
          await this.session.addTorrent({ ti: torrent, save_path: savePath }, { error: reason });
          record.torrent = torrent;
          return { outcome: 'broken', record };
        } catch (e) {
          // A damaged .torrent must not make the torrent vanish: it still comes back by its info-hash below.
          if (!isSpritzleError(e) || (e.code !== 'invalid_torrent' && e.code !== 'invalid_bencode')) throw e;
          torrentProblem = `its ${src.torrentWord} is unusable (${e.message})`;
          this.log.warn({ info_hash: hash, reason: torrentProblem }, `${src.torrentWord === '.torrent' ? '.torrent file' : 'metadata'} unusable`);
        }
      }
      const reason = `${problem} and ${torrentProblem}${why}; resume the torrent to fetch its metadata from peers into ${savePath}`;
      await this.session.addTorrent({ info_hash: hash, save_path: savePath }, { error: reason });
      return { outcome: 'broken', record };
    } catch (e) {
      this.log.error({ info_hash: hash, err: (e as Error).message, reason: problem }, 'cannot restore this torrent');
      // Kept as it was, for a later start to try again.
      if (src.resume) record.resume = src.resume;
      if (torrent) record.torrent = torrent;
      return { outcome: 'failed', record };
    }
  }

  /**
   * Why resume data cannot restore torrent `hash` as it is, or null when it can (as far as its info-hash
   * and save path tell: the session refuses it if the rest is damaged).
   */
  private async resumeProblem(hash: string, r: ResumeData, word: string): Promise<string | null> {
    if (r.info_hash !== hash) return `its ${word} holds another torrent's resume data (${r.info_hash})`;
    try {
      await this.confine(r.save_path);
    } catch (e) {
      return `its ${word}'s ${(e as Error).message}`;
    }
    return null;
  }

  /** confineSavePath, asked once per distinct path (most torrents share a few folders). */
  private confine(savePath: string): Promise<string> {
    let p = this.confined.get(savePath);
    if (!p) {
      p = confineSavePath(savePath, this.root);
      p.catch(() => undefined);
      this.confined.set(savePath, p);
    }
    return p;
  }

  /** The save path recorded beside the torrent if it is still allowed, else the download folder (and why). */
  private async recordedSavePath(recorded: string | null): Promise<{ savePath: string; why: string }> {
    const root = this.root;
    if (recorded === null || recorded === '') return { savePath: root, why: ', and its save path is unknown' };
    try {
      return { savePath: await this.confine(recorded), why: '' };
    } catch (e) {
      return { savePath: root, why: `, and its recorded ${(e as Error).message}` };
    }
  }

}
