export interface UdpRelayOptions {
  target: { host?: string; port: number };
  /** One-way delay and its jitter, ms. */
  delayMs?: number;
  jitterMs?: number;
  /** Probabilities, 0..1, per datagram and direction. */
  loss?: number;
  duplicate?: number;
  reorder?: number;
  seed?: number;
}
export interface UdpRelay {
  readonly port: number;
  readonly stats: { forwarded: number; dropped: number; duplicated: number; reordered: number };
  close(): void;
}
export function startUdpRelay(opts: UdpRelayOptions): Promise<UdpRelay>;
