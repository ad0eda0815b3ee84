import { readFile } from 'node:fs/promises';
import { CliError } from '../errors.js';

/** `spritzle start` options that a config file may set, by their option names. */
export const CONFIG_KEYS = {
  port: 'number', host: 'string', listenPort: 'number', listenHost: 'string', downloadDir: 'string',
  token: 'string', dht: 'boolean', dhtBootstrap: 'string[]', logLevel: 'string',
  outEncPolicy: 'string', inEncPolicy: 'string', allowedEncLevel: 'string', preferRc4: 'boolean',
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type DaemonConfig = Partial<Record<ConfigKey, string | number | boolean | string[]>>;

/**
 * Reads a JSON config file (`{"port": 8080, "downloadDir": "/data", "dht": false, ...}`; kebab-case
 * names such as "listen-port" work too). Unknown keys or wrong types are an error naming them; a
 * missing file is an error only when `required` (the user named it).
 */
export async function loadConfigFile(path: string, required: boolean): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read the config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CliError(`config file ${path} must hold a JSON object`);
  const out: DaemonConfig = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as ConfigKey;
    const type = CONFIG_KEYS[key];
    if (!type) throw new CliError(`config file ${path}: unknown option "${k}" (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
    const ok = type === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : typeof v === type;
    if (!ok) throw new CliError(`config file ${path}: "${k}" must be a ${type}`);
    out[key] = v as string | number | boolean | string[];
  }
  return out;
}
