// Turns a scenario of scenarios.ts into k6 options. Thresholds are tagged with the scenario, so the requests a
// script makes in setup() (opening 24-hour windows) are not measured against them.
import type { Options } from 'k6/options'
import { type Scenario, WINDOW_OPEN_WAIT_S } from './scenarios.ts'

/** `SCENARIO_DURATION_S` (set by the Node runner from its time budget) can shorten, never lengthen, a scenario. */
export function scenarioDurationS(scenario: Scenario, env: Record<string, string | undefined>): number {
  const override = Number(env.SCENARIO_DURATION_S)
  return Number.isInteger(override) && override > 0
    ? Math.min(override, scenario.durationS)
    : scenario.durationS
}

export function k6Thresholds(scenario: Scenario): Record<string, string[]> {
  const tag = `{scenario:${scenario.name}}`
  return {
    [`http_req_duration${tag}`]: [`p(95)<${scenario.thresholds.p95Ms}`],
    [`http_req_failed${tag}`]: [`rate<${scenario.thresholds.maxErrorRate}`],
    [`http_reqs${tag}`]: [`rate>=${scenario.thresholds.minRequestsPerSecond}`],
  }
}

export function k6Options(scenario: Scenario, env: Record<string, string | undefined>): Options {
  return {
    scenarios: {
      [scenario.name]: {
        executor: 'constant-arrival-rate',
        rate: scenario.ratePerSecond,
        timeUnit: '1s',
        duration: `${scenarioDurationS(scenario, env)}s`,
        preAllocatedVUs: scenario.vus,
        maxVUs: scenario.maxVus,
        gracefulStop: `${scenario.requestTimeoutS}s`,
      },
    },
    thresholds: k6Thresholds(scenario),
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
