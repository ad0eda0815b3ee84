/**
 * The block: the unit of a request and of a piece message (16 KiB, what clients ask for and the most they
 * serve). The picker splits pieces into blocks of this size, storage counts its operations in them, the
 * wire caps a piece message by it.
 */
export const BLOCK_SIZE = 16384;
