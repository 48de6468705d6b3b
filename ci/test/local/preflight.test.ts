import { describe, expect, it } from 'vitest'
import { LocalPreflightError, runLocalPreflight } from '../../src/local/preflight.js'

describe('local preflight', () => {
  it('returns the met items', () => {
    expect(runLocalPreflight('/', [() => 'a', () => 'b'])).toEqual(['a', 'b'])
  })

  it('lists every unmet item at once, not only the first', () => {
    const run = () =>
      runLocalPreflight('/', [
        () => 'met',
        () => {
          throw new Error('redis-server missing')
        },
        () => {
          throw new Error('node_modules missing')
        },
      ])
    expect(run).toThrow(LocalPreflightError)
    try {
      run()
    } catch (error) {
      expect((error as LocalPreflightError).unmet).toEqual(['redis-server missing', 'node_modules missing'])
      expect((error as Error).message).toContain('2 unmet item(s)')
    }
  })
})
