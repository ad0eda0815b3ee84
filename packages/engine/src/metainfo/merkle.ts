/**
 * BEP 52's per-file SHA-256 merkle trees: leaves are the hashes of a file's 16 KiB blocks (the last one may
 * be shorter), the leaf layer is padded with zero hashes to a power of two, and each parent is
 * SHA-256(left || right). Layers are counted by height: 0 is the blocks, `height` is the root. A piece of
 * `pieceLength` bytes is the subtree at height log2(pieceLength / 16 KiB), its root is the piece hash; a
 * file no longer than one piece has its root as its only piece hash.
 *
 * FileHashTree holds only verified hashes (checked against the root, directly or through hashes that
 * were), so whatever it serves or compares with is trustworthy. No I/O here.
 */
import { hash } from 'node:crypto';

import { BLOCK_SIZE } from '../block-size.js';

export { BLOCK_SIZE };
export const HASH_SIZE = 32;
/** Most hashes one hash request may ask for (libtorrent's limit: a 128 MiB piece's blocks). */
export const MAX_HASH_REQUEST_COUNT = 8192;

const ZERO_HASH = new Uint8Array(HASH_SIZE);

export function sha256(data: Uint8Array): Uint8Array {
  return hash('sha256', data, 'buffer');
}

const pairBuf = new Uint8Array(2 * HASH_SIZE);
/** SHA-256(left || right), written into `out` at `at` (or a new array). */
export function hashPair(left: Uint8Array, right: Uint8Array, out?: Uint8Array, at = 0): Uint8Array {
  pairBuf.set(left.subarray(0, HASH_SIZE), 0);
  pairBuf.set(right.subarray(0, HASH_SIZE), HASH_SIZE);
  const h = hash('sha256', pairBuf, 'buffer');
  if (!out) return h;
  out.set(h, at);
  return out;
}

const padCache: Uint8Array[] = [ZERO_HASH];
/** The root of an all-padding subtree of 2^height leaves (height 0: the zero hash). */
export function padHash(height: number): Uint8Array {
  while (padCache.length <= height) {
    const below = padCache[padCache.length - 1]!;
    padCache.push(hashPair(below, below));
  }
  return padCache[height]!;
}

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** log2 of a power of two. */
export function log2(pow2: number): number {
  return 31 - Math.clz32(pow2);
}

/** Number of 16 KiB blocks in `length` bytes. */
export function numBlocks(length: number): number {
  return Math.ceil(length / BLOCK_SIZE);
}

/** The hashes of `data`'s 16 KiB blocks, packed (32 bytes each). */
export function blockHashes(data: Uint8Array): Uint8Array {
  const n = numBlocks(data.length);
  const out = new Uint8Array(n * HASH_SIZE);
  for (let i = 0; i < n; i++) out.set(sha256(data.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)), i * HASH_SIZE);
  return out;
}

/** Hashes in a subtree's packed layers: `n` nodes at its bottom, then each layer above up to `top` layers higher. */
export function subtreeHashCount(n: number, top: number): number {
  let total = n;
  for (let h = 0; h < top; h++) {
    n = Math.ceil(n / 2);
    total += n;
  }
  return total;
}

/**
 * Fills in the layers of a subtree, packed bottom-up in `tree` (subtreeHashCount(n, top) hashes): its first
 * `n` hashes are given (nodes at height `base`), each layer above is computed from the one below, once, up
 * to the subtree's root `top` layers higher (the last 32 bytes); a missing right child is the padding
 * subtree of its height. Siblings sit side by side, so a parent is the hash of 64 bytes in place.
 */
export function fillSubtree(tree: Uint8Array, n: number, top: number, base = 0): Uint8Array {
  let from = 0;
  let count = n;
  for (let h = 0; h < top; h++) {
    const to = from + count * HASH_SIZE;
    const parents = Math.ceil(count / 2);
    for (let p = 0; p < parents; p++) {
      const left = from + 2 * p * HASH_SIZE;
      if (2 * p + 1 < count) tree.set(hash('sha256', tree.subarray(left, left + 2 * HASH_SIZE), 'buffer'), to + p * HASH_SIZE);
      else hashPair(tree.subarray(left, left + HASH_SIZE), padHash(base + h), tree, to + p * HASH_SIZE);
    }
    from = to;
    count = parents;
  }
  return tree;
}

/**
 * The root over packed `layer` hashes (nodes at height `layerHeight`) as the first of `width` nodes (a
 * power of two ≥ their count); the missing ones are padding subtrees of that height.
 */
export function merkleRoot(layer: Uint8Array, width: number, layerHeight = 0): Uint8Array {
  let count = layer.length / HASH_SIZE;
  if (count === 0) return padHash(layerHeight + log2(width));
  if (width === 1) return layer.slice(0, HASH_SIZE);
  let cur = layer;
  let h = layerHeight;
  for (let w = width; w > 1; w /= 2, h++) {
    const n = Math.ceil(count / 2);
    const next = new Uint8Array(n * HASH_SIZE);
    for (let i = 0; i < n; i++) {
      const left = cur.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE);
      const right = 2 * i + 1 < count ? cur.subarray((2 * i + 1) * HASH_SIZE, (2 * i + 2) * HASH_SIZE) : padHash(h);
      hashPair(left, right, next, i * HASH_SIZE);
    }
    cur = next;
    count = n;
  }
  return cur.slice(0, HASH_SIZE);
}

/** A file's root and piece layer from its block hashes (what a .torrent's `pieces root` and `piece layers` hold). */
export function fileHashes(blocks: Uint8Array, pieceLength: number): { root: Uint8Array; pieceLayer: Uint8Array } {
  const n = blocks.length / HASH_SIZE;
  const bpp = pieceLength / BLOCK_SIZE;
  if (n <= bpp) {
    const root = merkleRoot(blocks, nextPow2(Math.max(1, n)));
    return { root, pieceLayer: root };
  }
  const pieces = Math.ceil(n / bpp);
  const layer = new Uint8Array(pieces * HASH_SIZE);
  for (let p = 0; p < pieces; p++) {
    layer.set(merkleRoot(blocks.subarray(p * bpp * HASH_SIZE, Math.min(n, (p + 1) * bpp) * HASH_SIZE), bpp), p * HASH_SIZE);
  }
  return { root: merkleRoot(layer, nextPow2(pieces), log2(bpp)), pieceLayer: layer };
}

/** Nodes per page of a tree's storage (8 KiB of hashes). */
const PAGE = 256;
interface Page {
  readonly hashes: Uint8Array;
  readonly known: Uint8Array;
}

function equal32(a: Uint8Array, aAt: number, b: Uint8Array, bAt = 0): boolean {
  for (let i = 0; i < HASH_SIZE; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** Why a hash request is refused (hash reject), or null when it is well-formed for this tree. */
export function hashRequestProblem(tree: { height: number }, base: number, index: number, count: number, proofLayers: number): string | null {
  const ints = [base, index, count, proofLayers];
  if (ints.some((v) => !Number.isInteger(v) || v < 0)) return 'negative or non-integer field';
  if (count === 0 || count > MAX_HASH_REQUEST_COUNT) return `count ${count} outside 1..${MAX_HASH_REQUEST_COUNT}`;
  if (base >= tree.height) return `base layer ${base} is not below the root (height ${tree.height})`;
  const levelSize = 2 ** (tree.height - base);
  if (index >= levelSize || index + count > levelSize) return `hashes ${index}..${index + count} outside the ${levelSize} of layer ${base}`;
  if (proofLayers >= tree.height - base) return `${proofLayers} proof layers reach above the root`;
  return null;
}

/** Uncle hashes that follow `count` hashes for `proofLayers` (libtorrent: proof_layers - log2(count) + 1, at least 0). */
export function numUncles(count: number, proofLayers: number): number {
  return Math.max(0, proofLayers - log2(nextPow2(count)) + 1);
}

/**
 * The verified hashes of one file's merkle tree. Starts from the root alone (from the .torrent); the piece
 * layer, piece subtrees and hashes from peers are added only once they check out against what is known.
 */
export class FileHashTree {
  /** Height of the root (log2 of the padded leaf count); 0 for a one-block file. */
  readonly height: number;
  /** Height of a piece's subtree root (for a file of one piece or less: the root's height). */
  readonly pieceHeight: number;
  readonly numBlocks: number;
  readonly numPieces: number;
  readonly blocksPerPiece: number;
  readonly root: Uint8Array;
  /**
   * pages[h]: the verified nodes of height h in pages of PAGE nodes, allocated when first written, so a
   * tree costs memory for what it holds, not for the size its file claims. Below the root only: the root
   * is `root` (a page for it would cost 8 KiB per file, 800 MB for a 100,000-file v2 torrent).
   */
  private readonly pages: Map<number, Page>[];
  /** knownCount[h]: how many real nodes of height h are known. */
  private readonly knownCount: number[];

  constructor(root: Uint8Array, length: number, pieceLength: number) {
    this.root = root.slice(0, HASH_SIZE);
    this.numBlocks = Math.max(1, numBlocks(length));
    this.blocksPerPiece = pieceLength / BLOCK_SIZE;
    this.height = log2(nextPow2(this.numBlocks));
    this.pieceHeight = Math.min(log2(this.blocksPerPiece), this.height);
    this.numPieces = Math.ceil(this.numBlocks / this.blocksPerPiece);
    this.pages = [];
    for (let h = 0; h < this.height; h++) this.pages.push(new Map<number, Page>());
    this.knownCount = new Array<number>(this.height + 1).fill(0);
    this.knownCount[this.height] = 1;
  }

  /** Real nodes at height h. */
  private layerCount(h: number): number {
    return Math.ceil(this.numBlocks / 2 ** h);
  }

  private store(h: number, i: number, src: Uint8Array, at: number): void {
    this.storeRun(h, i, src, at, 1);
  }

  /** Stores `count` packed nodes of height h from index i: one copy per page they fall in. */
  private storeRun(h: number, i: number, src: Uint8Array, at: number, count: number): void {
    // The root is known from the start; whatever is stored was verified against it, so it is the root.
    if (h >= this.height) return;
    while (count > 0) {
      const key = Math.floor(i / PAGE);
      let page = this.pages[h]!.get(key);
      if (!page) {
        page = { hashes: new Uint8Array(PAGE * HASH_SIZE), known: new Uint8Array(PAGE) };
        this.pages[h]!.set(key, page);
      }
      const j = i % PAGE;
      const take = Math.min(count, PAGE - j);
      page.hashes.set(src.subarray(at, at + take * HASH_SIZE), j * HASH_SIZE);
      for (let k = j; k < j + take; k++) {
        if (page.known[k] === 1) continue;
        page.known[k] = 1;
        this.knownCount[h]!++;
      }
      i += take;
      at += take * HASH_SIZE;
      count -= take;
    }
  }

  /** Calls `each` with every page of hashes this tree holds below its root (for treesToWire). */
  eachPage(each: (h: number, key: number, hashes: Uint8Array, known: Uint8Array) => void): void {
    this.pages.forEach((pages, h) => pages.forEach((page, key) => each(h, key, page.hashes, page.known)));
  }

  /**
   * Takes a page as eachPage gave it, in the same tree on another thread (what it holds was verified
   * there). The arrays are kept, not copied.
   */
  adoptPage(h: number, key: number, hashes: Uint8Array, known: Uint8Array): void {
    if (h >= this.height || hashes.length !== PAGE * HASH_SIZE || known.length !== PAGE) throw new RangeError('not a page of this tree');
    if (this.pages[h]!.has(key)) throw new RangeError('a page of this tree adopted twice');
    this.pages[h]!.set(key, { hashes, known });
    for (let j = 0; j < PAGE; j++) if (known[j] === 1) this.knownCount[h]!++;
  }

  /** Node i at height h (padding beyond the real nodes), or undefined when not known. */
  node(h: number, i: number): Uint8Array | undefined {
    if (i >= this.layerCount(h)) return padHash(h);
    if (h === this.height) return this.root;
    const page = this.pages[h]?.get(Math.floor(i / PAGE));
    const j = i % PAGE;
    if (page?.known[j] !== 1) return undefined;
    return page.hashes.subarray(j * HASH_SIZE, (j + 1) * HASH_SIZE);
  }

  /** The hash a piece of this file must have, or undefined while its layer is unknown. */
  pieceHash(piece: number): Uint8Array | undefined {
    return this.node(this.pieceHeight, piece);
  }

  /** Whether every piece hash is known (a .torrent's piece layer, or all of it from peers). */
  hasPieceLayer(): boolean {
    return this.knownCount[this.pieceHeight] === this.layerCount(this.pieceHeight);
  }

  /** The piece layer, packed (a .torrent's `piece layers` value; the root for a one-piece file), or undefined. */
  pieceLayer(): Uint8Array | undefined {
    if (!this.hasPieceLayer()) return undefined;
    const out = new Uint8Array(this.numPieces * HASH_SIZE);
    for (let p = 0; p < this.numPieces; p++) out.set(this.pieceHash(p)!, p * HASH_SIZE);
    return out;
  }

  /** Sets the piece layer when it hashes up to the root; returns whether it did. */
  setPieceLayer(layer: Uint8Array): boolean {
    if (layer.length !== this.numPieces * HASH_SIZE) return false;
    // Every node above the layer is hashed once: to check the root, then kept as it is.
    const top = this.height - this.pieceHeight;
    const tree = new Uint8Array(subtreeHashCount(this.numPieces, top) * HASH_SIZE);
    tree.set(layer);
    fillSubtree(tree, this.numPieces, top, this.pieceHeight);
    if (!equal32(tree, tree.length - HASH_SIZE, this.root)) return false;
    this.storeLayers(this.pieceHeight, 0, tree, this.numPieces, top);
    return true;
  }

  /** Stores a subtree packed as fillSubtree lays it out: `n` nodes at height `base` from index `first`, and `top` layers above. */
  private storeLayers(base: number, first: number, tree: Uint8Array, n: number, top: number): void {
    let at = 0;
    let count = n;
    for (let h = 0; h <= top; h++) {
      const start = first >> h;
      this.storeRun(base + h, start, tree, at, Math.min(count, this.layerCount(base + h) - start));
      at += count * HASH_SIZE;
      count = Math.ceil(count / 2);
    }
  }

  /** Block range [first, end) of a piece of this file. */
  pieceBlocks(piece: number): [number, number] {
    return [piece * this.blocksPerPiece, Math.min(this.numBlocks, (piece + 1) * this.blocksPerPiece)];
  }

  /**
   * Checks a piece's block hashes (packed, as many as the piece has blocks; or with the layers above them
   * up to the piece hash, as fillSubtree lays them out, when a disk thread computed them) against the known piece hash.
   * 'passed': they are stored (to answer block hash requests). 'failed': with the blocks whose hashes differ
   * from known block hashes, or [] when the block hashes are not known (ask a peer for them). 'unknown': the
   * piece hash itself is not known yet.
   */
  verifyPiece(piece: number, blocks: Uint8Array): { result: 'passed' } | { result: 'failed'; badBlocks: number[] } | { result: 'unknown' } {
    const want = this.pieceHash(piece);
    if (!want) return { result: 'unknown' };
    const [first, end] = this.pieceBlocks(piece);
    const n = end - first;
    const size = subtreeHashCount(n, this.pieceHeight) * HASH_SIZE;
    let tree = blocks;
    if (blocks.length === n * HASH_SIZE && size !== blocks.length) {
      tree = new Uint8Array(size);
      tree.set(blocks);
      fillSubtree(tree, n, this.pieceHeight);
    } else if (blocks.length !== size) {
      throw new RangeError(`piece ${piece} has ${n} blocks`);
    }
    if (equal32(tree, size - HASH_SIZE, want)) {
      this.storeLayers(0, first, tree, n, this.pieceHeight);
      return { result: 'passed' };
    }
    // A piece of one block is its own block hash: that block is the bad one.
    if (end - first === 1) return { result: 'failed', badBlocks: [0] };
    const badBlocks: number[] = [];
    for (let b = first; b < end; b++) {
      const known = this.node(0, b);
      if (!known) return { result: 'failed', badBlocks: [] };
      if (!equal32(blocks, (b - first) * HASH_SIZE, known)) badBlocks.push(b - first);
    }
    return { result: 'failed', badBlocks };
  }

  /** Stores `nodes` at height h from `first` and their parents up to height `top` (all verified by the caller). */
  private storeSubtree(h: number, first: number, nodes: Uint8Array, top: number): void {
    let cur = nodes;
    let start = first;
    for (; h <= top; h++) {
      const count = cur.length / HASH_SIZE;
      for (let k = 0; k < count; k++) if (start + k < this.layerCount(h)) this.store(h, start + k, cur, k * HASH_SIZE);
      if (h === top || count <= 1) break;
      const n = Math.ceil(count / 2);
      const next = new Uint8Array(n * HASH_SIZE);
      for (let p = 0; p < n; p++) {
        const r = 2 * p + 1 < count ? cur.subarray((2 * p + 1) * HASH_SIZE, (2 * p + 2) * HASH_SIZE) : padHash(h);
        hashPair(cur.subarray(2 * p * HASH_SIZE, (2 * p + 1) * HASH_SIZE), r, next, p * HASH_SIZE);
      }
      cur = next;
      start >>= 1;
    }
  }

  /**
   * The answer to a hash request (BEP 52 `hashes`): `count` hashes of layer `base` from `index`, then the
   * uncle hashes that prove them, lowest first. Null when the request is malformed or asks for hashes we
   * do not have (answer with hash reject).
   */
  getHashes(base: number, index: number, count: number, proofLayers: number): Uint8Array | null {
    if (hashRequestProblem(this, base, index, count, proofLayers) !== null) return null;
    const uncles = numUncles(count, proofLayers);
    const out = new Uint8Array((count + uncles) * HASH_SIZE);
    for (let k = 0; k < count; k++) {
      const n = this.node(base, index + k);
      if (!n) return null;
      out.set(n, k * HASH_SIZE);
    }
    // Uncles from the subtree the hashes span up: the sibling of each ancestor, lowest first.
    const top = log2(nextPow2(count));
    for (let u = 0; u < uncles; u++) {
      const n = this.node(base + top + u, (index >> (top + u)) ^ 1);
      if (!n) return null;
      out.set(n, (count + u) * HASH_SIZE);
    }
    return out;
  }

  /**
   * Takes a `hashes` answer (the same fields as the request, then `hashes`: count hashes and their uncles)
   * when it proves out against a known node; stores everything it proved. Returns false for hashes that do
   * not check out (the sender is to be charged) or that cannot be placed in this tree.
   */
  addHashes(base: number, index: number, count: number, proofLayers: number, hashes: Uint8Array): boolean {
    if (hashRequestProblem(this, base, index, count, proofLayers) !== null) return false;
    const width = nextPow2(count);
    if (index % width !== 0) return false; // the hashes must be one subtree's layer
    const uncles = numUncles(count, proofLayers);
    if (hashes.length !== (count + uncles) * HASH_SIZE) return false;
    const layer = hashes.subarray(0, count * HASH_SIZE);
    // Nodes the sender gave beyond the file's end must be padding.
    const real = Math.max(0, Math.min(count, this.layerCount(base) - index));
    for (let k = real; k < count; k++) if (!equal32(layer, k * HASH_SIZE, padHash(base))) return false;
    let h = base + log2(width);
    let i = index / width;
    let cur = merkleRoot(layer.subarray(0, real * HASH_SIZE), width, base);
    // Climb with the uncles; every known node on the way must agree, and at least one must be known.
    const path: { h: number; i: number; hash: Uint8Array; uncle: Uint8Array }[] = [];
    let anchored = false;
    for (let u = 0; ; u++) {
      const known = this.node(h, i);
      if (known) {
        if (!equal32(cur, 0, known)) return false;
        anchored = true;
      }
      if (u === uncles) break;
      if (h >= this.height) return false;
      const uncle = hashes.subarray((count + u) * HASH_SIZE, (count + u + 1) * HASH_SIZE);
      path.push({ h, i, hash: cur, uncle });
      cur = i % 2 === 0 ? hashPair(cur, uncle) : hashPair(uncle, cur);
      h++;
      i >>= 1;
    }
    if (!anchored) return false;
    // All proved: keep the layer, its subtree, and the proof path.
    this.storeSubtree(base, index, layer.subarray(0, real * HASH_SIZE), base + log2(width));
    for (const p of path) {
      if (p.i < this.layerCount(p.h)) this.store(p.h, p.i, p.hash, 0);
      if ((p.i ^ 1) < this.layerCount(p.h)) this.store(p.h, p.i ^ 1, p.uncle, 0);
    }
    return true;
  }
}

/**
 * Trees' hashes as they cross threads: every page of every tree in three buffers (a page is 8 KiB of
 * hashes and 256 flags), so rebuilding them costs a few views per page instead of a message of objects.
 */
export interface TreesWire {
  /** Per page: its tree (index in the list given), height and page number. */
  index: Uint32Array;
  hashes: Uint8Array;
  known: Uint8Array;
}

export function treesToWire(trees: readonly FileHashTree[]): TreesWire {
  let pages = 0;
  for (const t of trees) t.eachPage(() => pages++);
  const w: TreesWire = { index: new Uint32Array(pages * 3), hashes: new Uint8Array(pages * PAGE * HASH_SIZE), known: new Uint8Array(pages * PAGE) };
  let n = 0;
  trees.forEach((t, i) => t.eachPage((h, key, hashes, known) => {
    w.index.set([i, h, key], n * 3);
    w.hashes.set(hashes, n * PAGE * HASH_SIZE);
    w.known.set(known, n * PAGE);
    n++;
  }));
  return w;
}

/** Puts the pages of treesToWire(trees) into `trees`, the same trees rebuilt (from their roots) on this thread. */
export function treesFromWire(trees: readonly FileHashTree[], w: TreesWire): void {
  for (let n = 0; n < w.index.length / 3; n++) {
    const tree = trees[w.index[n * 3]!];
    if (!tree) throw new RangeError('a page of a tree that is not there');
    tree.adoptPage(w.index[n * 3 + 1]!, w.index[n * 3 + 2]!, w.hashes.subarray(n * PAGE * HASH_SIZE, (n + 1) * PAGE * HASH_SIZE), w.known.subarray(n * PAGE, (n + 1) * PAGE));
  }
}
