import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SCENARIOS } from '../k6/scenarios.js'
import { evaluateThresholds, K6_INSTALL_HINT, runLoad } from '../src/index.js'
import { findK6, readSummary } from '../src/k6-runner.js'

const secrets = {
  apiKey: 'wsk_k6_secret_key',
  appSecret: 'k6-app-secret',
  phoneNumberId: '777',
}
const baseUrl = 'http://127.0.0.1:3999'

let dir: string | undefined
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

/**
 * A stand-in `k6` on PATH: records its arguments and the environment the scripts read, writes a summary export
 * like k6's for every scenario LOAD_SCENARIOS names (p95 42.5 ms, or 9999 ms for the `slow` one; no failures; 2
 * dropped iterations) and exits with the given code, or runs until killed.
 */
async function fakeK6(
  behaviour: { exitCode: number; slow?: string; noSummary?: boolean } | 'hang',
): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'fake-k6-'))
  const tail =
    behaviour === 'hang'
      ? 'exec sleep 30'
      : `${behaviour.noSummary ? '' : 'write_summary "$4"'}
exit ${behaviour.exitCode}`
  await writeFile(
    join(dir, 'k6'),
    `#!/bin/sh
write_summary() {
  metrics=''
  for name in $(echo "$LOAD_SCENARIOS" | tr ',' ' '); do
    p95=42.5
    [ "$name" = "${behaviour === 'hang' ? '' : (behaviour.slow ?? '')}" ] && p95=9999
    metrics="$metrics\\"http_req_duration{scenario:$name}\\":{\\"avg\\":10,\\"p(95)\\":$p95},\\"http_req_failed{scenario:$name}\\":{\\"passes\\":0,\\"fails\\":100,\\"value\\":0},\\"dropped_iterations{scenario:$name}\\":{\\"count\\":2,\\"rate\\":0.1},"
  done
  printf '{"metrics":{%s"http_reqs":{"count":1}}}' "$metrics" > "$1"
}
printf '%s\\n' "$@" > "${dir}/args"
env | grep -E '^(BASE_URL|API_KEY|APP_SECRET|PHONE_NUMBER_ID|SCENARIO_DURATION_S|LOAD_SCENARIOS)=' | sort > "${dir}/env"
echo "fake k6 running $(basename "$5") for $LOAD_SCENARIOS"
${tail}
`,
  )
  await chmod(join(dir, 'k6'), 0o755)
  return dir
}

async function loadWithFakeK6(path: string, maxDurationS = 60, env: Record<string, string> = secrets) {
  const lines: string[] = []
  const report = await runLoad({ baseUrl, env, maxDurationS, path, log: (line) => lines.push(line) })
  return { report, lines }
}

describe('runLoad with k6 on PATH', () => {
  it('runs every scenario in one k6 run; passes when k6 exits 0, with thresholds from its summary export', async () => {
    const path = await fakeK6({ exitCode: 0 })
    expect(await findK6(`/nonexistent:${path}`)).toBe(join(path, 'k6'))
    const { report, lines } = await loadWithFakeK6(path)
    expect(report).toMatchObject({ runner: 'k6', passed: true, exitCode: 0, notes: [] })
    expect(report.scenarios.map((scenario) => [scenario.name, scenario.status])).toEqual([
      ['message-send', 'passed'],
      ['read-api', 'passed'],
      ['webhook-ingest', 'passed'],
    ])
    expect(report.thresholds['message-send http_req_duration p(95) ms']).toEqual({
      value: 42.5,
      limit: '< 500',
      ok: true,
    })
    // read-api ran its full 8 s: 100 req/s less 2 dropped iterations over 8 s.
    expect(report.thresholds['read-api http_reqs rate/s']).toEqual({ value: 99.75, limit: '>= 90', ok: true })
    expect(Object.keys(report.thresholds)).toHaveLength(9)
    expect(lines.filter((line) => line.startsWith('  k6 | fake k6 running'))).toEqual([
      '  k6 | fake k6 running load.ts for message-send,read-api,webhook-ingest',
    ])
  })

  it('hands inputs to the script through the environment, never the command line', async () => {
    const path = await fakeK6({ exitCode: 0 })
    await loadWithFakeK6(path)
    const args = await readFile(join(path, 'args'), 'utf8')
    expect(args.split('\n').slice(0, 3)).toEqual(['run', '--no-color', '--summary-export'])
    expect(args).toMatch(/loadtests\/k6\/load\.ts\n$/)
    for (const secret of [secrets.apiKey, secrets.appSecret]) expect(args).not.toContain(secret)
    expect(await readFile(join(path, 'env'), 'utf8')).toBe(
      [
        `API_KEY=${secrets.apiKey}`,
        `APP_SECRET=${secrets.appSecret}`,
        `BASE_URL=${baseUrl}`,
        'LOAD_SCENARIOS=message-send,read-api,webhook-ingest',
        `PHONE_NUMBER_ID=${secrets.phoneNumberId}`,
        // 60 s less the 2 s warm-up and the 5 s k6 may drain: far more than any scenario's own duration.
        'SCENARIO_DURATION_S=53',
        '',
      ].join('\n'),
    )
  })

  it('runs only the scenarios whose inputs it has', async () => {
    const path = await fakeK6({ exitCode: 0 })
    const { report } = await loadWithFakeK6(path, 60, { apiKey: secrets.apiKey })
    expect(await readFile(join(path, 'env'), 'utf8')).toContain('LOAD_SCENARIOS=read-api\n')
    expect(report.scenarios.map((scenario) => [scenario.name, scenario.status])).toEqual([
      ['message-send', 'skipped'],
      ['read-api', 'passed'],
      ['webhook-ingest', 'skipped'],
    ])
    expect(report.passed).toBe(true)
  })

  it('shortens the scenarios to a tight budget', async () => {
    const path = await fakeK6({ exitCode: 0 })
    await loadWithFakeK6(path, 12)
    // 12 s less 2 s of warm-up and 3.6 s kept for k6 to drain (30 % of 12 s, under the 5 s request timeout).
    expect(await readFile(join(path, 'env'), 'utf8')).toContain('SCENARIO_DURATION_S=6\n')
  })

  it('fails the scenario whose threshold k6 reports breached (exit code 99); the others keep their verdict', async () => {
    const { report } = await loadWithFakeK6(await fakeK6({ exitCode: 99, slow: 'read-api' }))
    expect(report).toMatchObject({ runner: 'k6', passed: false, exitCode: 99 })
    expect(report.scenarios).toEqual([
      {
        name: 'message-send',
        status: 'passed',
        detail: 'its own thresholds were met (k6 exit code 99: another scenario breached one)',
        exitCode: 0,
      },
      {
        name: 'read-api',
        status: 'failed',
        detail:
          'k6 exit code 99: a threshold was breached: read-api http_req_duration p(95) ms = 9999 (limit < 200)',
        exitCode: 99,
      },
      {
        name: 'webhook-ingest',
        status: 'passed',
        detail: 'its own thresholds were met (k6 exit code 99: another scenario breached one)',
        exitCode: 0,
      },
    ])
    expect(report.thresholds['read-api http_req_duration p(95) ms']?.ok).toBe(false)
  })

  it('fails every scenario on exit code 99 when the summary does not say whose threshold broke', async () => {
    const { report } = await loadWithFakeK6(await fakeK6({ exitCode: 99, noSummary: true }))
    expect(report).toMatchObject({ passed: false, exitCode: 99 })
    expect(report.scenarios.map((scenario) => [scenario.status, scenario.detail])).toEqual(
      Array(3).fill(['failed', 'k6 exit code 99: a threshold was breached']),
    )
  })

  it('passes any other k6 exit code through as a failure', async () => {
    const { report } = await loadWithFakeK6(await fakeK6({ exitCode: 107 }))
    expect(report).toMatchObject({ passed: false, exitCode: 107 })
    expect(report.scenarios[0]?.detail).toBe('k6 exit code 107: the run itself failed')
  })

  it('stops a k6 run that outlives the time budget, and fails', async () => {
    const { report } = await loadWithFakeK6(await fakeK6('hang'), 2)
    expect(report).toMatchObject({ runner: 'k6', passed: false, exitCode: 124 })
    expect(report.scenarios[0]?.detail).toMatch(/\(stopped: the 2 s budget ran out\)$/)
  })
})

describe('readSummary', () => {
  it('reads the scenario-tagged metrics, taking the achieved rate from the dropped iterations', async () => {
    dir = await mkdtemp(join(tmpdir(), 'k6-summary-'))
    const path = join(dir, 'summary.json')
    const tag = '{scenario:read-api}'
    await writeFile(
      path,
      JSON.stringify({
        metrics: {
          http_req_duration: { 'p(95)': 1 },
          [`http_req_duration${tag}`]: { 'p(95)': 180.4 },
          [`http_req_failed${tag}`]: { passes: 3, fails: 1697, value: 0.0018 },
          // k6's own rate includes setup time: ignored.
          [`http_reqs${tag}`]: { count: 1700, rate: 42 },
          [`dropped_iterations${tag}`]: { count: 300, rate: 15 },
        },
      }),
    )
    const observed = await readSummary(path, SCENARIOS['read-api'], 20)
    expect(observed).toEqual({
      requests: 1700,
      errors: 3,
      p95Ms: 180.4,
      errorRate: 0.0018,
      requestsPerSecond: 85,
    })
    expect(evaluateThresholds(SCENARIOS['read-api'], observed!)['read-api http_reqs rate/s']?.ok).toBe(false)
  })

  it('is undefined when k6 wrote no summary or not the scenario metrics', async () => {
    dir = await mkdtemp(join(tmpdir(), 'k6-summary-'))
    expect(await readSummary(join(dir, 'absent.json'), SCENARIOS['read-api'], 20)).toBeUndefined()
    await writeFile(join(dir, 'other.json'), JSON.stringify({ metrics: { http_reqs: { count: 1 } } }))
    expect(await readSummary(join(dir, 'other.json'), SCENARIOS['read-api'], 20)).toBeUndefined()
  })
})

describe('runLoad without k6', () => {
  it('refuses to force k6 when it is absent, naming what to install', async () => {
    await expect(runLoad({ baseUrl, env: secrets, maxDurationS: 5, runner: 'k6', path: '' })).rejects.toThrow(
      `k6 is not on PATH: ${K6_INSTALL_HINT}`,
    )
  })

  it('finds no k6 on an empty PATH or one without it', async () => {
    expect(await findK6('')).toBeUndefined()
    expect(await findK6(tmpdir())).toBeUndefined()
  })
})
