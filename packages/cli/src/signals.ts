/** Waiting for SIGINT/SIGTERM so long-running commands can close their session before exiting. */

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof SIGNALS)[number];

const SIGNAL_NUMBERS: Readonly<Record<StopSignal, number>> = { SIGINT: 2, SIGTERM: 15 };

/** The shell's exit status for a process ended by `sig`: 128 + its number (130, 143). */
export function exitCodeFor(sig: StopSignal): number {
  return 128 + SIGNAL_NUMBERS[sig];
}

export interface SignalTrap {
  /** Resolves with the first SIGINT or SIGTERM received after the trap was set. */
  readonly received: Promise<StopSignal>;
  /** The signal received so far, if any (for checks between awaits). */
  readonly signal: StopSignal | null;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * Traps SIGINT and SIGTERM. The first one resolves `received` so the command can shut down in order;
 * a second one means the user does not want to wait for that, so the process exits at once (128+n).
 * Set the trap before the slow work (checking data, connecting) so a Ctrl-C then still closes cleanly.
 */
export function trapSignals(): SignalTrap {
  let resolve!: (s: StopSignal) => void;
  const received = new Promise<StopSignal>((r) => { resolve = r; });
  let got: StopSignal | null = null;
  const handler = (sig: StopSignal): void => {
    if (got) process.exit(exitCodeFor(sig));
    got = sig;
    resolve(sig);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    received,
    get signal() { return got; },
    dispose() {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}
