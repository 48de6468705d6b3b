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
 * like k6's (p95 42.5 ms, no failures, 10 dropped iterations) and exits with the given code, or runs until killed.
 */
async function fakeK6(behaviour: { exitCode: number } | 'hang'): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'fake-k6-'))
  const tail =
    behaviour === 'hang'
      ? 'exec sleep 30'
      : `cat > "$4" <<JSON
{"metrics":{"http_req_duration{scenario:$name}":{"avg":10,"p(95)":42.5},"http_req_failed{scenario:$name}":{"passes":0,"fails":100,"value":0},"http_reqs{scenario:$name}":{"count":100,"rate":95.2},"dropped_iterations{scenario:$name}":{"count":10,"rate":0.4}}}
JSON
exit ${behaviour.exitCode}`
  await writeFile(
    join(dir, 'k6'),
    `#!/bin/sh
name=$(basename "$5" .ts)
printf '%s\\n' "$@" > "${dir}/args-$name"
env | grep -E '^(BASE_URL|API_KEY|APP_SECRET|PHONE_NUMBER_ID|SCENARIO_DURATION_S)=' | sort > "${dir}/env-$name"
echo "fake k6 running $name"
${tail}
`,
  )
  await chmod(join(dir, 'k6'), 0o755)
  return dir
}

async function loadWithFakeK6(path: string, maxDurationS = 60) {
  const lines: string[] = []
  const report = await runLoad({ baseUrl, env: secrets, maxDurationS, path, log: (line) => lines.push(line) })
  return { report, lines }
}

describe('runLoad with k6 on PATH', () => {
  it('passes when k6 exits 0, with thresholds read from its summary export', async () => {
    const path = await fakeK6({ exitCode: 0 })
    expect(await findK6(`/nonexistent:${path}`)).toBe(join(path, 'k6'))
    const { report, lines } = await loadWithFakeK6(path)
    expect(report).toMatchObject({ runner: 'k6', passed: true, exitCode: 0, notes: [] })
    expect(report.scenarios.map((scenario) => scenario.status)).toEqual(['passed', 'passed', 'passed'])
    expect(report.thresholds['message-send http_req_duration p(95) ms']).toEqual({
      value: 42.5,
      limit: '< 500',
      ok: true,
    })
    // read-api ran its full 4 s: 100 req/s less 10 dropped iterations over 4 s.
    expect(report.thresholds['read-api http_reqs rate/s']).toEqual({ value: 97.5, limit: '>= 90', ok: true })
    expect(Object.keys(report.thresholds)).toHaveLength(9)
    expect(lines).toContain('  k6 | fake k6 running webhook-ingest')
  })

  it('hands inputs to the scripts through the environment, never the command line', async () => {
    const path = await fakeK6({ exitCode: 0 })
    await loadWithFakeK6(path)
    const args = await readFile(join(path, 'args-message-send'), 'utf8')
    expect(args.split('\n').slice(0, 3)).toEqual(['run', '--no-color', '--summary-export'])
    expect(args).toMatch(/loadtests\/k6\/message-send\.ts\n$/)
    for (const secret of [secrets.apiKey, secrets.appSecret]) expect(args).not.toContain(secret)
    expect(await readFile(join(path, 'env-message-send'), 'utf8')).toBe(
      [
        `API_KEY=${secrets.apiKey}`,
        `APP_SECRET=${secrets.appSecret}`,
        `BASE_URL=${baseUrl}`,
        `PHONE_NUMBER_ID=${secrets.phoneNumberId}`,
        // The first scenario's own 4 s: below its share of the budget (a third of 60 s, less the
        // request timeout kept for k6 to drain), so not shortened.
        'SCENARIO_DURATION_S=4',
        '',
      ].join('\n'),
    )
    // The first scenarios ended at once, leaving the last its own 4 s.
    expect(await readFile(join(path, 'env-webhook-ingest'), 'utf8')).toContain('SCENARIO_DURATION_S=4\n')
  })

  it('shortens a scenario to its share of a tight budget', async () => {
    const path = await fakeK6({ exitCode: 0 })
    await loadWithFakeK6(path, 12)
    // A third of 12 s (4 s) less what k6 may spend draining (30 % of it) leaves 2 s of message-send's own 4 s.
    expect(await readFile(join(path, 'env-message-send'), 'utf8')).toContain('SCENARIO_DURATION_S=2\n')
  })

  it('fails with exit code 99 when k6 reports a breached threshold, and runs nothing after it', async () => {
    const { report } = await loadWithFakeK6(await fakeK6({ exitCode: 99 }))
    expect(report).toMatchObject({ runner: 'k6', passed: false, exitCode: 99 })
    expect(report.scenarios).toEqual([
      {
        name: 'message-send',
        status: 'failed',
        detail: 'k6 exit code 99: a threshold was breached',
        exitCode: 99,
      },
      { name: 'read-api', status: 'skipped', detail: 'not run: message-send failed', exitCode: 0 },
      { name: 'webhook-ingest', status: 'skipped', detail: 'not run: message-send failed', exitCode: 0 },
    ])
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
