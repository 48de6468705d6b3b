import type { DatabaseTarget } from '../database-target.js'
import { analyzeMigrations, type MigrationVerdict } from '../migration-safety.js'
import { readMigrationState } from '../migration-state.js'
import type { OpsLog } from '../output.js'

export interface MigrationStatusReport {
  applied: string[]
  pending: MigrationVerdict[]
  failed: string[]
  unknown: string[]
  destructive: boolean
}

/** Applied and pending migrations, each pending one with its safety verdict. */
export async function migrationStatus(options: {
  target: DatabaseTarget
  migrationsDir: string
  log: OpsLog
}): Promise<MigrationStatusReport> {
  const { log } = options
  const state = await readMigrationState(options.target, options.migrationsDir)
  const pending = await analyzeMigrations(state.pending)
  for (const name of state.applied) log.info(`applied  ${name}`)
  for (const name of state.failed) log.info(`FAILED   ${name} (recorded as started but never finished)`)
  for (const name of state.unknown)
    log.info(`unknown  ${name} (applied, but not in ${options.migrationsDir})`)
  for (const verdict of pending) {
    log.info(`pending  ${verdict.migration}: ${verdict.verdict}`)
    for (const f of verdict.findings)
      log.info(`         ${f.rule}: ${f.message}\n           > ${f.statement}`)
  }
  if (pending.length === 0) log.info('no pending migrations')
  return {
    applied: state.applied,
    pending,
    failed: state.failed,
    unknown: state.unknown,
    destructive: pending.some((p) => p.verdict === 'destructive'),
  }
}
