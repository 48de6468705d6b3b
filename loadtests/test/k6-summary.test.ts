import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SCENARIOS } from '../k6/scenarios.js'
import { readSummary } from '../src/k6-runner.js'
import { evaluateThresholds } from '../src/thresholds.js'

// A `--summary-export` of the read-api scenario in k6's shape: k6 writes a sub-metric such as
// `http_reqs{scenario:read-api}` only when a threshold names it, so the scenario's own request count is
// not there, while `http_req_failed{scenario:read-api}` (a threshold of every scenario) counts every one
// of its requests as a pass (failed) or a fail (succeeded).
const RECORDED = join(import.meta.dirname, 'fixtures/k6-summary-export-read-api.json')

describe('reading k6 summary export', () => {
  it('reads the scenario values even though k6 emits no tagged http_reqs for it', async () => {
    const observed = await readSummary(RECORDED, SCENARIOS['read-api'], 20)
    expect(observed).toEqual({
      requests: 1997,
      errors: 3,
      p95Ms: 31.8,
      errorRate: 0.0015022533800701052,
      requestsPerSecond: 100 - 12 / 20,
    })
  })

  it('turns them into the report thresholds of the scenario', async () => {
    const observed = await readSummary(RECORDED, SCENARIOS['read-api'], 20)
    const verdicts = evaluateThresholds(SCENARIOS['read-api'], observed!)
    expect(verdicts['read-api http_req_duration p(95) ms']).toEqual({ value: 31.8, limit: '< 200', ok: true })
    expect(Object.values(verdicts).every((verdict) => verdict.ok)).toBe(true)
  })

  it('is undefined without the scenario-tagged metrics (another scenario, or no summary)', async () => {
    expect(await readSummary(RECORDED, SCENARIOS['message-send'], 20)).toBeUndefined()
    expect(
      await readSummary(join(import.meta.dirname, 'fixtures/none.json'), SCENARIOS['read-api'], 20),
    ).toBeUndefined()
  })
})
