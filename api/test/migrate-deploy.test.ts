import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type PostgresServer, startPostgres } from '@whatsapp-saas/local-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../src/crypto/digest.js'
import { createPrismaClient } from '../src/db/prisma.js'
import { MIGRATIONS_DIR, migrationState, shippedMigrations } from '../src/status/migrations.js'
import { applyMigrations } from './harness/index.js'

const run = promisify(execFile)
const apiDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const prismaCli = join(apiDir, '..', 'node_modules', '.bin', 'prisma')

let postgres: PostgresServer
beforeAll(async () => {
  postgres = await startPostgres()
  const client = new pg.Client({ connectionString: postgres.url() })
  await client.connect()
  await client.query('CREATE DATABASE by_cli')
  await client.query('CREATE DATABASE by_harness')
  await client.end()
})
afterAll(async () => {
  await postgres?.stop()
})

async function extensions(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const result = await client.query<{ extname: string }>('SELECT extname FROM pg_extension ORDER BY extname')
  await client.end()
  return result.rows.map((row) => row.extname)
}

async function tables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const result = await client.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  )
  await client.end()
  return result.rows.map((row) => row.table_name)
}

describe('migrations', () => {
  it('apply offline with the real `prisma migrate deploy` to an empty database, over verified TLS', {
    timeout: 240_000,
  }, async () => {
    // The URL as RDS's secret has it (sslmode=require, no CA in it) and the CA given the way the
    // service takes it on every target: the server accepts TLS connections only, so a config that
    // dropped sslmode would be refused.
    const url = `postgresql://postgres:${postgres.password}@127.0.0.1:${postgres.port}/by_cli?sslmode=require`
    const { stdout } = await run(prismaCli, ['migrate', 'deploy'], {
      cwd: apiDir,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: url, DATABASE_CA_FILE: postgres.caFile },
      timeout: 200_000,
    })
    expect(stdout).toContain('successfully applied')
    const prisma = createPrismaClient(url, { maxConnections: 1, caFile: postgres.caFile })
    try {
      const state = await migrationState(prisma)
      expect(state.pending).toEqual([])
      expect(state.applied).toEqual(shippedMigrations())
      const rows = await prisma.$queryRaw<{ migration_name: string; checksum: string }[]>`
        SELECT migration_name, checksum FROM _prisma_migrations`
      for (const row of rows)
        expect(row.checksum).toBe(
          sha256Hex(readFileSync(join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'), 'utf8')),
        )
    } finally {
      await prisma.$disconnect()
    }
    // The harness's fast path builds the same schema and the same bookkeeping.
    await applyMigrations(postgres.url('by_harness'))
    expect(await tables(postgres.url('by_harness'))).toEqual(await tables(postgres.url('by_cli')))
    // Created without being preloaded (the test server does not preload it): the migration applies anywhere.
    expect(await extensions(postgres.url('by_cli'))).toContain('pg_stat_statements')
    expect(await extensions(postgres.url('by_harness'))).toContain('pg_stat_statements')
    expect(await tables(postgres.url('by_cli'))).toEqual(
      expect.arrayContaining([
        'Organization',
        'ApiKey',
        'PhoneNumber',
        'Contact',
        'Conversation',
        'Message',
        'MessageStatusEvent',
        'InboundWebhook',
        'Template',
        'WebhookEndpoint',
        'WebhookDelivery',
        'DomainEvent',
        'AuditLog',
        '_prisma_migrations',
      ]),
    )
  })
})
