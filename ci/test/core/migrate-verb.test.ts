import { describe, expect, it } from 'vitest'
import { migrateThroughTarget } from '../../src/cli/migrate-verb.js'
import type { OpsCommand, OpsResult, RunContext } from '../../src/core/types.js'
import { destructiveStatus, okOps, opsFailure, SERVING, scripted } from './scripted.js'

const ctx: RunContext = {
  runId: 'test',
  target: 'local',
  stack: 'test',
  dryRun: false,
  log: { info: () => undefined, warn: () => undefined },
  signal: new AbortController().signal,
}
const options = { allowDestructive: false, maxBackupAgeMinutes: 30 }

const destructive = async (command: OpsCommand): Promise<OpsResult> =>
  command.name === 'migration-status'
    ? {
        exitCode: 0,
        output: [],
        result: destructiveStatus('0002_drop', 'drop-table', 'DROP TABLE "Contact"'),
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
          ? {
              exitCode: 1,
              output: [],
              result: opsFailure('verify-backup', 'verify bk-1: row counts differ from the manifest'),
            }
          : okOps(command),
    })
    const result = await migrateThroughTarget(target, SERVING, ctx, options)
    expect(result).toMatchObject({
      ok: false,
      backupId: 'bk-1',
      summary: 'backup bk-1 failed verification: verify bk-1: row counts differ from the manifest',
    })
    expect(calls).not.toContain('ops migrate')
  })

  it('refuses a destructive migration unless allowed, naming the statement', async () => {
    const refused = scripted({ ops: destructive })
    const result = await migrateThroughTarget(refused.target, SERVING, ctx, options)
    expect(result.ok).toBe(false)
    expect(result.summary).toMatch(/0002_drop needs --allow-destructive: drop-table: DROP TABLE "Contact"/)
    expect(refused.calls).not.toContain('ops migrate')

    const seen: OpsCommand[] = []
    const allowed = scripted({
      ops: async (command) => {
        seen.push(command)
        return destructive(command)
      },
    })
    const done = await migrateThroughTarget(allowed.target, SERVING, ctx, {
      ...options,
      allowDestructive: true,
    })
    expect(done.ok).toBe(true)
    expect(allowed.calls.at(-1)).toBe('ops migrate')
    expect(seen.at(-1)).toEqual({ name: 'migrate', maxBackupAgeMinutes: 30, allowDestructive: true })
  })

  it('reports a failed migration with the backup that restores the database', async () => {
    const { target } = scripted({
      ops: async (command) =>
        command.name === 'migrate'
          ? {
              exitCode: 1,
              output: ['prisma: error'],
              result: opsFailure('migrate', 'migration failed (0002_add_index)', {
                backupId: 'bk-1',
                restoreCommand: 'node dist/ops/main.js restore --backup bk-1 --force',
                notApplied: ['0002_add_index'],
                failed: ['0002_add_index'],
              }),
            }
          : okOps(command),
    })
    const result = await migrateThroughTarget(target, SERVING, ctx, options)
    expect(result.ok).toBe(false)
    expect(result.summary).toBe(
      'migration failed (exit 1): migration failed (0002_add_index); backup bk-1 restores the database',
    )
  })
})
