// The OpenAPI document against the app: every route the Express app serves is described (and nothing
// else), every example in it validates against its schema, and real answers validate too.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createApp, type JsonSchema, type OpenApiDocument } from '@spritzle/server';
import { type Api, postFile, raw, startApi, testTorrent } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------------------
// A small JSON Schema checker for the subset the document uses (see JsonSchema in packages/server/src/schemas.ts).

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(t: string, v: unknown): boolean {
  const actual = typeOf(v);
  return t === actual || (t === 'number' && actual === 'integer');
}

/** The errors of `value` against `schema` (empty when it validates); `$ref`s resolve in `doc`. */
export function validate(schema: JsonSchema, value: unknown, doc: OpenApiDocument, at = '$'): string[] {
  const errors: string[] = [];
  const known = new Set(['type', 'description', 'format', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
    'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'oneOf', 'anyOf', '$ref', 'contentMediaType',
    'contentEncoding', 'examples']);
  for (const k of Object.keys(schema)) if (!known.has(k)) errors.push(`${at}: the checker does not know the keyword ${k}`);
  if (schema.$ref !== undefined) {
    const m = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref);
    const target = m ? doc.components.schemas[m[1]!] : undefined;
    if (!target) return [`${at}: unresolved $ref ${schema.$ref}`];
    errors.push(...validate(target, value, doc, at));
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value))) return [...errors, `${at}: ${typeOf(value)} is not ${types.join('|')}`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value as string)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at}: not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: too short`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: too long`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: too many items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validate(schema.items!, v, doc, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${at}: missing ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      const p = schema.properties?.[k];
      if (p) errors.push(...validate(p, v, doc, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected property ${k}`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, doc, `${at}.${k}`));
    }
  }
  if (schema.oneOf) {
    const passing = schema.oneOf.filter((s) => validate(s, value, doc, at).length === 0).length;
    if (passing !== 1) errors.push(`${at}: matches ${passing} of oneOf, not exactly 1`);
  }
  if (schema.anyOf && !schema.anyOf.some((s) => validate(s, value, doc, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
  return errors;
}

describe('the schema checker', () => {
  const doc = { components: { schemas: { H: { type: 'string', pattern: '^a+$' } } } } as unknown as OpenApiDocument;

  it('accepts a matching value', () => {
    expect(validate({ type: 'object', properties: { h: { $ref: '#/components/schemas/H' } }, required: ['h'] }, { h: 'aa' }, doc)).toEqual([]);
  });

  it('reports a wrong type, a missing key, an extra key and a pattern miss', () => {
    const s: JsonSchema = { type: 'object', properties: { n: { type: 'integer' }, h: { $ref: '#/components/schemas/H' } }, required: ['n', 'x'], additionalProperties: false };
    expect(validate(s, { n: 1.5, h: 'b', y: 1 }, doc)).toHaveLength(4);
  });

  it('requires exactly one branch of oneOf', () => {
    expect(validate({ oneOf: [{ type: 'number' }, { type: 'integer' }] }, 3, doc)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------

interface RouteLayer { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: RouteLayer[] } }

/** The (method, OpenAPI path) pairs the Express app really serves, read from its router. */
function servedRoutes(stack: RouteLayer[]): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const p = layer.route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') out.push(`${m.toUpperCase()} ${p}`);
    } else if (layer.handle?.stack) {
      out.push(...servedRoutes(layer.handle.stack));
    }
  }
  return out.sort();
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

let api: Api;
let doc: OpenApiDocument;
let hash: string;
beforeAll(async () => {
  api = await startApi();
  doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as OpenApiDocument;
  const t = await testTorrent(api.root);
  expect((await postFile(api, t.torrentBytes)).status).toBe(201);
  hash = t.infoHash;
});
afterAll(async () => {
  await api.close();
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('spritzle');
  });

  it('describes every route the app serves, and only those', () => {
    const app = createApp(api.session, { downloadRoot: api.root });
    const served = servedRoutes((app as unknown as { router: { stack: RouteLayer[] } }).router.stack);
    const documented = Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(served.length).toBeGreaterThanOrEqual(19);
    expect(documented).toEqual(served);
  });

  it('declares every path parameter', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      const names = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        for (const n of names) expect(op.parameters?.some((x) => x.in === 'path' && x.name === n && x.required)).toBe(true);
      }
    }
  });

  it('gives every operation a unique operationId', () => {
    const ids = Object.values(doc.paths).flatMap((item) => METHODS.map((m) => item[m]?.operationId).filter(Boolean));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every JSON response a schema and an example', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        for (const [status, r] of Object.entries(item[m]?.responses ?? {})) {
          for (const [type, media] of Object.entries(r.content ?? {})) {
            if (p === '/openapi.json') continue;
            expect({ at: `${m} ${p} ${status} ${type}`, hasExample: media.example !== undefined || media.examples !== undefined })
              .toEqual({ at: `${m} ${p} ${status} ${type}`, hasExample: true });
          }
        }
      }
    }
  });

  it('has examples that validate against their schemas', () => {
    const failures: string[] = [];
    let checked = 0;
    const check = (where: string, schema: JsonSchema, value: unknown): void => {
      checked++;
      for (const e of validate(schema, value, doc)) failures.push(`${where}: ${e}`);
    };
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const medias = [
          ...Object.entries(op.requestBody?.content ?? {}).map(([t, media]) => [`${m} ${p} request ${t}`, media] as const),
          ...Object.entries(op.responses).flatMap(([s, r]) => Object.entries(r.content ?? {}).map(([t, media]) => [`${m} ${p} ${s} ${t}`, media] as const)),
        ];
        for (const [where, media] of medias) {
          if (media.example !== undefined) check(where, media.schema, media.example);
          for (const [name, ex] of Object.entries(media.examples ?? {})) check(`${where} (${name})`, media.schema, ex.value);
        }
      }
    }
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const ex of schema.examples ?? []) check(`components.schemas.${name}`, schema, ex);
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(25);
  });
});

describe('real answers match the documented schemas', () => {
  function schemaOf(p: string, method: (typeof METHODS)[number], status: string): JsonSchema {
    return doc.paths[p]![method]!.responses[status]!.content!['application/json']!.schema;
  }

  async function getJson(p: string): Promise<unknown> {
    const res = await fetch(`${api.url}${p}`);
    expect(res.status).toBe(200);
    return res.json();
  }

  it('GET /session matches SessionStats', async () => {
    expect(validate(schemaOf('/session', 'get', '200'), await getJson('/session'), doc)).toEqual([]);
  });

  it('GET /torrent/<hash> matches TorrentStatus', async () => {
    expect(validate(schemaOf('/torrent/{hash}', 'get', '200'), await getJson(`/torrent/${hash}`), doc)).toEqual([]);
  });

  it('GET /torrent and GET /torrent?fields= match', async () => {
    const schema = schemaOf('/torrent', 'get', '200');
    expect(validate(schema, await getJson('/torrent'), doc)).toEqual([]);
    expect(validate(schema, await getJson('/torrent?fields=name,state,progress'), doc)).toEqual([]);
  });

  it('files, peers and trackers match', async () => {
    for (const sub of ['files', 'peers', 'trackers']) {
      expect(validate(schemaOf(`/torrent/{hash}/${sub}`, 'get', '200'), await getJson(`/torrent/${hash}/${sub}`), doc)).toEqual([]);
    }
  });

  it('GET /session/settings matches Settings', async () => {
    expect(validate(schemaOf('/session/settings', 'get', '200'), await getJson('/session/settings'), doc)).toEqual([]);
  });

  it('POST /torrent 201 matches InfoHash', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes);
    expect(validate(schemaOf('/torrent', 'post', '201'), await res.json(), doc)).toEqual([]);
  });

  it('error answers match Error', async () => {
    for (const [method, p] of [['GET', '/torrent/zz'], ['GET', `/torrent/${'f'.repeat(40)}`], ['POST', '/session'], ['GET', '/nope'], ['POST', '/torrent']] as const) {
      const res = await raw(api.port, { method, path: p });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(validate({ $ref: '#/components/schemas/Error' }, res.json(), doc)).toEqual([]);
    }
  });

  it('the SSE stats event matches StatsEvent', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/events`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    let buf = '';
    while (!/^data: .*\n\n/m.test(buf)) buf += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    const data = JSON.parse(/^data: (.*)$/m.exec(buf)![1]!) as unknown;
    expect(validate({ $ref: '#/components/schemas/StatsEvent' }, data, doc)).toEqual([]);
  });
});
