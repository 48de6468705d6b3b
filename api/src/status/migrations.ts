import { readdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Db } from '../db/prisma.js'

/** api/prisma/migrations, found the same way from src/ (tsx) and dist/ (compiled). */
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../prisma/migrations')

/** Names of the migrations shipped with this build, in the order Prisma applies them. */
export function shippedMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
}

export interface MigrationState {
  applied: string[]
  pending: string[]
  /** Applied in the database but absent from this build (a newer version migrated the database). */
  unknown: string[]
}

export async function migrationState(db: Db, dir = MIGRATIONS_DIR): Promise<MigrationState> {
  const shipped = shippedMigrations(dir)
  const rows = await db.$queryRaw<{ migration_name: string }[]>`
    SELECT migration_name FROM _prisma_migrations
    WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
    ORDER BY migration_name`
  const applied = rows.map((row) => row.migration_name)
  const appliedSet = new Set(applied)
  const shippedSet = new Set(shipped)
  return {
    applied,
    pending: shipped.filter((name) => !appliedSet.has(name)),
    unknown: applied.filter((name) => !shippedSet.has(name)),
  }
}
