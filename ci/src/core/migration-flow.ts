import { type Clock, systemClock } from './clock.js'
import {
  checkDestructive,
  GateError,
  type MigrationPlan,
  parseMigrationStatus,
  type SafetyFinding,
} from './gates.js'
import { type OpsLine, opsOutcome } from './ops-output.js'
import type { Artifact, OpsResult, RunContext, Target } from './types.js'

// The one way a schema changes, whoever asks (the pipeline's backup and migrate stages, the CLI's `migrate`,
// the AWS backup verbs): backup → verify that it restores → freshness gate → migrate, each step through the
// target's ops commands and read by the one strict parser.

export interface VerifiedBackup {
  id: string
  /** When the backup was taken, on the caller's clock: what the freshness gate measures. */
  takenAt: number
  backup: OpsLine<'backup'>
  verification: OpsLine<'verify-backup'>
}

/** The reason an ops run failed: its own error line when it printed one, else its last output. */
function failureText(run: OpsResult, error: string): string {
  return error || run.output.at(-1) || 'no output'
}

/** `backup`, then `verify-backup` of that backup (restored into a scratch database). */
export async function backupAndVerify(
  target: Target,
  artifact: Artifact,
  ctx: RunContext,
  clock: Pick<Clock, 'now'> = systemClock,
): Promise<VerifiedBackup> {
  const taken = await target.runOps({ name: 'backup' }, artifact, ctx)
  const backup = opsOutcome('backup', taken)
  if (!backup.ok)
    throw new GateError(
      `backup failed (exit ${taken.exitCode}): ${failureText(taken, backup.failure?.error ?? '')}`,
    )
  const id = backup.report.backupId
  const takenAt = clock.now()
  const verifying = await target.runOps({ name: 'verify-backup', backupId: id }, artifact, ctx)
  const verification = opsOutcome('verify-backup', verifying)
  if (!verification.ok) {
    throw new GateError(
      `backup ${id} failed verification: ${failureText(verifying, verification.failure?.error ?? '')}`,
      { backupId: id, ...(verification.failure ? { verification: verification.failure } : {}) },
    )
  }
  if (verification.report.backupId !== id)
    throw new GateError(`verify-backup verified ${verification.report.backupId}, not backup ${id}`)
  return { id, takenAt, backup: backup.report, verification: verification.report }
}

export interface MigrationOutcome {
  plan: MigrationPlan
  /** Destructive findings the operator allowed. */
  allowedDestructive: SafetyFinding[]
  /** `none-pending`: nothing to do; `planned`: a dry run stopped before applying; `applied`: migrated. */
  status: 'none-pending' | 'planned' | 'applied'
  migrated?: OpsLine<'migrate'>
}

export interface MigrateOptions {
  /** The verified backup of this run; migrations never run without one. */
  backup: VerifiedBackup | undefined
  allowDestructive: boolean
  maxBackupAgeMinutes: number
  dryRun?: boolean
  clock?: Pick<Clock, 'now'>
}

/**
 * The pending migrations' verdicts (destructive ones refused unless allowed), then, behind a verified backup
 * younger than the limit, the image's own `migrate` (which checks the backup again and applies).
 */
export async function migrateBehindBackup(
  target: Target,
  artifact: Artifact,
  ctx: RunContext,
  options: MigrateOptions,
): Promise<MigrationOutcome> {
  const plan = parseMigrationStatus(await target.runOps({ name: 'migration-status' }, artifact, ctx))
  const allowedDestructive = checkDestructive(plan, options.allowDestructive)
  if (plan.pending.length === 0) return { plan, allowedDestructive, status: 'none-pending' }
  if (options.dryRun) return { plan, allowedDestructive, status: 'planned' }
  // The backup was taken just before, but a slow verification or a paused run could have aged it.
  const { backup, maxBackupAgeMinutes } = options
  if (!backup) throw new GateError('no verified backup: migrations never run without one')
  const ageMinutes = ((options.clock ?? systemClock).now() - backup.takenAt) / 60_000
  if (ageMinutes > maxBackupAgeMinutes)
    throw new GateError(
      `backup ${backup.id} is ${ageMinutes.toFixed(1)} min old (limit ${maxBackupAgeMinutes} min)`,
    )
  const run = await target.runOps(
    {
      name: 'migrate',
      maxBackupAgeMinutes,
      ...(allowedDestructive.length > 0 ? { allowDestructive: true } : {}),
    },
    artifact,
    ctx,
  )
  const migrated = opsOutcome('migrate', run)
  if (!migrated.ok) {
    throw new GateError(
      `migration failed (exit ${run.exitCode}): ${failureText(run, migrated.failure?.error ?? '')}; backup ${backup.id} restores the database`,
      migrated.failure ? { failure: migrated.failure } : {},
    )
  }
  return { plan, allowedDestructive, status: 'applied', migrated: migrated.report }
}
