import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { sha256Hex } from '../../src/crypto/digest.js'
import { MIGRATIONS_DIR, shippedMigrations } from '../../src/status/migrations.js'

// Same table Prisma creates, so `prisma migrate status/deploy` and /api/v1/status read our bookkeeping.
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`

/**
 * Applies the migration.sql files in order with plain pg and records each one like Prisma does
 * (checksum = sha256 of the file). `prisma migrate deploy` does the same but lingers ~10 s per run.
 * Returns the names applied.
 */
export async function applyMigrations(
  databaseUrl: string,
  options: { dir?: string; only?: string[] } = {},
): Promise<string[]> {
  const dir = options.dir ?? MIGRATIONS_DIR
  const names = options.only ?? shippedMigrations(dir)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(MIGRATIONS_TABLE)
    const done = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    )
    const applied = new Set(done.rows.map((row) => row.migration_name))
    const ran: string[] = []
    for (const name of names) {
      if (applied.has(name)) continue
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8')
      await client.query('BEGIN')
      await client.query(sql)
      await client.query(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
         VALUES ($1, $2, now(), $3, now(), 1)`,
        [randomUUID(), sha256Hex(sql), name],
      )
      await client.query('COMMIT')
      ran.push(name)
    }
    return ran
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    await client.end()
  }
}
