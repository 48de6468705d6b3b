// Turns scenarios of scenarios.ts into k6 options: one k6 run executes any number of them at the same time,
// each with its own warm-up. Thresholds are tagged with the scenario, so that only the scenario's own measured
// iterations count against them, not its warm-up nor the requests setup() makes (opening 24-hour windows).
import type { Options } from 'k6/options'
import {
  SCENARIO_NAMES,
  SCENARIOS,
  type Scenario,
  type ScenarioName,
  WARMUP_S,
  WINDOW_OPEN_WAIT_S,
} from './scenarios.ts'

type Env = Record<string, string | undefined>

/** `SCENARIO_DURATION_S` (set by the Node runner from its time budget) can shorten, never lengthen, a scenario. */
export function scenarioDurationS(scenario: Scenario, env: Env): number {
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

/** The k6 scenario that warms a measured one up: same traffic, a name no threshold is tagged with. */
export function warmupName(scenario: Scenario): string {
  return `${scenario.name}-warmup`
}

/** k6 options running the given scenarios side by side, each preceded by WARMUP_S of its own traffic. */
export function k6Options(scenarios: readonly Scenario[], env: Env): Options {
  const entries = scenarios.flatMap((scenario) => {
    const arrivals = {
      executor: 'constant-arrival-rate',
      exec: scenario.exec,
      rate: scenario.ratePerSecond,
      timeUnit: '1s',
      preAllocatedVUs: scenario.vus,
      maxVUs: scenario.maxVus,
      gracefulStop: `${scenario.requestTimeoutS}s`,
    } as const
    return [
      [warmupName(scenario), { ...arrivals, duration: `${WARMUP_S}s` }],
      [
        scenario.name,
        { ...arrivals, duration: `${scenarioDurationS(scenario, env)}s`, startTime: `${WARMUP_S}s` },
      ],
    ] as const
  })
  return {
    scenarios: Object.fromEntries(entries),
    thresholds: Object.assign(
      {},
      ...scenarios.map((scenario) => k6Thresholds(scenario, scenarioDurationS(scenario, env))),
    ),
    setupTimeout: `${WINDOW_OPEN_WAIT_S + 30}s`,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    discardResponseBodies: true,
  }
}

/**
 * The scenarios `load.ts` runs: `LOAD_SCENARIOS` (comma-separated names, set by the Node runner to those whose
 * inputs it has), every scenario when unset. An unknown name stops the run before any request.
 */
export function selectedScenarios(env: Env): Scenario[] {
  const names = (env.LOAD_SCENARIOS ?? SCENARIO_NAMES.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  if (names.length === 0) throw new Error('LOAD_SCENARIOS names no scenario')
  return names.map((name) => {
    if (!(SCENARIO_NAMES as string[]).includes(name))
      throw new Error(`LOAD_SCENARIOS: unknown scenario ${name} (known: ${SCENARIO_NAMES.join(', ')})`)
    return SCENARIOS[name as ScenarioName]
  })
}

/** What the request functions of requests.ts need; the secrets come from the environment only. */
export interface K6Inputs {
  baseUrl: string
  apiKey: string
  appSecret: string
  phoneNumberId: string | undefined
}

const INPUT_VARIABLES = {
  apiKey: 'API_KEY',
  appSecret: 'APP_SECRET',
  phoneNumberId: 'PHONE_NUMBER_ID',
} as const

/**
 * Reads the inputs the given scenarios need from k6's environment; a missing one throws (k6 reports the message
 * and exits non-zero before sending anything). Inputs no scenario needs are read when present and not required.
 */
export function k6Inputs(env: Env, scenarios: readonly Scenario[]): K6Inputs {
  const needed = new Set(scenarios.flatMap((scenario) => scenario.requires))
  const read = (key: keyof typeof INPUT_VARIABLES): string =>
    needed.has(key) ? requiredEnv(env, INPUT_VARIABLES[key]) : (env[INPUT_VARIABLES[key]] ?? '')
  return {
    baseUrl: requiredEnv(env, 'BASE_URL'),
    apiKey: read('apiKey'),
    appSecret: read('appSecret'),
    phoneNumberId: read('phoneNumberId') || undefined,
  }
}

/** An environment variable the script cannot run without; k6 reports the thrown message and exits non-zero. */
export function requiredEnv(env: Env, name: string): string {
  const value = env[name]
  if (!value) throw new Error(`${name} is not set (pass it in the environment of k6 run)`)
  return value.replace(/\/+$/, '')
}
