import { describe, expect, it } from 'vitest'
import { migrateThroughTarget } from '../../src/cli/migrate-verb.js'
import type { OpsCommand, OpsResult, RunContext } from '../../src/core/types.js'
import { okOps, SERVING, scripted } from './scripted.js'

const ctx: RunContext = {
  runId: 'test',
  target: 'local',
  stack: 'test',
  dryRun: false,
  log: { info: () => undefined, warn: () => undefined },
  signal: new AbortController().signal,
}
const options = { allowDestructive: false, maxBackupAgeMinutes: 30 }

const destructiveStatus = async (command: OpsCommand): Promise<OpsResult> =>
  command.name === 'migration-status'
    ? {
        exitCode: 0,
        output: [],
        result: {
          applied: ['0001_init'],
          pending: [
            {
              name: '0002_drop',
              verdict: 'destructive',
              findings: [{ statement: 'DROP TABLE "Contact"', reason: 'drops a table' }],
            },
          ],
        },
      }
    : okOps(command)

describe('migrate verb', () => {
  it('backs up, verifies, reads the verdicts, then migrates with the image', async () => {
    const { target, calls } = scripted({ current: SERVING })
    const result = await migrateThroughTarget(target, SERVING, ctx, options)
    expect(result).toMatchObject({ ok: true, backupId: 'bk-1', applied: ['0002_add_index'] })
    expect(calls).toEqual(['ops backup', 'ops verify-backup', 'ops migration-status', 'ops migrate'])
  })

  it('never migrates when the backup fails verification', async () => {
    const { target, calls } = scripted({
      ops: async (command) =>
        command.name === 'verify-backup'
          ? { exitCode: 1, output: ['row counts differ'], result: { verified: false } }
          : okOps(command),
    })
    const result = await migrateThroughTarget(target, SERVING, ctx, options)
    expect(result).toMatchObject({ ok: false, summary: 'backup bk-1 failed verification' })
    expect(calls).not.toContain('ops migrate')
  })

  it('refuses a destructive migration unless allowed, naming the statement', async () => {
    const refused = scripted({ ops: destructiveStatus })
    const result = await migrateThroughTarget(refused.target, SERVING, ctx, options)
    expect(result.ok).toBe(false)
    expect(result.summary).toMatch(/0002_drop needs --allow-destructive: drops a table: DROP TABLE "Contact"/)
    expect(refused.calls).not.toContain('ops migrate')

    const allowed = scripted({ ops: destructiveStatus })
    const done = await migrateThroughTarget(allowed.target, SERVING, ctx, {
      ...options,
      allowDestructive: true,
    })
    expect(done.ok).toBe(true)
    expect(allowed.calls.at(-1)).toBe('ops migrate')
  })
})
