/**
 * The BEP 52 (BitTorrent v2) part of an info dictionary: `meta version`, the `file tree` with each file's
 * `pieces root`, the `piece layers` beside the info dictionary, and the v2 info-hash. Read from the raw
 * bytes (bnode.ts) so file order and keys are exactly what was hashed. The result's layout is the one
 * libtorrent gives a v2 torrent: every non-empty file starts on a piece boundary, with a BEP 47 pad file
 * after each file that does not end on one (the last included), so pieces are numbered as in a hybrid.
 */
import { createHash } from 'node:crypto';
import { SpritzleError } from '../errors.js';
import { sanitizeTorrentPath } from '../storage/paths.js';
import type { BencodeLimits } from './bencode.js';
import { dictGet, hasDuplicateKeys, parseBNode, type BNode } from './bnode.js';
import { BLOCK_SIZE, FileHashTree, HASH_SIZE, sha256, treesFromWire, treesToWire, type TreesWire } from './merkle.js';

/** One file of the file tree, in tree order. */
export interface V2File {
  /** Relative path under save_path, as TorrentInfo.files gives it (multi-file: starts with the torrent's name). */
  readonly path: string;
  readonly length: number;
  /** Merkle root of the file's blocks; absent for an empty file. */
  readonly piecesRoot?: Uint8Array;
  /** BEP 47 attributes ("x" executable, "h" hidden), "" when none. */
  readonly attr: string;
}

/** A file of the piece layout: the files, and pad files (never stored, read as zeros) between them. */
export interface LayoutFile {
  readonly path: string;
  readonly length: number;
  readonly pad: boolean;
}

/** Where one file's pieces are: its merkle tree and the first of its pieces in the torrent's numbering. */
export interface V2FilePieces {
  /** Index into V2Info.files. */
  readonly file: number;
  readonly firstPiece: number;
  readonly numPieces: number;
  readonly tree: FileHashTree;
}

/** The BEP 52 part of a v2 or hybrid torrent: its files, their merkle trees, its v2 info-hash and layout. */
export interface V2Info {
  /** SHA-256 of the info dictionary, 64 lower-case hex characters. */
  readonly infoHashV2: string;
  readonly infoHashV2Bytes: Uint8Array;
  readonly files: readonly V2File[];
  /** The files with pad files between them (the v2 layout; a hybrid's v1 list must agree with it). */
  readonly layout: readonly LayoutFile[];
  /** Non-empty files, in piece order. */
  readonly pieces: readonly V2FilePieces[];
  /** The same, by pieces root in hex (hash requests name a file by its root; equal files share one). */
  readonly piecesByRoot: ReadonlyMap<string, V2FilePieces>;
  readonly numPieces: number;
  /** Whether the file tree is a single file named like the torrent (no directory). */
  readonly singleFile: boolean;
}

/** The `meta version` of an info dict node: 1 when absent; refuses a version we do not know. */
export function metaVersion(info: BNode): 1 | 2 {
  const v = dictGet(info, 'meta version');
  if (v === undefined) return 1;
  if (v.kind !== 'int') invalid('info["meta version"] is not an integer');
  if (v.value === 1 || v.value === 2) return v.value;
  if (v.value > 2) {
    throw new SpritzleError('invalid_torrent', `not a supported .torrent: meta version ${v.value} (spritzle reads versions 1 and 2)`);
  }
  return invalid(`info["meta version"] is ${v.value}`);
}

function invalid(why: string): never {
  throw new SpritzleError('invalid_torrent', `not a valid .torrent: ${why}`);
}

const utf8 = new TextDecoder();
const text = (b: Uint8Array): string => utf8.decode(b);

export interface V2Limits {
  readonly maxFiles: number;
  readonly maxPieces: number;
}

/**
 * Reads the v2 part of an info dictionary (parsed by parseBNode from `infoBytes`). `name` is the torrent's
 * name as TorrentInfo gives it (sanitized); `hasV1Files` says whether a v1 `files` list is present (then a
 * one-file tree is still a directory). Throws invalid_torrent or invalid_path.
 */
export function parseV2Info(info: BNode, infoBytes: Uint8Array, name: string, pieceLength: number, hasV1Files: boolean, limits: V2Limits): V2Info {
  if (info.kind !== 'dict') invalid('info is not a dictionary');
  if (!Number.isSafeInteger(pieceLength) || pieceLength < BLOCK_SIZE || (pieceLength & (pieceLength - 1)) !== 0) {
    invalid(`info["piece length"] ${pieceLength} is not a power of two of at least 16 KiB (BEP 52)`);
  }
  const tree = dictGet(info, 'file tree');
  if (!tree || tree.kind !== 'dict') invalid('a v2 torrent (meta version 2) without a "file tree" dictionary');

  const singleFile = !hasV1Files && tree.entries.length === 1 && isLeaf(tree.entries[0]!.value);
  const files: V2File[] = [];
  // Iterative walk (a stack, not recursion): the decoder already bounds the depth, this bounds the stack.
  const stack: { node: BNode & { kind: 'dict' }; at: number; dir: string[] }[] = [{ node: tree, at: 0, dir: [] }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.at === 0 && hasDuplicateKeys(top.node)) invalid(`a key appears twice in the file tree under "${top.dir.join('/')}"`);
    if (top.at >= top.node.entries.length) {
      stack.pop();
      continue;
    }
    const { key, value } = top.node.entries[top.at++]!;
    const comp = text(key);
    if (key.length === 0) invalid(`an empty name in the file tree under "${top.dir.join('/')}"`);
    if (value.kind !== 'dict') invalid(`the file tree entry "${[...top.dir, comp].join('/')}" is not a dictionary`);
    const comps = [...top.dir, comp];
    if (isLeaf(value)) {
      if (files.length >= limits.maxFiles) invalid(`more than ${limits.maxFiles} files (the limit)`);
      files.push(readFile(value.entries[0]!.value, comps, singleFile ? null : name));
    } else {
      stack.push({ node: value, at: 0, dir: comps });
    }
  }
  if (files.length === 0) invalid('the file tree holds no files');

  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) invalid(`the path "${f.path}" appears twice`);
    seen.add(f.path);
  }

  const padDir = singleFile ? '' : `${name}/`;
  const { layout, pieces, numPieces } = v2Layout(files, padDir, pieceLength, limits);
  const infoHashV2Bytes = createHash('sha256').update(infoBytes).digest();
  return { infoHashV2: infoHashV2Bytes.toString('hex'), infoHashV2Bytes, files, layout, pieces, piecesByRoot: byRoot(pieces), numPieces, singleFile };
}

/** The piece layout of a v2 file list: pad files after each file that does not end on a piece, and each file's (empty) tree. */
function v2Layout(files: readonly V2File[], padDir: string, pieceLength: number, limits: V2Limits): Pick<V2Info, 'layout' | 'pieces' | 'numPieces'> {
  const layout: LayoutFile[] = [];
  const pieces: V2FilePieces[] = [];
  let offset = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    layout.push({ path: f.path, length: f.length, pad: false });
    if (f.length === 0) continue;
    const numPieces = Math.ceil(f.length / pieceLength);
    pieces.push({ file: i, firstPiece: offset / pieceLength, numPieces, tree: new FileHashTree(f.piecesRoot!, f.length, pieceLength) });
    offset += f.length;
    const rest = offset % pieceLength;
    if (rest !== 0) {
      layout.push({ path: `${padDir}.pad/${pieceLength - rest}`, length: pieceLength - rest, pad: true });
      offset += pieceLength - rest;
    }
    if (!Number.isSafeInteger(offset)) invalid('the files add up to more bytes than a torrent can hold');
  }
  const numPieces = offset / pieceLength;
  if (numPieces === 0) invalid('the torrent holds no data');
  if (numPieces > limits.maxPieces) invalid(`more than ${limits.maxPieces} pieces (the limit)`);
  return { layout, pieces, numPieces };
}

function byRoot(pieces: readonly V2FilePieces[]): Map<string, V2FilePieces> {
  const piecesByRoot = new Map<string, V2FilePieces>();
  for (const p of pieces) {
    const key = Buffer.from(p.tree.root).toString('hex');
    if (!piecesByRoot.has(key)) piecesByRoot.set(key, p);
  }
  return piecesByRoot;
}

/**
 * A V2Info as it crosses threads (see parse-wire.ts): columns and buffers, not 100,000 file objects and
 * merkle trees, which a thread message would copy one by one (or, for the trees' class, lose). The layout
 * is rebuilt from the files, each tree from the pages of hashes it holds.
 */
export interface V2Wire {
  infoHashV2: string;
  singleFile: boolean;
  /** The folder of the pad files' paths ('' for a single file). */
  padDir: string;
  pieceLength: number;
  /** All file paths end to end; file i's ends at pathEnds[i]. Attributes likewise. */
  paths: string;
  pathEnds: Uint32Array;
  attrs: string;
  attrEnds: Uint32Array;
  lengths: Float64Array;
  /** 32 bytes per file: its pieces root, zeros for an empty file (a root is never all zeros). */
  roots: Uint8Array;
  /** The trees' hashes below their roots (V2Info.pieces order), as FileHashTree.toWire packs them. */
  trees: TreesWire;
}

export function v2ToWire(v2: V2Info, pieceLength: number): V2Wire {
  const n = v2.files.length;
  const pathEnds = new Uint32Array(n);
  const attrEnds = new Uint32Array(n);
  const lengths = new Float64Array(n);
  const roots = new Uint8Array(n * HASH_SIZE);
  let pathEnd = 0;
  let attrEnd = 0;
  v2.files.forEach((f, i) => {
    pathEnds[i] = pathEnd += f.path.length;
    attrEnds[i] = attrEnd += f.attr.length;
    lengths[i] = f.length;
    if (f.piecesRoot) roots.set(f.piecesRoot, i * HASH_SIZE);
  });
  const pad = v2.layout.find((f) => f.pad);
  const padDir = pad ? pad.path.slice(0, pad.path.lastIndexOf('.pad/')) : '';
  return {
    infoHashV2: v2.infoHashV2, singleFile: v2.singleFile, padDir, pieceLength,
    paths: v2.files.map((f) => f.path).join(''), pathEnds, attrs: v2.files.map((f) => f.attr).join(''), attrEnds, lengths, roots,
    trees: treesToWire(v2.pieces.map((p) => p.tree)),
  };
}

/** The buffers of a V2Wire, to transfer. */
export function v2WireBuffers(w: V2Wire): ArrayBuffer[] {
  return [w.pathEnds, w.attrEnds, w.lengths, w.roots, w.trees.index, w.trees.hashes, w.trees.known].map((a) => a.buffer as ArrayBuffer);
}

export function v2FromWire(w: V2Wire): V2Info {
  const n = w.pathEnds.length;
  const files: V2File[] = new Array(n);
  for (let i = 0, p = 0, a = 0; i < n; p = w.pathEnds[i]!, a = w.attrEnds[i]!, i++) {
    const path = w.paths.slice(p, w.pathEnds[i]);
    const attr = w.attrs.slice(a, w.attrEnds[i]);
    const length = w.lengths[i]!;
    files[i] = length === 0 ? { path, length, attr } : { path, length, piecesRoot: w.roots.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), attr };
  }
  // Checked where it was parsed: no limit can be exceeded here.
  const { layout, pieces, numPieces } = v2Layout(files, w.padDir, w.pieceLength, { maxFiles: Infinity, maxPieces: Infinity });
  treesFromWire(pieces.map((p) => p.tree), w.trees);
  const infoHashV2Bytes = Buffer.from(w.infoHashV2, 'hex');
  return { infoHashV2: w.infoHashV2, infoHashV2Bytes, files, layout, pieces, piecesByRoot: byRoot(pieces), numPieces, singleFile: w.singleFile };
}

/** A file tree node is a file when its only key is the empty string. */
function isLeaf(node: BNode): node is BNode & { kind: 'dict' } {
  return node.kind === 'dict' && node.entries.length === 1 && node.entries[0]!.key.length === 0;
}

function readFile(node: BNode, comps: string[], root: string | null): V2File {
  const where = comps.join('/');
  if (node.kind !== 'dict') invalid(`the file "${where}" is not a dictionary`);
  if (hasDuplicateKeys(node)) invalid(`a key appears twice in the file "${where}"`);
  const length = dictGet(node, 'length');
  if (!length || length.kind !== 'int' || !Number.isSafeInteger(length.value) || length.value < 0) {
    invalid(`the file "${where}" has no length, or a negative one`);
  }
  const attrNode = dictGet(node, 'attr');
  const attr = attrNode?.kind === 'str' ? text(attrNode.value) : '';
  if (attr.includes('l')) invalid(`the file "${where}" is a symbolic link (not supported)`);
  if (attr.includes('p')) invalid(`the file tree lists a pad file "${where}" (pad files belong to the v1 list only)`);
  const path = root === null ? sanitizeTorrentPath(comps) : `${root}/${sanitizeTorrentPath(comps)}`;
  const rootNode = dictGet(node, 'pieces root');
  if (length.value === 0) return { path, length: 0, attr };
  if (!rootNode || rootNode.kind !== 'str' || rootNode.value.length !== HASH_SIZE) {
    invalid(`the file "${where}" has no 32-byte "pieces root"`);
  }
  if (rootNode.value.every((b) => b === 0)) invalid(`the file "${where}" has an all-zero "pieces root"`);
  return { path, length: length.value, piecesRoot: rootNode.value.slice(), attr };
}

/**
 * Loads the `piece layers` dictionary (beside the info dictionary in a .torrent) into the files' trees. A
 * layer that does not hash to its file's root is refused, naming the file. A missing layer is left to be
 * asked of peers (as for a magnet); layers for roots no file has are ignored, as libtorrent does.
 */
export function loadPieceLayers(v2: V2Info, layers: BNode | undefined): void {
  if (layers === undefined) return;
  if (layers.kind !== 'dict') invalid('"piece layers" is not a dictionary');
  const byRoot = new Map<string, Uint8Array>();
  for (const e of layers.entries) {
    if (e.value.kind !== 'str') invalid('a "piece layers" value is not a string');
    byRoot.set(Buffer.from(e.key).toString('hex'), e.value.value);
  }
  for (const p of v2.pieces) {
    if (p.numPieces <= 1) continue; // one piece: the root is its hash
    const file = v2.files[p.file]!;
    const layer = byRoot.get(Buffer.from(file.piecesRoot!).toString('hex'));
    if (layer && !p.tree.setPieceLayer(layer)) invalid(`the piece layer for "${file.path}" does not match its "pieces root"`);
  }
}

/**
 * The v2 part of an info dictionary's bytes (already within the metadata limits), or null for a v1 torrent.
 * `pieceLayers`: the bencoded `piece layers` value beside it in a .torrent, if any (never for metadata from
 * peers). `name` is the torrent's name as the v1 parser sanitized it.
 */
export function readV2(infoBytes: Uint8Array, pieceLayers: Uint8Array | undefined, name: string, limits: V2Limits & { decode: BencodeLimits }): V2Info | null {
  const info = parseBNode(infoBytes, limits.decode);
  if (metaVersion(info) === 1) {
    if (dictGet(info, 'file tree') !== undefined) invalid('a "file tree" without "meta version" 2');
    return null;
  }
  const pl = dictGet(info, 'piece length');
  const v2 = parseV2Info(info, infoBytes, name, pl?.kind === 'int' ? pl.value : NaN, dictGet(info, 'files') !== undefined, limits);
  if (pieceLayers) loadPieceLayers(v2, parseBNode(pieceLayers, limits.decode));
  return v2;
}

/** Whether every file's piece hashes are known (a .torrent, or a magnet once peers gave them all). */
export function hasAllPieceLayers(v2: V2Info): boolean {
  return v2.pieces.every((p) => p.tree.hasPieceLayer());
}

/** The file (and its piece within the file) that holds a piece of the torrent, or undefined for a piece of padding only. */
export function fileAtPiece(v2: V2Info, piece: number): { pieces: V2FilePieces; filePiece: number } | undefined {
  let lo = 0;
  let hi = v2.pieces.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = v2.pieces[mid]!;
    if (piece < p.firstPiece) hi = mid - 1;
    else if (piece >= p.firstPiece + p.numPieces) lo = mid + 1;
    else return { pieces: p, filePiece: piece - p.firstPiece };
  }
  return undefined;
}

/** The file whose tree has this root (hash requests name files by their root). */
export function fileByRoot(v2: V2Info, root: Uint8Array): V2FilePieces | undefined {
  if (root.length !== HASH_SIZE) return undefined;
  return v2.piecesByRoot.get(Buffer.from(root.buffer, root.byteOffset, root.byteLength).toString('hex'));
}

/**
 * Checking data on disk (a recheck, or data already there when a torrent is added): fed a piece's bytes in
 * order, hashes each 16 KiB block of its file's bytes (not the pad after them) and judges them against the
 * file's tree. A piece whose hash is not known yet (piece layers still to come from peers) is not had.
 */
export function v2PieceCheck(v2: V2Info, pieceLength: number): { start(piece: number): { update(data: Uint8Array): void; matches(): boolean } } {
  return {
    start(piece) {
      const at = fileAtPiece(v2, piece);
      const dataLen = at ? Math.min(pieceLength, v2.files[at.pieces.file]!.length - at.filePiece * pieceLength) : 0;
      const blocks = new Uint8Array(Math.ceil(dataLen / BLOCK_SIZE) * HASH_SIZE);
      const block = new Uint8Array(BLOCK_SIZE);
      let fed = 0;
      let fill = 0;
      let n = 0;
      const flush = (): void => {
        blocks.set(sha256(block.subarray(0, fill)), n++ * HASH_SIZE);
        fill = 0;
      };
      return {
        update(data) {
          for (let i = 0; i < data.length && fed < dataLen;) {
            // A whole block in `data` is hashed where it is; only blocks split across reads are gathered.
            if (fill === 0 && data.length - i >= BLOCK_SIZE && dataLen - fed >= BLOCK_SIZE) {
              blocks.set(sha256(data.subarray(i, i + BLOCK_SIZE)), n++ * HASH_SIZE);
              fed += BLOCK_SIZE;
              i += BLOCK_SIZE;
              continue;
            }
            const take = Math.min(BLOCK_SIZE - fill, data.length - i, dataLen - fed);
            block.set(data.subarray(i, i + take), fill);
            fill += take;
            fed += take;
            i += take;
            if (fill === BLOCK_SIZE) flush();
          }
        },
        matches() {
          if (!at || fed !== dataLen) return false;
          if (fill > 0) flush();
          return at.pieces.tree.verifyPiece(at.filePiece, blocks).result === 'passed';
        },
      };
    },
  };
}
