// How the module runs the k6 scripts of loadtests/k6 in the official grafana/k6 image. k6's exit code
// decides: 0 passed, 99 = a threshold was breached, anything else = the run itself failed.

export const K6_SCRIPTS = ['webhook-ingest', 'message-send', 'read-api'] as const
export type K6Script = (typeof K6_SCRIPTS)[number]

export const K6_WORKDIR = '/scripts'
export const K6_SUMMARY = '/out/summary.json'

export function parseK6Script(name: string): K6Script {
  if ((K6_SCRIPTS as readonly string[]).includes(name)) return name as K6Script
  throw new Error(`unknown k6 script "${name}": expected one of ${K6_SCRIPTS.join(', ')}`)
}

/**
 * `k6 run` of one script of loadtests/k6 (mounted at K6_WORKDIR). Inputs reach the script through the
 * container's environment (BASE_URL, API_KEY, APP_SECRET, PHONE_NUMBER_ID, FAKE_GRAPH_URL), never its
 * command line; SCENARIO_DURATION_S can only shorten a scenario (loadtests/k6/k6-options.ts).
 */
export function k6Command(script: string): string[] {
  const name = parseK6Script(script)
  return ['k6', 'run', '--no-color', '--no-usage-report', '--summary-export', K6_SUMMARY, `${name}.ts`]
}

/** Bounded: a hung or slow target cannot hold the pipeline for longer than this. */
export function k6DurationEnv(maxDurationSeconds: number): Record<string, string> {
  if (!Number.isInteger(maxDurationSeconds) || maxDurationSeconds <= 0) {
    throw new Error(`maxDurationSeconds must be a positive integer, got ${maxDurationSeconds}`)
  }
  return { SCENARIO_DURATION_S: String(maxDurationSeconds) }
}

/** Target inputs of the k6 scripts, by the names they read from __ENV. */
export const K6_INPUTS = {
  baseUrl: 'BASE_URL',
  apiKey: 'API_KEY',
  appSecret: 'APP_SECRET',
  phoneNumberId: 'PHONE_NUMBER_ID',
  fakeGraphUrl: 'FAKE_GRAPH_URL',
} as const

export interface K6Verdict {
  passed: boolean
  exitCode: number
  reason: string
}

export function k6Verdict(exitCode: number): K6Verdict {
  if (exitCode === 0) return { passed: true, exitCode, reason: 'all thresholds passed' }
  if (exitCode === 99) return { passed: false, exitCode, reason: 'thresholds breached (k6 exit code 99)' }
  return { passed: false, exitCode, reason: `k6 failed to run (exit code ${exitCode})` }
}
