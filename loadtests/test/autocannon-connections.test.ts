import { describe, expect, it } from 'vitest'
import { SCENARIOS } from '../k6/scenarios.js'
import { autocannonConnections } from '../src/autocannon-runner.js'

describe('autocannon connections', () => {
  it('opens one connection per 10 requests a second, at least 2, at most the pre-allocated VUs', () => {
    expect(autocannonConnections({ ratePerSecond: 100, vus: 20 })).toBe(10)
    expect(autocannonConnections({ ratePerSecond: 20, vus: 20 })).toBe(2)
    expect(autocannonConnections({ ratePerSecond: 5, vus: 20 })).toBe(2)
    expect(autocannonConnections({ ratePerSecond: 1_000, vus: 30 })).toBe(30)
  })

  it('bursts at most half the VUs of each committed scenario at once', () => {
    for (const scenario of Object.values(SCENARIOS))
      expect(autocannonConnections(scenario)).toBeLessThanOrEqual(Math.ceil(scenario.vus / 2))
  })
})
