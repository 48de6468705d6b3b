import {
  backupIdOf,
  backupVerified,
  checkDestructive,
  GateError,
  parseMigrationStatus,
} from '../core/gates.js'
import type { Artifact, RunContext, Target } from '../core/types.js'

export interface MigrateVerbResult {
  ok: boolean
  summary: string
  backupId?: string
  applied?: unknown
}

/**
 * `migrate` on its own, through the target (ECS one-off tasks on AWS, processes locally), with the
 * pipeline's gates: a fresh backup verified first, destructive pending migrations refused unless
 * allowed, then the image's own `migrate`, which checks the backup again and applies.
 */
export async function migrateThroughTarget(
  target: Target,
  artifact: Artifact,
  ctx: RunContext,
  options: { allowDestructive: boolean; maxBackupAgeMinutes: number },
): Promise<MigrateVerbResult> {
  try {
    const backup = await target.runOps({ name: 'backup' }, artifact, ctx)
    if (backup.exitCode !== 0) return { ok: false, summary: `backup failed: ${backup.output.at(-1) ?? ''}` }
    const backupId = backupIdOf(backup)
    const verify = await target.runOps({ name: 'verify-backup', backupId }, artifact, ctx)
    if (!backupVerified(verify))
      return { ok: false, backupId, summary: `backup ${backupId} failed verification` }
    const plan = parseMigrationStatus(await target.runOps({ name: 'migration-status' }, artifact, ctx))
    checkDestructive(plan, options.allowDestructive)
    if (plan.pending.length === 0)
      return { ok: true, backupId, summary: `backup ${backupId}; no pending migrations` }
    const migrate = await target.runOps(
      {
        name: 'migrate',
        maxBackupAgeMinutes: options.maxBackupAgeMinutes,
        ...(options.allowDestructive ? { allowDestructive: true } : {}),
      },
      artifact,
      ctx,
    )
    const names = plan.pending.map((m) => m.name).join(', ')
    return migrate.exitCode === 0
      ? {
          ok: true,
          backupId,
          applied: plan.pending.map((m) => m.name),
          summary: `backup ${backupId}; applied ${names}`,
        }
      : { ok: false, backupId, summary: `migrate failed: ${migrate.output.at(-1) ?? ''}` }
  } catch (error) {
    if (error instanceof GateError) return { ok: false, summary: error.message }
    throw error
  }
}
