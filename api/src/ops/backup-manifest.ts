import { isBackupId } from './backup-id.js'

/** One migration recorded in `_prisma_migrations` at backup time. */
export interface AppliedMigration {
  name: string
  finishedAt: string | null
  rolledBackAt: string | null
  checksum: string
}

/** What a backup holds; written next to the dump once the dump is complete and checksummed. */
export interface BackupManifest {
  formatVersion: 1
  id: string
  /** Where the dump came from; never credentials. */
  database: { name: string; host: string; port: number }
  /** Object name of the dump inside the store (`<id>.dump`). */
  dumpObject: string
  format: 'pg_dump-custom'
  sizeBytes: number
  sha256: string
  /** `schema.table` -> exact row count, taken in the same snapshot pg_dump used. */
  rowCounts: Record<string, number>
  migrations: { tablePresent: boolean; applied: AppliedMigration[] }
  pgVersion: { server: string; pgDump: string }
  createdAt: string
  completedAt: string
  durationMs: number
  verifiedAt: string | null
  verification: { scratchDatabase: string; durationMs: number; tablesCompared: number } | null
}

/** Parses a manifest read from a store, refusing anything that is not one. */
export function parseManifest(text: string, source: string): BackupManifest {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error(`backup manifest ${source} is not valid JSON`)
  }
  const m = value as Partial<BackupManifest>
  if (
    m?.formatVersion !== 1 ||
    typeof m.id !== 'string' ||
    !isBackupId(m.id) ||
    typeof m.sha256 !== 'string' ||
    typeof m.sizeBytes !== 'number' ||
    typeof m.rowCounts !== 'object' ||
    typeof m.createdAt !== 'string' ||
    typeof m.dumpObject !== 'string'
  ) {
    throw new Error(`backup manifest ${source} is missing required fields`)
  }
  return m as BackupManifest
}
