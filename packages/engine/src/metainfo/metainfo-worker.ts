/**
 * The metadata parser on a thread of its own (see parse-thread.ts): one .torrent file or info dictionary in,
 * its TorrentInfo (in the wire form parse-thread.ts rebuilds) or its SpritzleError out; for metadata from
 * peers, its hash is checked first (a mismatch is answered without parsing). Runs from the
 * engine's dist/ and, in the CLI's bundle, as bundle/metainfo-worker.js beside spritzle.mjs.
 */
import { parentPort } from 'node:worker_threads';
import { parseInfoDict, parseTorrentFile } from './metainfo.js';
import { SpritzleError } from '../errors.js';
import { isTorrentsInfoDict } from './metadata-check.js';
import { toWire, wireBuffers, type ParseJob, type ParseReply } from './parse-wire.js';

parentPort!.once('message', (job: ParseJob) => {
  let reply: ParseReply;
  let transfer: ArrayBuffer[] = [];
  try {
    if (job.expect && !isTorrentsInfoDict(job.bytes, job.expect)) {
      parentPort!.postMessage({ ok: false, mismatch: true } satisfies ParseReply);
      return;
    }
    const info = job.kind === 'torrent' ? parseTorrentFile(job.bytes) : parseInfoDict(job.bytes);
    const wire = toWire(info);
    reply = { ok: true, info: wire };
    transfer = wireBuffers(wire);
  } catch (e) {
    reply = e instanceof SpritzleError
      ? { ok: false, code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) }
      : { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply, transfer);
});
