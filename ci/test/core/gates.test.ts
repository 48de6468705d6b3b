import { describe, expect, it } from 'vitest'
import { backupIdOf, backupVerified, checkDestructive, parseMigrationStatus } from '../../src/core/gates.js'

describe('gates', () => {
  it('reads the backup id from the final JSON line', () => {
    expect(backupIdOf({ exitCode: 0, output: [], result: { id: '20260101T000000Z' } })).toBe(
      '20260101T000000Z',
    )
    expect(backupIdOf({ exitCode: 0, output: [], result: { backupId: 'b2' } })).toBe('b2')
    expect(() => backupIdOf({ exitCode: 0, output: [], result: {} })).toThrow(/no backup id/)
  })

  it('treats a non-zero exit or a negative verdict as an unverified backup', () => {
    expect(backupVerified({ exitCode: 0, output: [], result: { verified: true } })).toBe(true)
    expect(backupVerified({ exitCode: 1, output: [], result: { verified: true } })).toBe(false)
    expect(backupVerified({ exitCode: 0, output: [], result: { ok: false } })).toBe(false)
  })

  it('parses pending migrations with verdicts and findings', () => {
    const plan = parseMigrationStatus({
      exitCode: 0,
      output: [],
      result: {
        applied: [{ name: '0001_init' }],
        pending: [
          { name: '0002_idx', verdict: 'safe', findings: [] },
          {
            name: '0003_drop',
            destructive: true,
            findings: [{ rule: 'drop-table', statement: 'DROP TABLE "X"' }],
          },
        ],
      },
    })
    expect(plan.applied).toEqual(['0001_init'])
    expect(plan.pending.map((m) => [m.name, m.destructive])).toEqual([
      ['0002_idx', false],
      ['0003_drop', true],
    ])
    expect(() => checkDestructive(plan, false)).toThrow(
      '0003_drop needs --allow-destructive: drop-table: DROP TABLE "X"',
    )
    expect(checkDestructive(plan, true)).toEqual([
      { migration: '0003_drop', statement: 'DROP TABLE "X"', reason: 'drop-table' },
    ])
  })

  it('lets safe plans through and refuses a failed status command', () => {
    const safe = parseMigrationStatus({
      exitCode: 0,
      output: [],
      result: { applied: [], pending: ['0001_init'] },
    })
    expect(checkDestructive(safe, false)).toEqual([])
    expect(() =>
      parseMigrationStatus({ exitCode: 2, output: ['cannot connect'], result: undefined }),
    ).toThrow('migration-status failed (exit 2): cannot connect')
  })
})
