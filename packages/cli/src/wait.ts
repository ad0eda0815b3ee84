/** Small promise helpers for racing the engine's events against signals and deadlines. */

/** A promise settled from outside, for bridging event callbacks into an await. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A deferred may lose every race it takes part in; its late rejection must not crash the process as
  // an unhandled rejection. Awaiting it still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A timer that rejects with `makeError()` after `ms`; cancel() when it is no longer needed. */
export function deadline(ms: number | undefined, makeError: () => Error): { promise: Promise<never>; cancel(): void } {
  const d = deferred<never>();
  if (ms === undefined) return { promise: d.promise, cancel() {} };
  const timer = setTimeout(() => d.reject(makeError()), ms);
  return { promise: d.promise, cancel: () => clearTimeout(timer) };
}
