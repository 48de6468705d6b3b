import { join } from 'node:path'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'
import { k6Inputs, k6Options, k6Thresholds, scenarioDurationS, selectedScenarios } from '../k6/k6-options.js'
import { SCENARIO_NAMES, SCENARIOS } from '../k6/scenarios.js'

const k6Dir = join(import.meta.dirname, '..', 'k6')

const scripts = [...SCENARIO_NAMES.map((name) => SCENARIOS[name].script), 'load.ts']

describe('k6 scripts', () => {
  it.each(scripts)('%s bundles with k6 left external and no npm import', async (script) => {
    const result = await build({
      entryPoints: [join(k6Dir, script)],
      absWorkingDir: join(k6Dir, '..'),
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      external: ['k6', 'k6/*'],
      metafile: true,
      logLevel: 'silent',
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.every((input) => input.startsWith('k6/') && !input.includes('node_modules'))).toBe(true)
    expect(inputs).toContain('k6/scenarios.ts')
    const imports = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]!]!.imports.map(
      (i) => i.path,
    )
    expect(imports.every((path) => path === 'k6' || path.startsWith('k6/'))).toBe(true)
    const code = result.outputFiles[0]!.text
    expect(code).toContain('export {')
    expect(code).toMatch(/options/)
  })

  it.each(SCENARIO_NAMES)(
    '%s: its own script and load.ts both export the function its scenarios execute',
    async (name) => {
      for (const script of [SCENARIOS[name].script, 'load.ts']) {
        const result = await build({
          entryPoints: [join(k6Dir, script)],
          bundle: true,
          write: false,
          format: 'esm',
          platform: 'neutral',
          external: ['k6', 'k6/*'],
          metafile: true,
          logLevel: 'silent',
        })
        const exported = Object.values(result.metafile.outputs)[0]!.exports
        expect(exported, script).toContain(SCENARIOS[name].exec)
        expect(exported, script).toContain('options')
      }
    },
  )
})

describe('k6 options', () => {
  it('tags every threshold with the scenario, in k6 syntax', () => {
    // 100 req/s for 20 s with at least 90 req/s achieved: up to 200 iterations may be dropped.
    expect(k6Thresholds(SCENARIOS['webhook-ingest'], 20)).toEqual({
      'http_req_duration{scenario:webhook-ingest}': ['p(95)<250'],
      'http_req_failed{scenario:webhook-ingest}': ['rate<0.01'],
      'dropped_iterations{scenario:webhook-ingest}': ['count<=200'],
    })
    expect(k6Options([SCENARIOS['webhook-ingest']], { SCENARIO_DURATION_S: '5' }).thresholds).toMatchObject({
      'dropped_iterations{scenario:webhook-ingest}': ['count<=50'],
    })
  })

  it('runs the scenario at its constant arrival rate, and only shortens it on request', () => {
    const scenario = SCENARIOS['read-api']
    expect(k6Options([scenario], {}).scenarios?.['read-api']).toMatchObject({
      executor: 'constant-arrival-rate',
      exec: 'readApi',
      rate: scenario.ratePerSecond,
      duration: `${scenario.durationS}s`,
      startTime: '2s',
      preAllocatedVUs: scenario.vus,
      maxVUs: scenario.maxVus,
    })
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: '5' })).toBe(5)
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: '9999' })).toBe(scenario.durationS)
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: 'x' })).toBe(scenario.durationS)
  })

  it('runs several scenarios side by side, each after its own unmeasured warm-up, thresholds on the measured ones', () => {
    const options = k6Options(
      SCENARIO_NAMES.map((name) => SCENARIOS[name]),
      { SCENARIO_DURATION_S: '5' },
    )
    expect(Object.keys(options.scenarios ?? {}).sort()).toEqual([
      'message-send',
      'message-send-warmup',
      'read-api',
      'read-api-warmup',
      'webhook-ingest',
      'webhook-ingest-warmup',
    ])
    for (const name of SCENARIO_NAMES) {
      // Every measured scenario starts when the warm-ups end, so they overlap for their whole duration.
      expect(options.scenarios?.[name]).toMatchObject({ startTime: '2s', duration: '5s' })
      expect(options.scenarios?.[`${name}-warmup`]).toMatchObject({ duration: '2s' })
      expect(options.scenarios?.[`${name}-warmup`]).not.toHaveProperty('startTime')
      expect(options.scenarios?.[name]?.exec).toBe(SCENARIOS[name].exec)
    }
    expect(Object.keys(options.thresholds ?? {})).toHaveLength(9)
    expect(Object.keys(options.thresholds ?? {}).some((name) => name.includes('warmup'))).toBe(false)
  })
})

describe('load.ts inputs', () => {
  it('selects the scenarios LOAD_SCENARIOS names, every one by default, and refuses unknown names', () => {
    expect(selectedScenarios({}).map((scenario) => scenario.name)).toEqual(SCENARIO_NAMES)
    expect(
      selectedScenarios({ LOAD_SCENARIOS: 'read-api,webhook-ingest' }).map((scenario) => scenario.name),
    ).toEqual(['read-api', 'webhook-ingest'])
    expect(() => selectedScenarios({ LOAD_SCENARIOS: 'read-api,nope' })).toThrow(
      'LOAD_SCENARIOS: unknown scenario nope',
    )
    expect(() => selectedScenarios({ LOAD_SCENARIOS: ' , ' })).toThrow('names no scenario')
  })

  it('requires exactly what the selected scenarios need', () => {
    const reads = [SCENARIOS['read-api']]
    expect(k6Inputs({ BASE_URL: 'http://127.0.0.1:1/', API_KEY: 'k' }, reads)).toEqual({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: 'k',
      appSecret: '',
      phoneNumberId: undefined,
    })
    expect(() => k6Inputs({ BASE_URL: 'http://127.0.0.1:1' }, reads)).toThrow('API_KEY is not set')
    expect(() =>
      k6Inputs({ BASE_URL: 'http://127.0.0.1:1', API_KEY: 'k', APP_SECRET: 's' }, [
        SCENARIOS['message-send'],
      ]),
    ).toThrow('PHONE_NUMBER_ID is not set')
    expect(() => k6Inputs({ API_KEY: 'k' }, reads)).toThrow('BASE_URL is not set')
  })
})
