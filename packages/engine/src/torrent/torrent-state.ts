/** A torrent's state, by libtorrent's torrent_status::state_t names. */
export type TorrentState =
  | 'checking_resume_data'
  | 'checking_files'
  | 'downloading_metadata'
  | 'downloading'
  | 'finished'
  | 'seeding';

/** libtorrent's numeric values of torrent_status::state_t, for clients that want the numbers. */
export const STATE_VALUES: Readonly<Record<TorrentState, number>> = {
  checking_files: 1,
  downloading_metadata: 2,
  downloading: 3,
  finished: 4,
  seeding: 5,
  checking_resume_data: 7,
};
