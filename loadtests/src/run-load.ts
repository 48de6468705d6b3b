import { isLoopbackUrl, type TargetEnv } from '@whatsapp-saas/service-client/target-env'
import { SCENARIO_NAMES, SCENARIOS, type Scenario, type ScenarioName, WARMUP_S } from '../k6/scenarios.js'
import { runScenarioWithAutocannon } from './autocannon-runner.js'
import { findK6, runScenariosWithK6 } from './k6-runner.js'
import {
  type LoadReport,
  type ScenarioOutcome,
  THRESHOLDS_BREACHED_EXIT_CODE,
  TIME_BUDGET_EXCEEDED_EXIT_CODE,
} from './load-outcome.js'
import { waitForQueuesToDrain } from './queue-drain.js'
import { openServiceWindows } from './service-windows.js'
import { allThresholdsMet, evaluateThresholds, type ThresholdVerdicts } from './thresholds.js'

/** Longest wait for the jobs earlier traffic left to finish before the load starts. */
const QUEUE_DRAIN_MAX_MS = 10_000

export const K6_INSTALL_HINT = 'install k6: https://grafana.com/docs/k6/latest/set-up/install-k6/'
/** A scenario set up but not run (e.g. the 24-hour windows never opened); k6 uses 108 for a script abort. */
const SETUP_FAILED_EXIT_CODE = 108

export interface LoadOptions {
  baseUrl: string
  /** The rest of the target environment (API key, app secret, ...); `baseUrl` above wins over `env.baseUrl`. */
  env?: Partial<TargetEnv>
  /** One or several scenarios of k6/scenarios.ts; all of them by default. */
  scenario?: ScenarioName | ScenarioName[]
  /** Hard limit for the whole run: scenarios are shortened to fit, and stopped (failing) when it runs out. */
  maxDurationS: number
  /** Anything but loopback is refused unless set (the pipeline sets it for staging and production). */
  allowRemote?: boolean
  /** `auto` (default): k6 when on PATH, else autocannon. */
  runner?: 'auto' | 'k6' | 'autocannon'
  /** Where to look for k6; default process.env.PATH. */
  path?: string
  /** Scenario definitions; default those of k6/scenarios.ts (tests pass smaller ones of the same shape). */
  scenarios?: Partial<Record<ScenarioName, Scenario>>
  log?: (line: string) => void
  signal?: AbortSignal
}

/**
 * Runs the load scenarios side by side, with k6 when it is installed (one run of k6/load.ts; its exit code
 * decides, 99 = a threshold breached) and otherwise with autocannon against the same scenarios and thresholds.
 * Every scenario gets its own verdict; any failing one fails the run.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? (() => {})
  const env: TargetEnv = { ...options.env, baseUrl: options.baseUrl.replace(/\/+$/, '') }
  if (!isLoopbackUrl(env.baseUrl) && !options.allowRemote) {
    throw new Error(
      `refusing to load ${env.baseUrl}: not a loopback address (pass allowRemote / --allow-remote)`,
    )
  }
  if (!(options.maxDurationS > 0)) throw new Error('maxDurationS must be a positive number of seconds')
  const definitions = { ...SCENARIOS, ...options.scenarios }
  const selected = ([] as ScenarioName[]).concat(options.scenario ?? SCENARIO_NAMES).map((name) => {
    const scenario = definitions[name]
    if (!scenario) throw new Error(`unknown scenario ${name} (known: ${SCENARIO_NAMES.join(', ')})`)
    return scenario
  })

  const notes: string[] = []
  const k6 = options.runner === 'autocannon' ? undefined : await findK6(options.path)
  if (options.runner === 'k6' && !k6) throw new Error(`k6 is not on PATH: ${K6_INSTALL_HINT}`)
  if (!k6 && options.runner !== 'autocannon') {
    notes.push(
      `k6 not found on PATH, so autocannon ran the same scenarios and thresholds (to use k6, ${K6_INSTALL_HINT})`,
    )
  }
  const runner = k6 ? 'k6' : 'autocannon'
  for (const note of notes) log(note)

  const budget = AbortSignal.timeout(options.maxDurationS * 1000)
  const signal = options.signal ? AbortSignal.any([budget, options.signal]) : budget
  const deadline = Date.now() + options.maxDurationS * 1000
  const outcomes = new Map<ScenarioName, ScenarioOutcome>()
  const runnable: Scenario[] = []
  for (const scenario of selected) {
    const missing = scenario.requires.filter((key) => !env[key])
    if (missing.length === 0) runnable.push(scenario)
    else {
      const detail = `not run: needs ${missing.join(', ')}`
      outcomes.set(scenario.name, { name: scenario.name, status: 'skipped', detail, exitCode: 0 })
      log(`${scenario.name}: ${detail}`)
    }
  }
  const thresholds: ThresholdVerdicts = {}

  if (runnable.length > 0) {
    // Whatever earlier traffic (the smoke suite) left for the workers is done first, so that the scenarios
    // measure the service under their own load, not under a backlog.
    const drain = await waitForQueuesToDrain(
      env.baseUrl,
      QUEUE_DRAIN_MAX_MS,
      signal,
      undefined,
      env.adminToken,
    )
    log(`queues before the load: ${drain}`)
    // Decided when the load starts (after any setup): what is left of the budget, less the warm-up and what the
    // runner may spend draining at the end (k6's gracefulStop); each scenario's own duration is the ceiling.
    const durationFor = (): number => {
      const leftS = (deadline - Date.now()) / 1000
      const timeoutS = Math.max(...runnable.map((scenario) => scenario.requestTimeoutS))
      const drainS = k6 ? Math.min(timeoutS, leftS * 0.3) : Math.min(1, leftS * 0.1)
      const capS = Math.max(1, Math.floor(leftS - WARMUP_S - drainS))
      for (const scenario of runnable)
        log(
          `${scenario.name}: ${runner}, ${scenario.ratePerSecond} req/s for ${Math.min(capS, scenario.durationS)} s after ${WARMUP_S} s of warm-up (${scenario.description})`,
        )
      return capS
    }
    const ran = k6
      ? await runWithK6(k6, runnable, env, durationFor(), signal, log, thresholds)
      : await runWithAutocannon(runnable, env, durationFor, signal, thresholds)
    for (const outcome of ran) {
      if (budget.aborted && outcome.status === 'passed') {
        Object.assign(outcome, { status: 'failed', exitCode: TIME_BUDGET_EXCEEDED_EXIT_CODE })
      }
      if (budget.aborted && outcome.status !== 'skipped')
        outcome.detail += ` (stopped: the ${options.maxDurationS} s budget ran out)`
      log(`${outcome.name}: ${outcome.status} — ${outcome.detail}`)
      outcomes.set(outcome.name as ScenarioName, outcome)
    }
  }

  const scenarios = selected.map((scenario) => outcomes.get(scenario.name)!)
  const failure = scenarios.find((scenario) => scenario.status === 'failed')
  const ran = scenarios.filter((scenario) => scenario.status !== 'skipped')
  if (ran.length === 0 && !failure) notes.push('no scenario could run: give the inputs the scenarios need')
  const passed = ran.length > 0 && !failure
  return {
    runner,
    passed,
    thresholds,
    exitCode: failure?.exitCode ?? (passed ? 0 : 1),
    scenarios,
    notes,
  }
}

async function runWithK6(
  k6: string,
  scenarios: Scenario[],
  env: TargetEnv,
  durationS: number,
  signal: AbortSignal,
  log: (line: string) => void,
  thresholds: ThresholdVerdicts,
): Promise<ScenarioOutcome[]> {
  const run = await runScenariosWithK6({
    k6,
    scenarios,
    env,
    durationS,
    log: (line) => log(`  k6 | ${line}`),
    signal,
  })
  const verdicts = new Map(
    scenarios.map((scenario) => {
      const observed = run.observed[scenario.name]
      return [scenario.name, observed ? evaluateThresholds(scenario, observed) : undefined] as const
    }),
  )
  for (const verdict of verdicts.values()) if (verdict) Object.assign(thresholds, verdict)
  // k6 says that some threshold was breached, not whose: the scenarios whose own thresholds its summary shows
  // breached failed; when the summary names none (or is missing), every scenario of the run failed.
  const breached = (name: ScenarioName) => {
    const verdict = verdicts.get(name)
    return verdict !== undefined && !allThresholdsMet(verdict)
  }
  const anyNamed = scenarios.some((scenario) => breached(scenario.name))
  return scenarios.map((scenario) => {
    if (run.exitCode === 0)
      return { name: scenario.name, status: 'passed', detail: 'k6 passed every threshold', exitCode: 0 }
    if (run.exitCode === THRESHOLDS_BREACHED_EXIT_CODE) {
      if (anyNamed && !breached(scenario.name))
        return {
          name: scenario.name,
          status: 'passed',
          detail: 'its own thresholds were met (k6 exit code 99: another scenario breached one)',
          exitCode: 0,
        }
      return {
        name: scenario.name,
        status: 'failed',
        detail: `k6 exit code 99: a threshold was breached${describeBreaches(verdicts.get(scenario.name))}`,
        exitCode: run.exitCode,
      }
    }
    return {
      name: scenario.name,
      status: 'failed',
      detail: `k6 exit code ${run.exitCode}: the run itself failed`,
      exitCode: run.exitCode,
    }
  })
}

async function runWithAutocannon(
  scenarios: Scenario[],
  env: TargetEnv,
  durationFor: () => number,
  signal: AbortSignal,
  thresholds: ThresholdVerdicts,
): Promise<ScenarioOutcome[]> {
  // As k6 runs setup() before any scenario starts: message-send's users message in first.
  if (scenarios.some((scenario) => scenario.name === 'message-send')) {
    try {
      await openServiceWindows(env, signal)
    } catch (error) {
      const detail = `setup failed: ${(error as Error).message}`
      return scenarios.map((scenario) =>
        scenario.name === 'message-send'
          ? { name: scenario.name, status: 'failed', detail, exitCode: SETUP_FAILED_EXIT_CODE }
          : {
              name: scenario.name,
              status: 'skipped',
              detail: 'not run: message-send setup failed',
              exitCode: 0,
            },
      )
    }
  }
  const capS = durationFor()
  return Promise.all(
    scenarios.map(async (scenario): Promise<ScenarioOutcome> => {
      await runScenarioWithAutocannon(scenario, env, WARMUP_S, signal) // not measured: see WARMUP_S
      const observed = await runScenarioWithAutocannon(
        scenario,
        env,
        Math.min(capS, scenario.durationS),
        signal,
      )
      const verdicts = evaluateThresholds(scenario, observed)
      Object.assign(thresholds, verdicts)
      const ok = allThresholdsMet(verdicts)
      return {
        name: scenario.name,
        status: ok ? 'passed' : 'failed',
        detail: ok
          ? `${observed.requests} requests, p95 ${Math.round(observed.p95Ms)} ms, every threshold met`
          : `threshold breached${describeBreaches(verdicts)}${describeErrors(observed.errorKinds)}`,
        exitCode: ok ? 0 : THRESHOLDS_BREACHED_EXIT_CODE,
      }
    }),
  )
}

/** `: <name> = <value> (limit <limit>); …` for the breached thresholds; empty when none is known. */
function describeBreaches(verdicts: ThresholdVerdicts | undefined): string {
  const breached = Object.entries(verdicts ?? {})
    .filter(([, verdict]) => !verdict.ok)
    .map(([name, verdict]) => `${name} = ${verdict.value} (limit ${verdict.limit})`)
  return breached.length > 0 ? `: ${breached.join('; ')}` : ''
}

/** ` (errors: 500 ×12, timeout ×2)`, most frequent first; empty without errors. */
export function describeErrors(kinds: Record<string, number> = {}): string {
  const entries = Object.entries(kinds).sort((a, b) => b[1] - a[1])
  return entries.length === 0
    ? ''
    : ` (errors: ${entries.map(([kind, count]) => `${kind} ×${count}`).join(', ')})`
}
