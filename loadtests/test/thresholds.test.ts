import { describe, expect, it } from 'vitest'
import { SCENARIOS } from '../k6/scenarios.js'
import { describeErrors } from '../src/run-load.js'
import { allThresholdsMet, evaluateThresholds, observedMetrics, percentile } from '../src/thresholds.js'

const scenario = SCENARIOS['read-api']
const { p95Ms, maxErrorRate, minRequestsPerSecond } = scenario.thresholds

describe('percentile', () => {
  it('picks the nearest rank, whatever the input order', () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index)
    expect(percentile(samples, 95)).toBe(95)
    expect(percentile(samples, 50)).toBe(50)
    expect(percentile(samples, 100)).toBe(100)
    expect(percentile([7], 95)).toBe(7)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 95)).toBe(1000)
  })

  it('is NaN without samples', () => {
    expect(percentile([], 95)).toBeNaN()
  })
})

describe('observedMetrics', () => {
  it('derives error rate and request rate', () => {
    expect(observedMetrics({ latenciesMs: [1, 2, 3, 4], requests: 5, errors: 1, elapsedS: 2 })).toEqual({
      requests: 5,
      errors: 1,
      p95Ms: 4,
      errorRate: 0.2,
      requestsPerSecond: 2.5,
    })
  })

  it('counts a run that sent nothing as all errors', () => {
    expect(observedMetrics({ latenciesMs: [], requests: 0, errors: 0, elapsedS: 1 }).errorRate).toBe(1)
  })
})

describe('evaluateThresholds', () => {
  const healthy = {
    requests: 2000,
    errors: 0,
    p95Ms: p95Ms - 1,
    errorRate: 0,
    requestsPerSecond: minRequestsPerSecond,
  }

  it('passes when every observed value is within its limit', () => {
    const verdicts = evaluateThresholds(scenario, healthy)
    expect(verdicts).toEqual({
      'read-api http_req_duration p(95) ms': { value: p95Ms - 1, limit: `< ${p95Ms}`, ok: true },
      'read-api http_req_failed rate': { value: 0, limit: `< ${maxErrorRate}`, ok: true },
      'read-api http_reqs rate/s': {
        value: minRequestsPerSecond,
        limit: `>= ${minRequestsPerSecond}`,
        ok: true,
      },
    })
    expect(allThresholdsMet(verdicts)).toBe(true)
  })

  it.each([
    ['read-api http_req_duration p(95) ms', { p95Ms }],
    ['read-api http_req_duration p(95) ms', { p95Ms: Number.NaN }],
    ['read-api http_req_failed rate', { errorRate: maxErrorRate }],
    ['read-api http_reqs rate/s', { requestsPerSecond: minRequestsPerSecond - 0.01 }],
  ])('breaches %s at its limit (%#)', (name, change) => {
    const verdicts = evaluateThresholds(scenario, { ...healthy, ...change })
    expect(verdicts[name]?.ok).toBe(false)
    expect(Object.values(verdicts).filter((verdict) => !verdict.ok)).toHaveLength(1)
    expect(allThresholdsMet(verdicts)).toBe(false)
  })
})

describe('describeErrors', () => {
  it('lists error kinds, most frequent first', () => {
    expect(describeErrors({ timeout: 2, '500': 12, '429': 3 })).toBe(' (errors: 500 ×12, 429 ×3, timeout ×2)')
    expect(describeErrors({})).toBe('')
    expect(describeErrors()).toBe('')
  })
})
