import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres } from '@whatsapp-saas/local-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseOpsLine } from '../../src/core/ops-output.js'
import { offlineMigrationStatus, readAppliedOffline } from '../../src/local/offline-migration-state.js'
import { postgresPid } from '../../src/local/pid-probe.js'

// A dry run with the local database stopped: the migration state comes from the data directory itself.

let root: string
let dataDir: string
let releaseDir: string

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wa-offline-'))
  chmodSync(root, 0o755)
  dataDir = join(root, 'postgres')
  releaseDir = join(root, 'release')
  const migrations: Record<string, string> = {
    '20250101000000_init': 'CREATE TABLE "First" (id int)',
    '20250201000000_second': 'CREATE TABLE "Second" (id int)',
    '20250301000000_third': 'DROP TABLE "First"',
  }
  for (const [name, sql] of Object.entries(migrations)) {
    mkdirSync(join(releaseDir, 'prisma', 'migrations', name), { recursive: true })
    writeFileSync(join(releaseDir, 'prisma', 'migrations', name, 'migration.sql'), `${sql};\n`)
  }
  const server = await startPostgres({ dataDir, password: 'offline-test', tlsDir: join(root, 'tls') })
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query('CREATE DATABASE whatsapp')
  await admin.end()
  const db = new pg.Client({ connectionString: server.url('whatsapp') })
  await db.connect()
  await db.query(
    'CREATE TABLE _prisma_migrations (migration_name text, finished_at timestamptz, rolled_back_at timestamptz)',
  )
  await db.query(`INSERT INTO _prisma_migrations VALUES
    ('20250101000000_init', now(), NULL),
    ('20250201000000_second', NULL, NULL),
    ('20250301000000_third', now(), now())`)
  await db.end()
  await server.stop()
}, 60_000)

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('offline migration state', () => {
  it('reads the finished migrations of a stopped cluster and starts nothing', async () => {
    expect(postgresPid(dataDir)).toBeUndefined()
    expect(await readAppliedOffline(dataDir)).toEqual({ kind: 'applied', names: ['20250101000000_init'] })
    expect(postgresPid(dataDir)).toBeUndefined()
  })

  it('lists as pending only what the data directory does not record as applied', async () => {
    const status = await offlineMigrationStatus(dataDir, releaseDir)
    expect(status.exitCode).toBe(0)
    expect(status.result?.applied).toEqual(['20250101000000_init'])
    expect((status.result?.pending as { migration: string }[] | undefined)?.map((p) => p.migration)).toEqual([
      '20250201000000_second',
      '20250301000000_third',
    ])
    // The line the core reads with the one strict parser of the ops commands' output, with the service's
    // own verdicts: the dropped table makes the plan destructive.
    const line = parseOpsLine('migration-status', status.result)
    expect(line).toMatchObject({ ok: true, destructive: true })
    expect(line.ok && line.pending.map((p) => p.verdict)).toEqual(['safe', 'destructive'])
  })

  it('a database never created: everything pending', async () => {
    expect(await readAppliedOffline(dataDir, 'never_created')).toEqual({ kind: 'applied', names: [] })
    const fresh = await offlineMigrationStatus(join(root, 'no-cluster'), releaseDir)
    expect((fresh.result?.pending as unknown[] | undefined)?.length).toBe(3)
  })

  it('says unknown, never pending, when the data directory cannot be read', async () => {
    const broken = join(root, 'broken')
    mkdirSync(broken)
    // A data directory whose version file exists but whose cluster is missing.
    writeFileSync(join(broken, 'PG_VERSION'), '15\n')
    const status = await offlineMigrationStatus(broken, releaseDir)
    expect(status.exitCode).not.toBe(0)
    expect(status.result).toBeUndefined()
    expect(status.output.join(' ')).toMatch(/migration state unknown/)
  })
})
