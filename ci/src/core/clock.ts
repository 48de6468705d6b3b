/**
 * Time as the pipeline reads it: timestamps, durations, the backup's age and each stage's deadline. Injected
 * so tests move time forward instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** A signal aborted once `ms` have passed on this clock. */
  timeout(ms: number): AbortSignal
}

export const systemClock: Clock = {
  now: () => Date.now(),
  timeout: (ms) => AbortSignal.timeout(ms),
}
