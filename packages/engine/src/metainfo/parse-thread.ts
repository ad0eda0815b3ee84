import { Worker } from 'node:worker_threads';
import { parseInfoDict, parseTorrentFile, type TorrentInfo } from './metainfo.js';
import { compiledWorkerFile } from '../disk/disk-io-thread.js';
import { SpritzleError } from '../errors.js';
import { checkMetadata, type ExpectedHashes, type MetadataCheck } from './metadata-check.js';
import { fromWire, type ParseJob, type ParseReply } from './parse-wire.js';

/**
 * Metadata at or above this size is parsed on a worker thread: a 100,000-file .torrent (the MAX_FILES cap,
 * a few MB) costs most of a second of decoding and validation, during which neither the API nor any peer
 * would be served. Below it, parsing takes about a millisecond and a thread would cost more than it saves.
 */
export const OFF_THREAD_PARSE_BYTES = 256 * 1024;

/**
 * Parser threads running at once, at most: each holds its copy of the bytes and everything decoded from
 * them (a few hundred MB for the largest), so a burst of big adds waits its turn instead of multiplying that.
 */
export const MAX_PARSE_THREADS = 2;

const workerFile = compiledWorkerFile(import.meta.url, 'metainfo-worker.js');
let running = 0;
const waiting: (() => void)[] = [];

/** Parser threads running now (for tests and stats). */
export function parseThreadsRunning(): number {
  return running;
}

/**
 * parseTorrentFile without stalling the event loop on big files: the same TorrentInfo or the same typed
 * SpritzleError. (parseTorrentFile itself stays synchronous for library users.)
 */
export function parseTorrentFileOffThread(bytes: Uint8Array): Promise<TorrentInfo> {
  return parseOffThread('torrent', bytes);
}

/** parseInfoDict (resume files, ut_metadata) likewise. */
export function parseInfoDictOffThread(infoBytes: Uint8Array): Promise<TorrentInfo> {
  return parseOffThread('info', infoBytes);
}

async function parseOffThread(kind: ParseJob['kind'], bytes: Uint8Array): Promise<TorrentInfo> {
  const parse = kind === 'torrent' ? parseTorrentFile : parseInfoDict;
  // Without a compiled worker (a build that lost it) parsing still works, only on this thread.
  if (!(bytes instanceof Uint8Array) || bytes.length < OFF_THREAD_PARSE_BYTES || !workerFile) return parse(bytes);
  return infoOf(await inPool(workerFile, { kind, bytes }));
}

/**
 * checkMetadata (metadata from peers: its hash, then its parse) without stalling the event loop on big
 * info dictionaries (a 100,000-file one, up to ut_metadata's 10 MB): both run on a parser thread. Never
 * rejects.
 */
export async function checkMetadataOffThread(bytes: Uint8Array, expect: ExpectedHashes): Promise<MetadataCheck> {
  if (bytes.length < OFF_THREAD_PARSE_BYTES || !workerFile) return checkMetadata(bytes, expect);
  let reply: ParseReply;
  try {
    reply = await inPool(workerFile, { kind: 'info', bytes, expect });
  } catch {
    // The thread itself failed (it could not start, ran out of memory): checked here, late rather than never.
    return checkMetadata(bytes, expect);
  }
  if (!reply.ok && 'mismatch' in reply) return { ok: false, mismatch: true };
  try {
    return { ok: true, info: infoOf(reply) };
  } catch (e) {
    return { ok: false, mismatch: false, error: e as Error };
  }
}

/** A job run on a parser thread, once one of the MAX_PARSE_THREADS is free. */
async function inPool(file: URL, job: ParseJob): Promise<ParseReply> {
  // A finished parse hands its slot straight to the next in line (so none can slip in between).
  if (running >= MAX_PARSE_THREADS) await new Promise<void>((go) => waiting.push(go));
  else running++;
  try {
    return await runWorker(file, job);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** The TorrentInfo of a parser thread's reply, or its error thrown (typed as the synchronous parser's). */
function infoOf(reply: ParseReply): TorrentInfo {
  // v2 and hybrid torrents too: their merkle trees cross as pages of hashes (v2ToWire), not parsed again here.
  if (reply.ok) return fromWire(reply.info);
  if ('mismatch' in reply) throw new Error('the info dictionary does not match the info-hash');
  if (reply.code) throw new SpritzleError(reply.code, reply.message, reply.field !== undefined ? { field: reply.field } : undefined);
  throw new Error(reply.message);
}

function runWorker(file: URL, job: ParseJob): Promise<ParseReply> {
  // The worker gets its own copy, transferred: the caller's buffer stays intact and usable.
  const copy = new Uint8Array(job.bytes);
  return new Promise<ParseReply>((resolve, reject) => {
    // One thread per big parse: they are rare, and nothing lingers to be shut down with the session.
    const worker = new Worker(file);
    worker.once('message', (m: ParseReply) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the metadata parser thread exited (${code}) without an answer`)));
    worker.postMessage({ ...job, bytes: copy } satisfies ParseJob, [copy.buffer as ArrayBuffer]);
  });
}
