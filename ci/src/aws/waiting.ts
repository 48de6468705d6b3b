// Bounded polling. Every wait of the AWS target goes through here so that each one has a timeout, honours
// the run's AbortSignal, survives a throttled poll, and can be driven by a fake clock in tests.
import { setTimeout as sleepFor } from 'node:timers/promises'
import { AwsTargetError, describeAwsError, isThrottlingError, WaitTimeoutError } from './errors.js'

export interface Clock {
  now(): number
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleepFor(ms, undefined, { signal }),
}

export interface WaitSettings {
  /** Delay between polls. */
  pollIntervalMs: number
  /** Give up after this long. */
  timeoutMs: number
  clock: Clock
}

export interface WaitOptions extends WaitSettings {
  /** What is being waited for, used in the timeout message. */
  what: string
  signal: AbortSignal
  /** Called when a poll was throttled and will be retried at the next interval. */
  onThrottled?: (message: string) => void
}

export class WaitAbortedError extends AwsTargetError {
  override readonly name = 'WaitAbortedError'
}

function throwIfAborted(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new WaitAbortedError(`interrupted while waiting for ${what}`)
}

/**
 * Polls `probe` until it returns a value other than undefined. A throttled probe counts as "not yet"
 * (the SDK already retried it); any other error ends the wait.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = options.clock.now() + options.timeoutMs
  for (;;) {
    throwIfAborted(options.signal, options.what)
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      if (!isThrottlingError(error)) throw error
      options.onThrottled?.(
        `throttled while waiting for ${options.what}: ${describeAwsError(error)}; retrying`,
      )
    }
    if (options.clock.now() >= deadline) {
      throw new WaitTimeoutError(
        `timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${options.what}`,
      )
    }
    try {
      await options.clock.sleep(options.pollIntervalMs, options.signal)
    } catch (error) {
      throwIfAborted(options.signal, options.what)
      throw error
    }
  }
}
