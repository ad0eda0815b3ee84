/**
 * RFC 9110 range requests for one representation of known size (section 14): which bytes a GET answers
 * with. Pure: headers in, a decision out.
 */

/** What to send: the whole body (200), one range (206), or 416. */
export type RangeDecision =
  | { status: 200 }
  | { status: 206; start: number; end: number }
  | { status: 416 };

/** Ranges past this count are not worth serving as one: the header is ignored (RFC 9110 14.2 allows it). */
const MAX_RANGES = 16;

/**
 * Parses a Range header value for a body of `size` bytes. A header in another unit, or not well formed, is
 * ignored (200, as section 14.2 says). Several ranges are merged when they overlap or touch (one 206);
 * disjoint ones are answered with the whole body, which the RFC allows (no multipart/byteranges).
 */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { status: 200 };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { status: 200 };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return { status: 200 };
  const ranges: [number, number][] = [];
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { status: 200 };
    if (r[1] === '') {
      // suffix-range: the last N bytes; N = 0 selects nothing.
      const n = Number(r[2]);
      if (!Number.isSafeInteger(n)) return { status: 200 };
      if (n > 0 && size > 0) ranges.push([Math.max(0, size - n), size - 1]);
      continue;
    }
    const first = Number(r[1]);
    const last = r[2] === '' ? Infinity : Number(r[2]);
    if (!Number.isSafeInteger(first) || (last !== Infinity && !Number.isSafeInteger(last))) return { status: 200 };
    if (last < first) return { status: 200 }; // invalid range-spec: the whole header is ignored
    if (first < size) ranges.push([first, Math.min(last, size - 1)]);
  }
  // Well formed, but no range overlaps the body.
  if (ranges.length === 0) return { status: 416 };
  ranges.sort((a, b) => a[0] - b[0]);
  let [start, end] = ranges[0]!;
  for (let i = 1; i < ranges.length; i++) {
    const [s, e] = ranges[i]!;
    if (s > end + 1) return { status: 200 };
    end = Math.max(end, e);
  }
  return { status: 206, start, end };
}

/**
 * If-Range (RFC 9110 13.1.5): the range applies only if the validator names the current representation.
 * We send a strong ETag and no Last-Modified, so only that exact ETag matches; a date or a weak tag does not.
 */
export function ifRangeHolds(ifRange: string | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  return ifRange.trim() === etag;
}

/** If-None-Match (RFC 9110 13.1.2, weak comparison): whether the client's copy is current (a 304). */
export function noneMatch(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

const TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm', avi: 'video/x-msvideo',
  mov: 'video/quicktime', mpg: 'video/mpeg', mpeg: 'video/mpeg', ts: 'video/mp2t', ogv: 'video/ogg', wmv: 'video/x-ms-wmv',
  flv: 'video/x-flv', '3gp': 'video/3gpp',
  mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav',
  m4a: 'audio/mp4', aac: 'audio/aac', wma: 'audio/x-ms-wma',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif', bmp: 'image/bmp',
  srt: 'application/x-subrip', vtt: 'text/vtt', ass: 'text/x-ssa', txt: 'text/plain; charset=utf-8', nfo: 'text/plain; charset=utf-8',
  md: 'text/plain; charset=utf-8', pdf: 'application/pdf', epub: 'application/epub+zip', zip: 'application/zip',
  iso: 'application/x-iso9660-image', json: 'application/json',
};

/** Media (audio or video) files: what a playlist lists first. */
export function isMedia(path: string): boolean {
  const t = contentTypeOf(path);
  return t.startsWith('video/') || t.startsWith('audio/');
}

/**
 * The Content-Type for a file name. Anything a browser would run (HTML, SVG, XML, scripts) is served as
 * octet-stream: the torrent's content must not execute in the API's origin, where the UI cookie lives.
 */
export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return 'application/octet-stream';
  return TYPES[path.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
