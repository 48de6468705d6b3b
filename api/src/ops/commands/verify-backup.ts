import { compareRowCounts, fetchVerifiedArchive, resolveBackupId } from '../backup-archive.js'
import type { BackupManifest } from '../backup-manifest.js'
import type { BackupStore } from '../backup-store.js'
import { countRows, withClient } from '../database-inventory.js'
import { type DatabaseTarget, withDatabase } from '../database-target.js'
import { OpsError } from '../ops-errors.js'
import type { OpsLog } from '../output.js'
import { pgRestoreBinary, runPgRestore } from '../postgres-client-tools.js'

export interface VerifyBackupOptions {
  target: DatabaseTarget
  store: BackupStore
  log: OpsLog
  /** A backup id or `latest`. */
  backup: string | undefined
  workDir: string
  jobs: number
  now?: () => Date
}

/** Name of the throwaway database a backup is restored into; a valid identifier below 63 bytes. */
export function scratchDatabaseName(backupId: string): string {
  return `ops_verify_${backupId.toLowerCase().replace(/[^a-z0-9]/g, '_')}`.slice(0, 63)
}

/**
 * Proves a backup restores: checksum, restore into a scratch database on the same server, row
 * counts equal to the manifest. The scratch database is always dropped. On success the manifest
 * records verifiedAt, which `migrate` requires.
 */
export async function verifyBackup(options: VerifyBackupOptions): Promise<BackupManifest> {
  const { target, store, log, now = () => new Date() } = options
  const pgRestore = pgRestoreBinary()
  const id = await resolveBackupId(store, options.backup)
  const manifest = await store.readManifest(id)
  const started = now()
  log.info(`verify ${id}: downloading from ${store.location} and checking sha256`)
  const archive = await fetchVerifiedArchive(store, manifest, options.workDir)

  const scratch = withDatabase(target, scratchDatabaseName(id))
  try {
    await withClient(target, async (client) => {
      const name = client.escapeIdentifier(scratch.name)
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`)
    })
    log.info(`verify ${id}: checksum ok, restoring into scratch database ${scratch.name}`)
    await runPgRestore(pgRestore, scratch, archive.file, { jobs: options.jobs })
    const actual = await withClient(scratch, countRows)
    const differences = compareRowCounts(manifest.rowCounts, actual)
    if (differences.length > 0) {
      const shown = differences
        .slice(0, 5)
        .map((d) => `${d.table} expected ${d.expected ?? 'absent'} got ${d.actual ?? 'absent'}`)
        .join('; ')
      throw new OpsError(`verify ${id}: row counts differ from the manifest: ${shown}`, { differences })
    }
  } finally {
    await archive.remove()
    await withClient(target, (client) =>
      client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(scratch.name)} WITH (FORCE)`),
    ).catch((error: Error) => log.info(`verify ${id}: could not drop ${scratch.name}: ${error.message}`))
  }

  const finished = now()
  const verified: BackupManifest = {
    ...manifest,
    verifiedAt: finished.toISOString(),
    verification: {
      scratchDatabase: scratch.name,
      durationMs: finished.getTime() - started.getTime(),
      tablesCompared: Object.keys(manifest.rowCounts).length,
    },
  }
  await store.writeManifest(verified)
  log.info(
    `verify ${id}: ${Object.keys(manifest.rowCounts).length} tables match the manifest; marked verified`,
  )
  return verified
}
