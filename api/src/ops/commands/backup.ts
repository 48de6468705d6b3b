import { newBackupId } from '../backup-id.js'
import type { BackupManifest } from '../backup-manifest.js'
import type { BackupStore } from '../backup-store.js'
import { ChecksumStream } from '../checksum-stream.js'
import { countRows, readAppliedMigrations, serverVersion, withClient } from '../database-inventory.js'
import { type DatabaseTarget, describeDatabase } from '../database-target.js'
import type { OpsLog } from '../output.js'
import { clientVersion, pgDumpBinary, startPgDump } from '../postgres-client-tools.js'

export interface BackupOptions {
  target: DatabaseTarget
  store: BackupStore
  log: OpsLog
  now?: () => Date
}

/**
 * Dumps the database into the store and writes its manifest. Row counts and migration state are
 * read inside a REPEATABLE READ transaction whose snapshot pg_dump then dumps (`--snapshot`), so
 * the manifest describes exactly what the dump holds even while the service keeps writing.
 */
export async function backupDatabase({
  target,
  store,
  log,
  now = () => new Date(),
}: BackupOptions): Promise<BackupManifest> {
  const pgDump = pgDumpBinary()
  const pgDumpVersion = await clientVersion(pgDump)
  const started = now()
  const id = newBackupId(started)
  log.info(`backup ${id}: dumping ${describeDatabase(target)} to ${store.location}`)

  return withClient(target, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot')
    const snapshot = rows[0]!.snapshot
    const rowCounts = await countRows(client)
    const migrations = await readAppliedMigrations(client)
    const server = await serverVersion(client)

    const dump = startPgDump(pgDump, target, { snapshot })
    const checksum = new ChecksumStream()
    const [{ object }] = await Promise.all([store.putDump(id, dump.archive.pipe(checksum)), dump.finished])
    await client.query('COMMIT')

    const completed = now()
    const manifest: BackupManifest = {
      formatVersion: 1,
      id,
      database: { name: target.name, host: target.host, port: target.port },
      dumpObject: object,
      format: 'pg_dump-custom',
      sizeBytes: checksum.bytes,
      sha256: checksum.digest(),
      rowCounts,
      migrations,
      pgVersion: { server, pgDump: pgDumpVersion },
      createdAt: started.toISOString(),
      completedAt: completed.toISOString(),
      durationMs: completed.getTime() - started.getTime(),
      verifiedAt: null,
      verification: null,
    }
    await store.writeManifest(manifest)
    const totalRows = Object.values(rowCounts).reduce((a, b) => a + b, 0)
    log.info(
      `backup ${id}: ${manifest.sizeBytes} bytes, ${Object.keys(rowCounts).length} tables, ${totalRows} rows, sha256 ${manifest.sha256}`,
    )
    return manifest
  })
}
