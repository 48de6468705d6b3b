import { compareRowCounts, fetchVerifiedArchive, resolveBackupId } from '../backup-archive.js'
import type { BackupManifest } from '../backup-manifest.js'
import type { BackupStore } from '../backup-store.js'
import { countRows, countUserRelations, withClient } from '../database-inventory.js'
import { type DatabaseTarget, describeDatabase } from '../database-target.js'
import { OpsError } from '../ops-errors.js'
import type { OpsLog } from '../output.js'
import { pgRestoreBinary, runPgRestore } from '../postgres-client-tools.js'

export interface RestoreOptions {
  target: DatabaseTarget
  store: BackupStore
  log: OpsLog
  backup: string | undefined
  /** Replace the content of a non-empty database. */
  force: boolean
  workDir: string
  jobs: number
}

export interface RestoreOutcome {
  manifest: BackupManifest
  /** Relations found (and dropped, with force) before the restore. */
  replacedRelations: number
}

// How long dropping the old content may wait for locks held by running clients before failing
// with a clear error instead of hanging the restore.
const LOCK_TIMEOUT = '60s'

/**
 * Restores a backup into DATABASE_URL's database. The dump's checksum is checked before the
 * database is touched; a non-empty database is only replaced with `force`, by dropping every user
 * schema (so tables a failed migration added do not survive) and restoring into a clean `public`.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreOutcome> {
  const { target, store, log } = options
  const pgRestore = pgRestoreBinary()
  const id = await resolveBackupId(store, options.backup)
  const manifest = await store.readManifest(id)

  const relations = await withClient(target, countUserRelations)
  if (relations > 0 && !options.force) {
    throw new OpsError(
      `refusing to restore into ${describeDatabase(target)}: it is not empty (${relations} relations); pass --force to replace its content with backup ${id}`,
      { relations },
    )
  }

  log.info(`restore ${id}: downloading from ${store.location} and checking sha256`)
  const archive = await fetchVerifiedArchive(store, manifest, options.workDir)
  try {
    if (relations > 0) {
      log.info(`restore ${id}: --force: dropping the current content of ${describeDatabase(target)}`)
      await withClient(target, async (client) => {
        await client.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`)
        const { rows } = await client.query<{ name: string }>(`
          SELECT nspname AS name FROM pg_namespace
          WHERE nspname NOT IN ('pg_catalog', 'information_schema')
            AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'`)
        await client.query('BEGIN')
        for (const { name } of rows)
          await client.query(`DROP SCHEMA ${client.escapeIdentifier(name)} CASCADE`)
        await client.query('CREATE SCHEMA public')
        await client.query('COMMIT')
      })
    }
    log.info(`restore ${id}: restoring into ${describeDatabase(target)} with ${options.jobs} jobs`)
    await runPgRestore(pgRestore, target, archive.file, { jobs: options.jobs })
  } finally {
    await archive.remove()
  }

  const differences = compareRowCounts(manifest.rowCounts, await withClient(target, countRows))
  if (differences.length > 0) {
    throw new OpsError(`restore ${id}: row counts after restore differ from the manifest`, { differences })
  }
  log.info(`restore ${id}: done, ${Object.keys(manifest.rowCounts).length} tables match the manifest`)
  return { manifest, replacedRelations: relations }
}
