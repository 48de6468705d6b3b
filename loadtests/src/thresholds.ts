import type { Scenario } from '../k6/scenarios.js'
import type { LoadOutcome } from './load-outcome.js'

/** What one scenario run measured, whichever runner measured it. */
export interface ObservedMetrics {
  /** Requests sent (answered or not). */
  requests: number
  /** Requests not answered with the expected status (including timeouts and connection errors). */
  errors: number
  /** NaN when nothing was answered. */
  p95Ms: number
  /** errors / requests; 1 when nothing was sent. */
  errorRate: number
  requestsPerSecond: number
  /** Errors by status code or failure kind (`timeout`, `ECONNRESET`, ...), when the runner knows them. */
  errorKinds?: Record<string, number>
}

export type ThresholdVerdicts = LoadOutcome['thresholds']

/**
 * Nearest-rank percentile (the smallest sample with at least p% of samples at or below it).
 * Hand-written because autocannon's histogram reports fixed percentiles without p95.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

export function observedMetrics(input: {
  latenciesMs: readonly number[]
  requests: number
  errors: number
  elapsedS: number
}): ObservedMetrics {
  return {
    requests: input.requests,
    errors: input.errors,
    p95Ms: percentile(input.latenciesMs, 95),
    errorRate: input.requests === 0 ? 1 : input.errors / input.requests,
    requestsPerSecond: input.elapsedS > 0 ? input.requests / input.elapsedS : 0,
  }
}

/** Names as k6 writes them, prefixed by the scenario, e.g. `read-api http_req_duration p(95)`. */
export function thresholdNames(scenario: Scenario) {
  return {
    p95: `${scenario.name} http_req_duration p(95) ms`,
    errorRate: `${scenario.name} http_req_failed rate`,
    requestRate: `${scenario.name} http_reqs rate/s`,
  }
}

/** Every threshold of the scenario against what was observed. A NaN value (nothing measured) never passes. */
export function evaluateThresholds(scenario: Scenario, observed: ObservedMetrics): ThresholdVerdicts {
  const names = thresholdNames(scenario)
  const { p95Ms, maxErrorRate, minRequestsPerSecond } = scenario.thresholds
  return {
    [names.p95]: { value: round(observed.p95Ms), limit: `< ${p95Ms}`, ok: observed.p95Ms < p95Ms },
    [names.errorRate]: {
      value: round(observed.errorRate, 4),
      limit: `< ${maxErrorRate}`,
      ok: observed.errorRate < maxErrorRate,
    },
    [names.requestRate]: {
      value: round(observed.requestsPerSecond),
      limit: `>= ${minRequestsPerSecond}`,
      ok: observed.requestsPerSecond >= minRequestsPerSecond,
    },
  }
}

export function allThresholdsMet(verdicts: ThresholdVerdicts): boolean {
  return Object.values(verdicts).every((verdict) => verdict.ok)
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
