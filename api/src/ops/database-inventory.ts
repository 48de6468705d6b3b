import pg from 'pg'
import type { AppliedMigration } from './backup-manifest.js'
import { clientConfig, type DatabaseTarget } from './database-target.js'

// Queries that describe a database's content: what backup records in the manifest and what
// verification compares after a restore. They run on a caller's client so that the backup can
// read them inside the exact snapshot pg_dump dumps.

const USER_TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  ORDER BY 1, 2`

/** Exact row count of every user table, keyed `schema.table`. */
export async function countRows(client: pg.ClientBase): Promise<Record<string, number>> {
  const tables = await client.query<{ schema: string; name: string }>(USER_TABLES)
  const counts: Record<string, number> = {}
  for (const { schema, name } of tables.rows) {
    const sql = `SELECT count(*)::bigint AS n FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`
    const { rows } = await client.query<{ n: string }>(sql)
    counts[`${schema}.${name}`] = Number(rows[0]?.n ?? 0)
  }
  return counts
}

/** Number of relations (tables, views, sequences, ...) outside the system schemas. */
export async function countUserRelations(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`
    SELECT count(*)::bigint AS n
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`)
  return Number(rows[0]?.n ?? 0)
}

/** Rows of `_prisma_migrations`, or tablePresent=false on a database never migrated. */
export async function readAppliedMigrations(
  client: pg.ClientBase,
): Promise<{ tablePresent: boolean; applied: AppliedMigration[] }> {
  const exists = await client.query<{ present: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present`,
  )
  if (!exists.rows[0]?.present) return { tablePresent: false, applied: [] }
  const { rows } = await client.query<{
    migration_name: string
    finished_at: Date | null
    rolled_back_at: Date | null
    checksum: string
  }>(
    `SELECT migration_name, finished_at, rolled_back_at, checksum FROM _prisma_migrations ORDER BY started_at, migration_name`,
  )
  return {
    tablePresent: true,
    applied: rows.map((r) => ({
      name: r.migration_name,
      finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
      rolledBackAt: r.rolled_back_at ? r.rolled_back_at.toISOString() : null,
      checksum: r.checksum,
    })),
  }
}

export async function serverVersion(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
  return rows[0]?.server_version ?? 'unknown'
}

/** Runs fn with a connected client and always closes it. */
export async function withClient<T>(
  target: DatabaseTarget,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ ...clientConfig(target), application_name: 'whatsapp-saas-ops' })
  // A server that drops the connection must fail the command, not crash the process.
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}
