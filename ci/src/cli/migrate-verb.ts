import { GateError } from '../core/gates.js'
import { backupAndVerify, migrateBehindBackup } from '../core/migration-flow.js'
import type { Artifact, RunContext, Target } from '../core/types.js'

export interface MigrateVerbResult {
  ok: boolean
  summary: string
  backupId?: string
  applied?: unknown
}

/**
 * `migrate` on its own, through the target (ECS one-off tasks on AWS, processes locally), with the
 * pipeline's own flow: a fresh backup verified first, destructive pending migrations refused unless
 * allowed, the backup's age checked, then the image's own `migrate`, which checks the backup again.
 */
export async function migrateThroughTarget(
  target: Target,
  artifact: Artifact,
  ctx: RunContext,
  options: { allowDestructive: boolean; maxBackupAgeMinutes: number },
): Promise<MigrateVerbResult> {
  let backupId: string | undefined
  try {
    const backup = await backupAndVerify(target, artifact, ctx)
    backupId = backup.id
    const outcome = await migrateBehindBackup(target, artifact, ctx, { ...options, backup })
    if (outcome.status !== 'applied')
      return { ok: true, backupId, summary: `backup ${backupId}; no pending migrations` }
    const applied = outcome.plan.pending.map((m) => m.name)
    return { ok: true, backupId, applied, summary: `backup ${backupId}; applied ${applied.join(', ')}` }
  } catch (error) {
    if (error instanceof GateError) {
      const failed = backupId ?? error.details.backupId
      return {
        ok: false,
        ...(typeof failed === 'string' ? { backupId: failed } : {}),
        summary: error.message,
      }
    }
    throw error
  }
}
