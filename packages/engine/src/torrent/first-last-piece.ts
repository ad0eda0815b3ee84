/** What boostFirstAndLastPieces reads of the file layout. */
export interface FilePieces {
  readonly files: readonly { readonly pad: boolean; readonly length: number }[];
  filePieceRange(file: number): readonly [number, number] | null;
}

/** The top piece priority (libtorrent's top_priority). */
const TOP = 7;

/**
 * qBittorrent's "first and last piece first": every wanted file's first and last piece get the top priority,
 * so a player can read a file's header and index before the rest arrives. Changes `piecePriorities` in place.
 */
export function boostFirstAndLastPieces(piecePriorities: Uint8Array, layout: FilePieces, filePriorities: readonly number[]): void {
  for (let i = 0; i < layout.files.length; i++) {
    const f = layout.files[i]!;
    if (f.pad || f.length === 0 || !(filePriorities[i]! > 0)) continue;
    const range = layout.filePieceRange(i);
    if (!range) continue;
    piecePriorities[range[0]] = TOP;
    piecePriorities[range[1]] = TOP;
  }
}
