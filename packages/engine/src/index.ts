/**
 * @spritzle/engine: a BitTorrent engine with libtorrent's semantics and vocabulary.
 *
 * ```ts
 * import { Session } from '@spritzle/engine';
 * const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
 * const t = await session.addTorrent({ ti: torrentBytes, save_path: '/tmp/dl' });
 * session.on('torrent_finished', ({ info_hash }) => console.log('done', info_hash));
 * ```
 */
export { Session, type SessionOptions, type AddOptions } from './session/session.js';
export { confineSavePath } from './storage/paths.js';
export { DEFAULT_DISCOVERY_OPTIONS } from './discovery/discovery.js';
export { LSD_ADDRESS, LSD_PORT } from './discovery/lsd.js';
export type { DiscoveryOptions, PeerSource, TrackerInfo } from './discovery/types.js';
export { TorrentHandle, type TorrentCondition } from './torrent/torrent-handle.js';
export { TORRENT_UPDATE_RULES, validateTorrentUpdate, type TorrentUpdate } from './torrent/torrent-update.js';
export { TorrentReadStream, type ReadStreamOptions, type ReadStreamSource } from './torrent/read-stream.js';
export type { WebSeedInfo, WebSeedKind } from './torrent/web-seeds.js';
export type { FileInfo, PeerInfo } from './torrent/torrent-view.js';
export type { TorrentStatus, TorrentSummary, ErrorCodeJson } from './torrent/status.js';
export { SUMMARY_FIELDS } from './torrent/status.js';
export {
  normalizeAddParams, flagNames, TORRENT_FLAGS, DEFAULT_FLAGS,
  type AddTorrentParams, type NormalizedAddParams, type TorrentFlagName,
} from './session/add-torrent-params.js';
export { DEFAULT_SETTINGS, validateSettings, type SessionSettings } from './session/settings.js';
export type { EncPolicy, EncLevel } from './transport/mse.js';
export { Counters, type SessionStats, type MetricType } from './stats/counters.js';
export { STATE_VALUES, type SessionEvents, type SessionEventName, type TorrentState } from './session/events.js';
export { SpritzleError, isSpritzleError, type ErrorCode } from './errors.js';
export { bdecode, checkBencode, BencodeError, type BValue, type BDict, type BencodeLimits } from './metainfo/bencode.js';
export { parseTorrentFile, type TorrentInfo } from './metainfo/metainfo.js';
export { parseTorrentFileOffThread } from './metainfo/parse-thread.js';
export { parseMagnet, type Magnet, type FileRange } from './metainfo/magnet.js';
export { encodeResumeData, decodeResumeData, type ResumeData } from './torrent/resume.js';
export { validateCategoryName, validateTag, validateTags } from './torrent/labels.js';
export type { Category } from './session/categories.js';
export {
  USE_GLOBAL, NO_LIMIT, SHARE_LIMIT_ACTIONS, DEFAULT_TORRENT_SHARE_LIMITS, validateShareLimits,
  type TorrentShareLimits, type ShareLimitAction, type ShareLimitReached,
} from './torrent/share-limits.js';
export { bestInfoHash, parseInfoHash, type InfoHashes } from './metainfo/info-hashes.js';
export type { V2Info, V2File, V2FilePieces, LayoutFile } from './metainfo/v2.js';
export { FileHashTree } from './metainfo/merkle.js';
export {
  createTorrentFromPath, createTorrentFromData, type CreateOptions as CreateTorrentOptions, type CreatedTorrent, type TorrentVersion,
} from './metainfo/create.js';
