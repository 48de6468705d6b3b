import { describe, expect, it } from 'vitest'
import { OrganicLimits } from '../../src/fake-graph/organic-limits.js'

// Meta states the per-number throughput per rolling second: the fake answers 130429 to the call that
// would make a rolling second hold more than the limit, and to no other.
describe('fake Graph API: per-number throughput', () => {
  it('accepts the limit in any rolling second, bursts included, and refuses one more', () => {
    const limits = new OrganicLimits({ throughputMps: 80 })
    // 80 calls in the same millisecond: within the second's limit.
    for (let i = 0; i < 80; i++) expect(limits.check('n1', `to${i}`, 10_000)).toBeUndefined()
    expect(limits.check('n1', 'to80', 10_999)).toBe(130429)
    // The first 80 leave the window exactly one second later.
    expect(limits.check('n1', 'to81', 11_000)).toBeUndefined()
    // Other numbers have their own count.
    expect(limits.check('n2', 'to0', 10_999)).toBeUndefined()
  })

  it('never lets a rolling second hold more than the limit under a steady over-limit pace', () => {
    const limits = new OrganicLimits({ throughputMps: 80 })
    const accepted: number[] = []
    // 100 calls a second (every 10 ms) for 5 s.
    for (let at = 0; at < 5_000; at += 10) if (limits.check('n1', 'to', at) === undefined) accepted.push(at)
    let busiest = 0
    for (const start of accepted)
      busiest = Math.max(busiest, accepted.filter((t) => t >= start && t < start + 1_000).length)
    expect(busiest).toBe(80)
    expect(accepted.length).toBeGreaterThanOrEqual(5 * 80 - 1)
  })
})
