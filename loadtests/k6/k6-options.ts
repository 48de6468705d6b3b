// Turns a scenario of scenarios.ts into k6 options. Thresholds are tagged with the scenario, so that only the
// scenario's own iterations are measured against them, not the requests setup() makes (opening 24-hour windows).
import type { Options } from 'k6/options'
import { type Scenario, WARMUP_S, WINDOW_OPEN_WAIT_S } from './scenarios.ts'

/** `SCENARIO_DURATION_S` (set by the Node runner from its time budget) can shorten, never lengthen, a scenario. */
export function scenarioDurationS(scenario: Scenario, env: Record<string, string | undefined>): number {
  const override = Number(env.SCENARIO_DURATION_S)
  return Number.isInteger(override) && override > 0
    ? Math.min(override, scenario.durationS)
    : scenario.durationS
}

/**
 * The iterations k6 may drop and still reach the minimum request rate. Expressed on `dropped_iterations` rather
 * than `http_reqs` rate because k6 divides a rate by the whole test time, setup included, which would dilute it.
 */
export function allowedDroppedIterations(scenario: Scenario, durationS: number): number {
  return Math.floor((scenario.ratePerSecond - scenario.thresholds.minRequestsPerSecond) * durationS)
}

export function k6Thresholds(scenario: Scenario, durationS: number): Record<string, string[]> {
  const tag = `{scenario:${scenario.name}}`
  return {
    [`http_req_duration${tag}`]: [`p(95)<${scenario.thresholds.p95Ms}`],
    [`http_req_failed${tag}`]: [`rate<${scenario.thresholds.maxErrorRate}`],
    [`dropped_iterations${tag}`]: [`count<=${allowedDroppedIterations(scenario, durationS)}`],
  }
}

export function k6Options(scenario: Scenario, env: Record<string, string | undefined>): Options {
  const durationS = scenarioDurationS(scenario, env)
  const arrivals = {
    executor: 'constant-arrival-rate',
    rate: scenario.ratePerSecond,
    timeUnit: '1s',
    preAllocatedVUs: scenario.vus,
    maxVUs: scenario.maxVus,
    gracefulStop: `${scenario.requestTimeoutS}s`,
  } as const
  return {
    scenarios: {
      // The same traffic before the measured scenario; the thresholds are tagged with the measured one only.
      warmup: { ...arrivals, duration: `${WARMUP_S}s` },
      [scenario.name]: { ...arrivals, duration: `${durationS}s`, startTime: `${WARMUP_S}s` },
    },
    thresholds: k6Thresholds(scenario, durationS),
    setupTimeout: `${WINDOW_OPEN_WAIT_S + 30}s`,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    discardResponseBodies: true,
  }
}

/** An environment variable the script cannot run without; k6 reports the thrown message and exits non-zero. */
export function requiredEnv(env: Record<string, string | undefined>, name: string): string {
  const value = env[name]
  if (!value) throw new Error(`${name} is not set (pass it in the environment of k6 run)`)
  return value.replace(/\/+$/, '')
}
