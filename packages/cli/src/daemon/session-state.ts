import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import bencode from 'bencode';
import type { Logger } from 'pino';
import { bdecode, type Session } from '@spritzle/engine';
import { writeFileAtomic } from './atomic-write.js';

type SettingValue = string | number | boolean;

/**
 * Session state that outlives the process: settings changed over the API (not those given at start,
 * which the command line owns) and the DHT routing table. `<state-dir>/session.state`, bencoded,
 * written atomically on every change and at shutdown.
 */
export class SessionStateStore {
  private readonly path: string;
  /** Settings changed over the API since the daemon's first start. */
  private changed: Record<string, SettingValue> = {};
  private dht: Record<string, unknown> | undefined;
  /** Categories (name → save path) and tags known without a torrent (issue 15); torrents keep their own. */
  private labels: { categories: Record<string, string>; tags: string[] } = { categories: {}, tags: [] };
  private writing: Promise<void> = Promise.resolve();
  private readonly off: () => void;

  constructor(private readonly session: Session, stateDir: string, private readonly log: Logger) {
    this.path = join(stateDir, 'session.state');
    const onChange = ({ changed }: { changed: Record<string, SettingValue> }): void => {
      Object.assign(this.changed, changed);
      void this.save();
    };
    const onLabels = ({ categories, tags }: { categories: { name: string; save_path: string }[]; tags: string[] }): void => {
      this.labels = { categories: Object.fromEntries(categories.map((c) => [c.name, c.save_path])), tags };
      void this.save();
    };
    session.on('settings_changed', onChange);
    session.on('labels_changed', onLabels);
    this.off = () => {
      session.off('settings_changed', onChange);
      session.off('labels_changed', onLabels);
    };
  }

  /**
   * Applies what was saved, except the settings named in `givenAtStart` (a flag or variable given now
   * wins over an old API change). A damaged file is logged and ignored.
   */
  async load(givenAtStart: ReadonlySet<string>): Promise<void> {
    const bytes = await readFile(this.path).catch(() => null);
    if (!bytes) return;
    try {
      const d = bdecode(bytes) as { settings?: Record<string, unknown>; dht?: Record<string, unknown>; categories?: Record<string, unknown>; tags?: unknown[] };
      const saved: Record<string, SettingValue> = {};
      for (const [k, v] of Object.entries(d.settings ?? {})) {
        if (givenAtStart.has(k)) continue;
        // bencode has no booleans or text type: strings come back as bytes, booleans as 0/1 tagged.
        if (v instanceof Uint8Array) saved[k] = Buffer.from(v).toString('utf8');
        else if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') saved[k] = v[0] === 1;
        else if (typeof v === 'number') saved[k] = v;
      }
      if (Object.keys(saved).length > 0) this.session.applySettings(saved);
      this.changed = saved;
      this.dht = d.dht;
      if (this.dht) this.loadDht(this.dht);
      for (const [name, savePath] of Object.entries(d.categories ?? {})) {
        if (savePath instanceof Uint8Array) this.session.setCategory(name, Buffer.from(savePath).toString('utf8'));
      }
      const tags = (Array.isArray(d.tags) ? d.tags : []).filter((t): t is Uint8Array => t instanceof Uint8Array).map((t) => Buffer.from(t).toString('utf8'));
      if (tags.length > 0) this.session.createTags(tags);
    } catch (e) {
      this.log.warn({ err: (e as Error).message, file: this.path }, 'session state unreadable; starting with defaults');
    }
  }

  private loadDht(state: Record<string, unknown>): void {
    this.session.loadDhtState(state);
  }

  /** The live routing table when the DHT runs, else what was loaded (a daemon run with --no-dht keeps it). */
  private dhtState(): Record<string, unknown> | undefined {
    const live = this.session.dhtState();
    return Object.keys(live).length > 0 ? live : this.dht;
  }

  async save(): Promise<void> {
    const settings: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.changed)) settings[k] = typeof v === 'boolean' ? [v ? 1 : 0] : v;
    const dht = this.dhtState();
    const body = bencode.encode({ settings, ...(dht ? { dht } : {}), categories: this.labels.categories, tags: this.labels.tags });
    this.writing = this.writing.then(() => writeFileAtomic(this.path, body)).catch((e: Error) => {
      this.log.error({ err: e.message, file: this.path }, 'cannot save session state');
    });
    await this.writing;
  }

  async close(): Promise<void> {
    this.off();
    await this.save();
  }
}
