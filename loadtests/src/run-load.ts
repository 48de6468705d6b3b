import { isLoopbackUrl, type TargetEnv } from '@whatsapp-saas/service-client/target-env'
import { SCENARIO_NAMES, SCENARIOS, type Scenario, type ScenarioName, WARMUP_S } from '../k6/scenarios.js'
import { runScenarioWithAutocannon } from './autocannon-runner.js'
import { findK6, runScenarioWithK6 } from './k6-runner.js'
import {
  type LoadReport,
  type ScenarioOutcome,
  THRESHOLDS_BREACHED_EXIT_CODE,
  TIME_BUDGET_EXCEEDED_EXIT_CODE,
} from './load-outcome.js'
import { waitForQueuesToDrain } from './queue-drain.js'
import { openServiceWindows } from './service-windows.js'
import { allThresholdsMet, evaluateThresholds, type ThresholdVerdicts } from './thresholds.js'

/** Longest wait for the previous scenario's jobs to finish before the next scenario starts. */
const QUEUE_DRAIN_MAX_MS = 15_000

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
 * Runs the load scenarios with k6 when it is installed (its exit code decides; 99 = thresholds breached) and
 * otherwise with autocannon against the same scenarios and thresholds. Stops at the first failing scenario.
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
  const runnable = (scenario: Scenario) => scenario.requires.every((key) => env[key])
  const thresholds: ThresholdVerdicts = {}
  const scenarios: ScenarioOutcome[] = []
  let failure: ScenarioOutcome | undefined

  for (const [index, scenario] of selected.entries()) {
    const missing = scenario.requires.filter((key) => !env[key])
    if (failure || missing.length > 0) {
      const detail = failure ? `not run: ${failure.name} failed` : `not run: needs ${missing.join(', ')}`
      scenarios.push({ name: scenario.name, status: 'skipped', detail, exitCode: 0 })
      log(`${scenario.name}: ${detail}`)
      continue
    }
    if (scenarios.some((done) => done.status !== 'skipped')) {
      const drain = await waitForQueuesToDrain(
        env.baseUrl,
        QUEUE_DRAIN_MAX_MS,
        signal,
        undefined,
        env.adminToken,
      )
      log(`${scenario.name}: queues of the previous scenario ${drain}`)
    }
    // Decided when the load phase starts (after any setup): an equal share of what is left of the budget for this
    // and every later runnable scenario, less what k6 may spend draining (its gracefulStop) at the end.
    const durationFor = (): number => {
      const shareS = (deadline - Date.now()) / 1000 / selected.slice(index).filter(runnable).length
      const drainS = k6 ? Math.min(scenario.requestTimeoutS, shareS * 0.3) : Math.min(1, shareS * 0.1)
      const durationS = Math.max(1, Math.min(scenario.durationS, Math.floor(shareS - drainS)))
      log(
        `${scenario.name}: ${runner}, ${scenario.ratePerSecond} req/s for ${durationS} s (${scenario.description})`,
      )
      return durationS
    }
    const outcome = k6
      ? await runWithK6(k6, scenario, env, durationFor(), signal, log, thresholds)
      : await runWithAutocannon(scenario, env, durationFor, signal, thresholds)
    if (budget.aborted && outcome.status === 'passed') {
      Object.assign(outcome, { status: 'failed', exitCode: TIME_BUDGET_EXCEEDED_EXIT_CODE })
    }
    if (budget.aborted) outcome.detail += ` (stopped: the ${options.maxDurationS} s budget ran out)`
    log(`${scenario.name}: ${outcome.status} — ${outcome.detail}`)
    scenarios.push(outcome)
    if (outcome.status === 'failed') failure = outcome
  }

  const ran = scenarios.filter((scenario) => scenario.status !== 'skipped')
  if (ran.length === 0) notes.push('no scenario could run: give the inputs the scenarios need')
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
  scenario: Scenario,
  env: TargetEnv,
  durationS: number,
  signal: AbortSignal,
  log: (line: string) => void,
  thresholds: ThresholdVerdicts,
): Promise<ScenarioOutcome> {
  const run = await runScenarioWithK6({
    k6,
    scenario,
    env,
    durationS,
    log: (line) => log(`  k6 | ${line}`),
    signal,
  })
  if (run.observed) Object.assign(thresholds, evaluateThresholds(scenario, run.observed))
  const meaning =
    run.exitCode === 0
      ? 'k6 passed every threshold'
      : run.exitCode === THRESHOLDS_BREACHED_EXIT_CODE
        ? 'k6 exit code 99: a threshold was breached'
        : `k6 exit code ${run.exitCode}: the run itself failed`
  return {
    name: scenario.name,
    status: run.exitCode === 0 ? 'passed' : 'failed',
    detail: meaning,
    exitCode: run.exitCode,
  }
}

async function runWithAutocannon(
  scenario: Scenario,
  env: TargetEnv,
  durationFor: () => number,
  signal: AbortSignal,
  thresholds: ThresholdVerdicts,
): Promise<ScenarioOutcome> {
  if (scenario.name === 'message-send') {
    try {
      await openServiceWindows(env, signal)
    } catch (error) {
      const detail = `setup failed: ${(error as Error).message}`
      return { name: scenario.name, status: 'failed', detail, exitCode: SETUP_FAILED_EXIT_CODE }
    }
  }
  await runScenarioWithAutocannon(scenario, env, WARMUP_S, signal) // not measured: see WARMUP_S
  const observed = await runScenarioWithAutocannon(scenario, env, durationFor(), signal)
  const verdicts = evaluateThresholds(scenario, observed)
  Object.assign(thresholds, verdicts)
  const ok = allThresholdsMet(verdicts)
  const breached = Object.entries(verdicts)
    .filter(([, verdict]) => !verdict.ok)
    .map(([name, verdict]) => `${name} = ${verdict.value} (limit ${verdict.limit})`)
  return {
    name: scenario.name,
    status: ok ? 'passed' : 'failed',
    detail: ok
      ? `${observed.requests} requests, p95 ${Math.round(observed.p95Ms)} ms, every threshold met`
      : `threshold breached: ${breached.join('; ')}${describeErrors(observed.errorKinds)}`,
    exitCode: ok ? 0 : THRESHOLDS_BREACHED_EXIT_CODE,
  }
}

/** ` (errors: 500 ×12, timeout ×2)`, most frequent first; empty without errors. */
export function describeErrors(kinds: Record<string, number> = {}): string {
  const entries = Object.entries(kinds).sort((a, b) => b[1] - a[1])
  return entries.length === 0
    ? ''
    : ` (errors: ${entries.map(([kind, count]) => `${kind} ×${count}`).join(', ')})`
}
