import { spawn } from 'node:child_process'
import { constants } from 'node:fs'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { TargetEnv } from '@whatsapp-saas/service-client/target-env'
import type { Scenario } from '../k6/scenarios.js'
import { TIME_BUDGET_EXCEEDED_EXIT_CODE } from './load-outcome.js'
import type { ObservedMetrics } from './thresholds.js'

export const K6_SCRIPTS_DIR = join(import.meta.dirname, '..', 'k6')

/** The first executable `k6` on PATH, or undefined. */
export async function findK6(path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'k6')
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

export interface K6Run {
  /** k6's own exit code (0 passed, 99 thresholds breached, other = error); 124 when stopped for the time budget. */
  exitCode: number
  /** Read from `--summary-export`, when k6 wrote it. */
  observed?: ObservedMetrics
}

/**
 * Runs one scenario's script with k6. Inputs reach the script through its environment (never its command line,
 * which other users of the machine can read); k6's exit code is returned untouched.
 */
export async function runScenarioWithK6(input: {
  k6: string
  scenario: Scenario
  env: TargetEnv
  durationS: number
  log: (line: string) => void
  /** Stops k6 (SIGTERM, then SIGKILL after 5 s): the run's time budget or the caller's cancellation. */
  signal: AbortSignal
}): Promise<K6Run> {
  const dir = await mkdtemp(join(tmpdir(), 'k6-summary-'))
  const summaryPath = join(dir, `${input.scenario.name}.json`)
  try {
    const child = spawn(
      input.k6,
      ['run', '--no-color', '--summary-export', summaryPath, join(K6_SCRIPTS_DIR, input.scenario.script)],
      {
        env: { ...process.env, ...k6Environment(input.env), SCENARIO_DURATION_S: String(input.durationS) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stopped = false
    const stop = () => {
      stopped = true
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
    }
    if (input.signal.aborted) stop()
    else input.signal.addEventListener('abort', stop, { once: true })
    for (const stream of [child.stdout, child.stderr]) {
      let pending = ''
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) if (line.trim()) input.log(line)
      })
      stream.on('end', () => pending.trim() && input.log(pending))
    }
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code) => resolve(code ?? TIME_BUDGET_EXCEEDED_EXIT_CODE))
    })
    input.signal.removeEventListener('abort', stop)
    return {
      exitCode: stopped && exitCode === 0 ? TIME_BUDGET_EXCEEDED_EXIT_CODE : exitCode,
      observed: await readSummary(summaryPath, input.scenario, input.durationS),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The environment variables the k6 scripts read (see loadtests/README.md). */
export function k6Environment(env: TargetEnv): Record<string, string> {
  const variables: Record<string, string | undefined> = {
    BASE_URL: env.baseUrl,
    API_KEY: env.apiKey,
    APP_SECRET: env.appSecret,
    PHONE_NUMBER_ID: env.phoneNumberId,
  }
  return Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => !!entry[1]),
  )
}

interface K6SummaryExport {
  metrics?: Record<string, Record<string, number> | undefined>
}

/** Reads k6's `--summary-export` (values of the scenario-tagged metrics); undefined when absent or unreadable. */
export async function readSummary(
  path: string,
  scenario: Scenario,
  durationS: number,
): Promise<ObservedMetrics | undefined> {
  let summary: K6SummaryExport
  try {
    summary = JSON.parse(await readFile(path, 'utf8')) as K6SummaryExport
  } catch {
    return undefined
  }
  const metric = (name: string) => summary.metrics?.[`${name}{scenario:${scenario.name}}`]
  const duration = metric('http_req_duration')
  const failed = metric('http_req_failed')
  if (!duration || !failed) return undefined
  // k6 exports a tagged sub-metric only when a threshold names it, and no threshold names
  // `http_reqs{scenario:…}`; the scenario's `http_req_failed` rate counts each of its requests once, as a
  // pass (failed) or a fail (succeeded).
  const requests = metric('http_reqs')?.count ?? (failed.passes ?? 0) + (failed.fails ?? 0)
  // k6's own rate divides by the whole test time (setup included); the arrival rate less the iterations k6 had
  // to drop is what the scenario achieved.
  const dropped = metric('dropped_iterations')?.count ?? 0
  return {
    requests,
    errors: failed.passes ?? 0,
    p95Ms: duration['p(95)'] ?? Number.NaN,
    errorRate: failed.value ?? 1,
    requestsPerSecond: Math.max(0, scenario.ratePerSecond - dropped / durationS),
  }
}
