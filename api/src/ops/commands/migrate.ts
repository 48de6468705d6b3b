import type { BackupManifest } from '../backup-manifest.js'
import type { BackupStore } from '../backup-store.js'
import { type DatabaseTarget, describeDatabase } from '../database-target.js'
import { analyzeMigrations } from '../migration-safety.js'
import { readMigrationState } from '../migration-state.js'
import { OpsError } from '../ops-errors.js'
import type { OpsLog } from '../output.js'
import { runPrismaMigrateDeploy } from '../prisma-migrations.js'

export interface MigrateOptions {
  target: DatabaseTarget
  store: BackupStore
  log: OpsLog
  maxBackupAgeMinutes: number
  allowDestructive: boolean
  prismaConfig: string
  migrationsDir: string
  /** How the restore command is written in messages (the image runs `node dist/ops/main.js`). */
  opsCommand: string
  deployTimeoutMs?: number
  now?: () => Date
}

export interface MigrateOutcome {
  backupId: string
  applied: string[]
  restoreCommand: string
}

const sameDatabase = (m: BackupManifest, t: DatabaseTarget) =>
  m.database.name === t.name && m.database.host === t.host && m.database.port === t.port

/**
 * The backup that makes a migration safe to run: the newest verified backup of this very
 * database, no older than the limit. Refuses with the reason otherwise.
 */
export async function requireFreshVerifiedBackup(
  store: BackupStore,
  target: DatabaseTarget,
  maxAgeMinutes: number,
  now: Date,
): Promise<BackupManifest> {
  const manifests: BackupManifest[] = []
  for (const id of (await store.list()).reverse()) {
    const manifest = await store.readManifest(id)
    if (sameDatabase(manifest, target)) manifests.push(manifest)
  }
  const where = `${describeDatabase(target)} in ${store.location}`
  if (manifests.length === 0)
    throw new OpsError(`refusing to migrate: no backup of ${where}; run backup, then verify-backup`)
  const verified = manifests.find((m) => m.verifiedAt)
  if (!verified) {
    throw new OpsError(
      `refusing to migrate: backup ${manifests[0]!.id} is not verified; run verify-backup --backup ${manifests[0]!.id}`,
    )
  }
  const ageMinutes = (now.getTime() - Date.parse(verified.createdAt)) / 60_000
  if (ageMinutes > maxAgeMinutes) {
    throw new OpsError(
      `refusing to migrate: the newest verified backup ${verified.id} is ${ageMinutes.toFixed(1)} minutes old (limit ${maxAgeMinutes}); take a new backup and verify it`,
    )
  }
  return verified
}

/**
 * Applies pending migrations behind the safety rules: a fresh verified backup, no destructive
 * migration without explicit approval, and afterwards every migration on disk recorded as
 * applied. On failure the message carries the exact command that restores the backup.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateOutcome> {
  const { target, store, log, now = () => new Date() } = options
  const backup = await requireFreshVerifiedBackup(store, target, options.maxBackupAgeMinutes, now())
  const restoreCommand = `${options.opsCommand} restore --backup ${backup.id} --force`
  log.info(`migrate: verified backup ${backup.id} (${backup.createdAt}) covers ${describeDatabase(target)}`)

  const before = await readMigrationState(target, options.migrationsDir)
  if (before.failed.length > 0) {
    throw new OpsError(
      `refusing to migrate: migration ${before.failed.join(', ')} failed earlier; restore first: ${restoreCommand}`,
      { backupId: backup.id, restoreCommand },
    )
  }
  // A backup taken before earlier migrations ran would, once restored, silently undo them too.
  const finishedAtBackup = new Set(
    backup.migrations.applied.filter((m) => m.finishedAt && !m.rolledBackAt).map((m) => m.name),
  )
  const newerThanBackup = before.applied.filter((name) => !finishedAtBackup.has(name))
  if (newerThanBackup.length > 0) {
    throw new OpsError(
      `refusing to migrate: backup ${backup.id} predates migration ${newerThanBackup.join(', ')}; take a new backup and verify it`,
      { backupId: backup.id },
    )
  }
  const verdicts = await analyzeMigrations(before.pending)
  const destructive = verdicts.filter((v) => v.verdict === 'destructive')
  if (destructive.length > 0 && !options.allowDestructive) {
    for (const v of destructive)
      for (const f of v.findings) log.info(`${v.migration}: ${f.rule}: ${f.statement}`)
    throw new OpsError(
      `refusing to migrate: ${destructive.map((v) => v.migration).join(', ')} ${destructive.length === 1 ? 'is' : 'are'} destructive; pass --allow-destructive to approve`,
      { backupId: backup.id, destructive: destructive.map((v) => v.migration) },
    )
  }
  if (before.pending.length === 0) {
    log.info('migrate: no pending migrations')
    return { backupId: backup.id, applied: [], restoreCommand }
  }

  log.info(`migrate: applying ${before.pending.map((m) => m.name).join(', ')}`)
  const deploy = await runPrismaMigrateDeploy({
    configPath: options.prismaConfig,
    databaseUrl: target.url,
    ...(target.caFile ? { databaseCaFile: target.caFile } : {}),
    onLine: (line) => log.info(`prisma: ${line}`),
    timeoutMs: options.deployTimeoutMs ?? 30 * 60_000,
  })

  const after = await readMigrationState(target, options.migrationsDir)
  if (!deploy.ok || after.pending.length > 0 || after.failed.length > 0) {
    const notApplied = after.pending.map((m) => m.name)
    throw new OpsError(
      `migration failed (${notApplied.join(', ') || 'prisma migrate deploy exited with an error'}); restore the backup with: ${restoreCommand}`,
      { backupId: backup.id, restoreCommand, notApplied, failed: after.failed },
    )
  }
  const applied = before.pending.map((m) => m.name)
  log.info(`migrate: applied ${applied.length} migration(s); all ${after.applied.length} on disk are applied`)
  return { backupId: backup.id, applied, restoreCommand }
}
