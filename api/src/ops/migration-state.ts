import { readAppliedMigrations, withClient } from './database-inventory.js'
import type { DatabaseTarget } from './database-target.js'
import type { MigrationSource } from './migration-safety.js'
import { readMigrationsDir } from './prisma-migrations.js'

export interface MigrationState {
  /** Migrations on disk that the database records as finished. */
  applied: string[]
  /** Migrations on disk not (successfully) applied yet, in order. */
  pending: MigrationSource[]
  /** Migrations the database records as started but neither finished nor rolled back. */
  failed: string[]
  /** Finished migrations the database knows but the directory does not (a newer version ran). */
  unknown: string[]
}

/** Compares the migrations directory with `_prisma_migrations`. */
export async function readMigrationState(
  target: DatabaseTarget,
  migrationsDir: string,
): Promise<MigrationState> {
  const onDisk = await readMigrationsDir(migrationsDir)
  const { applied: rows } = await withClient(target, readAppliedMigrations)
  const finished = new Set(rows.filter((r) => r.finishedAt && !r.rolledBackAt).map((r) => r.name))
  const failed = [...new Set(rows.filter((r) => !r.finishedAt && !r.rolledBackAt).map((r) => r.name))]
  const names = new Set(onDisk.map((m) => m.name))
  return {
    applied: onDisk.filter((m) => finished.has(m.name)).map((m) => m.name),
    pending: onDisk.filter((m) => !finished.has(m.name)),
    failed,
    unknown: [...finished].filter((n) => !names.has(n)).sort(),
  }
}
