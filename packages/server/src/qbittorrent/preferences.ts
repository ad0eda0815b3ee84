import type { SessionSettings } from '@spritzle/engine';
import { QbError } from './params.js';

/**
 * `app/preferences`: the subset of qBittorrent's preferences that maps onto the session's settings, plus
 * the "off" values of what the engine does not do yet (share limits, queueing), so a client reading them
 * (Sonarr checks max_ratio_enabled and queueing_enabled) sees the truth.
 */
export function preferencesOf(s: SessionSettings, listenPort: number): Record<string, unknown> {
  return {
    save_path: s.save_path,
    temp_path_enabled: false,
    temp_path: '',
    dl_limit: s.download_rate_limit,
    up_limit: s.upload_rate_limit,
    max_connec: s.connections_limit,
    max_connec_per_torrent: -1,
    max_uploads: s.unchoke_slots_limit,
    max_uploads_per_torrent: -1,
    listen_port: listenPort,
    random_port: false,
    upnp: false,
    dht: s.enable_dht,
    pex: true,
    lsd: s.enable_lsd,
    encryption: 0,
    anonymous_mode: false,
    max_ratio_enabled: false,
    max_ratio: -1,
    max_seeding_time_enabled: false,
    max_seeding_time: -1,
    max_inactive_seeding_time_enabled: false,
    max_inactive_seeding_time: -1,
    max_ratio_act: 0,
    queueing_enabled: queueingOn(s),
    max_active_downloads: s.active_downloads,
    max_active_torrents: s.active_limit,
    max_active_uploads: s.active_seeds,
    dont_count_slow_torrents: false,
    auto_tmm_enabled: false,
    torrent_content_layout: 'Original',
    add_to_top_of_queue: false,
    start_paused_enabled: false,
    create_subfolder_enabled: true,
    web_ui_address: '',
    web_ui_port: 0,
    bypass_local_auth: false,
    locale: 'en',
  };
}

/** Whether the session queues torrents: any of libtorrent's active_* limits set. */
export function queueingOn(s: SessionSettings): boolean {
  return s.active_downloads >= 0 || s.active_seeds >= 0 || s.active_limit >= 0;
}

/** qBittorrent's defaults when queueing is switched on without limits: 3 downloads, 3 uploads, 5 in all. */
const QB_QUEUE_DEFAULTS = { active_downloads: 3, active_seeds: 3, active_limit: 5 } as const;

/** Preferences that turn on what the engine does not do yet: refused, rather than accepted and ignored. */
const UNSUPPORTED_ON: Readonly<Record<string, string>> = {
  max_ratio_enabled: 'share limits (max_ratio)',
  max_seeding_time_enabled: 'share limits (max_seeding_time)',
  max_inactive_seeding_time_enabled: 'share limits (max_inactive_seeding_time)',
  auto_tmm_enabled: 'automatic torrent management',
  temp_path_enabled: 'a temporary download path',
};

function int(v: unknown, name: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new QbError(400, `${name} must be an integer`);
  return n;
}

/**
 * `app/setPreferences`' `json` → the settings to apply. Keys outside the mapped subset are ignored, as
 * qBittorrent ignores keys it does not know; keys that would turn on a missing feature are a 400.
 */
export function settingsFromPreferences(prefs: Record<string, unknown>, current: SessionSettings): Partial<SessionSettings> {
  const out: Partial<SessionSettings> = {};
  // Queueing: qBittorrent's switch and its three limits are libtorrent's active_* (-1 for all when off).
  const on = typeof prefs.queueing_enabled === 'boolean' ? prefs.queueing_enabled : queueingOn(current);
  const limit = (key: string, setting: keyof typeof QB_QUEUE_DEFAULTS): number => {
    if (prefs[key] !== undefined) return Math.max(-1, int(prefs[key], key));
    return current[setting] >= 0 ? current[setting] : QB_QUEUE_DEFAULTS[setting];
  };
  if (typeof prefs.queueing_enabled === 'boolean' || (on && ['max_active_downloads', 'max_active_uploads', 'max_active_torrents'].some((k) => prefs[k] !== undefined))) {
    out.active_downloads = on ? limit('max_active_downloads', 'active_downloads') : -1;
    out.active_seeds = on ? limit('max_active_uploads', 'active_seeds') : -1;
    out.active_limit = on ? limit('max_active_torrents', 'active_limit') : -1;
  }
  for (const [key, v] of Object.entries(prefs)) {
    const what = UNSUPPORTED_ON[key];
    if (what !== undefined && v === true) throw new QbError(400, `spritzle does not support ${what} yet`);
    switch (key) {
      case 'save_path':
        if (typeof v !== 'string' || v === '') throw new QbError(400, 'save_path must be a path');
        out.save_path = v;
        break;
      case 'dl_limit': out.download_rate_limit = Math.max(0, int(v, key)); break;
      case 'up_limit': out.upload_rate_limit = Math.max(0, int(v, key)); break;
      case 'max_connec': out.connections_limit = Math.max(0, int(v, key)); break;
      case 'max_uploads': out.unchoke_slots_limit = int(v, key) <= 0 ? -1 : int(v, key); break;
      case 'dht': if (typeof v === 'boolean') out.enable_dht = v; break;
      case 'lsd': if (typeof v === 'boolean') out.enable_lsd = v; break;
      default: break;
    }
  }
  return out;
}
