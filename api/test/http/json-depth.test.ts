import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonNestsDeeperThan } from '../../src/http/input-guard.js'

/** Nesting depth of a parsed JSON value (objects and arrays). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + children.reduce<number>((deepest, child) => Math.max(deepest, depthOf(child)), 0)
}

describe('JSON nesting depth scan', () => {
  it('finds the depth of any JSON text, in bytes as in a string, brackets and escapes inside strings ignored', () => {
    const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', 'é', '\u2028', '😀')
    const text = fc.stringOf(fc.oneof(tricky, fc.string({ maxLength: 3 })), { maxLength: 8 })
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(text, tie('node'), { maxKeys: 3 }),
      ),
    })).node
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), (parsed, limit) => {
        const json = JSON.stringify(parsed)
        const deeper = depthOf(parsed) > limit
        expect(jsonNestsDeeperThan(json, limit)).toBe(deeper)
        expect(jsonNestsDeeperThan(Buffer.from(json), limit)).toBe(deeper)
      }),
      { numRuns: 2_000 },
    )
  })

  it('treats an unterminated string as running to the end', () => {
    expect(jsonNestsDeeperThan(Buffer.from('[[["abc\\"'), 2)).toBe(true)
    expect(jsonNestsDeeperThan(Buffer.from('["[[[[\\\\'), 2)).toBe(false)
  })
})
