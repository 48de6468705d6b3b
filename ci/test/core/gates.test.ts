import { describe, expect, it } from 'vitest'
import { checkDestructive, parseMigrationStatus } from '../../src/core/gates.js'
import { OpsOutputError } from '../../src/core/ops-output.js'
import { destructiveStatus, OPS_LINES, opsFailure } from './scripted.js'

describe('gates', () => {
  it('reads pending migrations with their verdicts and findings', () => {
    const plan = parseMigrationStatus({
      exitCode: 0,
      output: [],
      result: {
        ...destructiveStatus('0003_drop', 'drop-table', 'DROP TABLE "X"'),
        applied: ['0001_init'],
      },
    })
    expect(plan.applied).toEqual(['0001_init'])
    expect(plan.pending.map((m) => [m.name, m.destructive])).toEqual([['0003_drop', true]])
    expect(() => checkDestructive(plan, false)).toThrow(
      '0003_drop needs --allow-destructive: drop-table: DROP TABLE "X"',
    )
    expect(checkDestructive(plan, true)).toEqual([
      { migration: '0003_drop', statement: 'DROP TABLE "X"', reason: 'drop-table' },
    ])
  })

  it('lets safe plans through and refuses a failed status command with its error', () => {
    const safe = parseMigrationStatus({ exitCode: 0, output: [], result: OPS_LINES['migration-status'] })
    expect(checkDestructive(safe, false)).toEqual([])
    expect(() => parseMigrationStatus({ exitCode: 2, output: ['cannot connect'] })).toThrow(
      'migration-status failed (exit 2) without a result line: cannot connect',
    )
    expect(() =>
      parseMigrationStatus({
        exitCode: 1,
        output: [],
        result: opsFailure('migration-status', 'connect ECONNREFUSED'),
      }),
    ).toThrow('migration-status failed: connect ECONNREFUSED')
  })

  it('refuses the shapes the ops commands never print', () => {
    // Keys an older reader accepted: `name` for `migration`, `destructive` per migration, bare names.
    const guessed = [
      { ...OPS_LINES['migration-status'], pending: [{ name: '0002', destructive: false, findings: [] }] },
      { ...OPS_LINES['migration-status'], pending: ['0002'] },
    ]
    for (const result of guessed)
      expect(() => parseMigrationStatus({ exitCode: 0, output: [], result })).toThrow(OpsOutputError)
  })
})
