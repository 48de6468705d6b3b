// What every AWS operation needs besides its arguments: the clients, the clock and the wait bounds.

import type { StageLog } from '../core/types.js'
import type { AwsClients } from './clients.js'
import { AwsTargetError } from './errors.js'
import { type Clock, systemClock, type WaitOptions } from './waiting.js'

export interface AwsTimeouts {
  /** Delay between two polls of a long-running operation. */
  pollIntervalMs: number
  /** One ECS deployment reaching COMPLETED. */
  rolloutTimeoutMs: number
  /** All ALB targets healthy after a deployment completed. */
  targetsHealthyTimeoutMs: number
  /** One-off ops task from RunTask to STOPPED. */
  taskTimeoutMs: number
  /** RDS snapshot or restored instance becoming available. */
  databaseTimeoutMs: number
}

/**
 * Sized to fit inside the core's stage timeouts (rollout 30 min, backup and migrate 30 min each): two
 * deployments plus a rollback plus the target wait stay under 30 min; two ops tasks per stage under 30 min.
 */
export const DEFAULT_TIMEOUTS: AwsTimeouts = {
  pollIntervalMs: 10_000,
  rolloutTimeoutMs: 8 * 60_000,
  targetsHealthyTimeoutMs: 3 * 60_000,
  taskTimeoutMs: 12 * 60_000,
  databaseTimeoutMs: 60 * 60_000,
}

const TIMEOUT_VARIABLES: Record<keyof AwsTimeouts, string> = {
  pollIntervalMs: 'AWS_POLL_INTERVAL_MS',
  rolloutTimeoutMs: 'AWS_ROLLOUT_TIMEOUT_MS',
  targetsHealthyTimeoutMs: 'AWS_TARGETS_TIMEOUT_MS',
  taskTimeoutMs: 'AWS_TASK_TIMEOUT_MS',
  databaseTimeoutMs: 'AWS_DATABASE_TIMEOUT_MS',
}

/** Wait bounds set in the environment (positive integers, milliseconds); a malformed value is an error. */
export function timeoutsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<AwsTimeouts> {
  const timeouts: Partial<AwsTimeouts> = {}
  for (const [key, variable] of Object.entries(TIMEOUT_VARIABLES) as [keyof AwsTimeouts, string][]) {
    const raw = env[variable]
    if (raw === undefined || raw === '') continue
    const value = Number(raw)
    if (!Number.isInteger(value) || value <= 0) {
      throw new AwsTargetError(`${variable} must be a positive number of milliseconds (got "${raw}")`)
    }
    timeouts[key] = value
  }
  return timeouts
}

export interface AwsRuntime {
  clients: AwsClients
  clock: Clock
  timeouts: AwsTimeouts
}

export function createRuntime(
  clients: AwsClients,
  overrides: Partial<AwsTimeouts> = {},
  clock = systemClock,
): AwsRuntime {
  return { clients, clock, timeouts: { ...DEFAULT_TIMEOUTS, ...overrides } }
}

/** Wait options bound to the runtime's clock and poll interval. */
export function waitOptions(
  runtime: AwsRuntime,
  what: string,
  timeoutMs: number,
  signal: AbortSignal,
  log?: StageLog,
): WaitOptions {
  return {
    what,
    timeoutMs,
    signal,
    clock: runtime.clock,
    pollIntervalMs: runtime.timeouts.pollIntervalMs,
    onThrottled: (message) => log?.warn(message),
  }
}
