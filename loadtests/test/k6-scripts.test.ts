import { join } from 'node:path'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'
import { k6Options, k6Thresholds, scenarioDurationS } from '../k6/k6-options.js'
import { SCENARIO_NAMES, SCENARIOS } from '../k6/scenarios.js'

const k6Dir = join(import.meta.dirname, '..', 'k6')

describe('k6 scripts', () => {
  it.each(SCENARIO_NAMES)('%s bundles with k6 left external and no npm import', async (name) => {
    const result = await build({
      entryPoints: [join(k6Dir, SCENARIOS[name].script)],
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
})

describe('k6 options', () => {
  it('tags every threshold with the scenario, in k6 syntax', () => {
    // 100 req/s for 20 s with at least 90 req/s achieved: up to 200 iterations may be dropped.
    expect(k6Thresholds(SCENARIOS['webhook-ingest'], 20)).toEqual({
      'http_req_duration{scenario:webhook-ingest}': ['p(95)<250'],
      'http_req_failed{scenario:webhook-ingest}': ['rate<0.01'],
      'dropped_iterations{scenario:webhook-ingest}': ['count<=200'],
    })
    expect(k6Options(SCENARIOS['webhook-ingest'], { SCENARIO_DURATION_S: '3' }).thresholds).toMatchObject({
      'dropped_iterations{scenario:webhook-ingest}': ['count<=30'],
    })
  })

  it('runs the scenario at its constant arrival rate, and only shortens it on request', () => {
    const scenario = SCENARIOS['read-api']
    expect(k6Options(scenario, {}).scenarios?.['read-api']).toMatchObject({
      executor: 'constant-arrival-rate',
      rate: scenario.ratePerSecond,
      duration: `${scenario.durationS}s`,
      preAllocatedVUs: scenario.vus,
      maxVUs: scenario.maxVus,
    })
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: '3' })).toBe(3)
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: '9999' })).toBe(scenario.durationS)
    expect(scenarioDurationS(scenario, { SCENARIO_DURATION_S: 'x' })).toBe(scenario.durationS)
  })
})
