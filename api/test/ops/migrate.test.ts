import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from '../../src/ops/prisma-migrations.js'
import { createMigrationWorkspace, type MigrationWorkspace } from './migration-workspace.js'
import { type OpsTestDatabase, runCli, startOpsTestDatabase, tempDir } from './ops-harness.js'

const CREATE_CONTACT = `-- CreateTable
CREATE TABLE "Contact" ("id" TEXT NOT NULL, "phone" TEXT NOT NULL, CONSTRAINT "Contact_pkey" PRIMARY KEY ("id"));
`
const ADD_NOTE = `-- AlterTable
ALTER TABLE "Contact" ADD COLUMN "note" TEXT;
`
const BROKEN = `-- AlterTable
ALTER TABLE "DoesNotExist" ADD COLUMN "x" INTEGER;
`
const DROP_PHONE = `-- AlterTable
ALTER TABLE "Contact" DROP COLUMN "phone";
`

// Every migrate starts the Prisma CLI, which needs several seconds to load its TypeScript config
// on a busy 2-core machine: these tests get a generous bound instead of the default 60 s.
const PRISMA_BOUND_MS = 240_000

describe('migrate and migration-status', { timeout: PRISMA_BOUND_MS }, () => {
  let db: OpsTestDatabase
  let store: ReturnType<typeof tempDir>
  let workspace: MigrationWorkspace

  beforeAll(async () => {
    db = await startOpsTestDatabase()
  })
  afterAll(async () => {
    await db?.stop()
  })
  afterEach(() => {
    workspace?.remove()
    store?.remove()
  })

  /** A database with the first migration applied, a store, and flags pointing at the workspace. */
  async function setUp() {
    store = tempDir('wa-ops-store-')
    workspace = createMigrationWorkspace()
    const url = await db.createDatabase()
    const env = { DATABASE_URL: url, BACKUP_STORE: pathToFileURL(store.dir).href }
    const flags = ['--prisma-config', workspace.configPath, '--migrations-dir', workspace.migrationsDir]
    return { url, env, flags }
  }

  async function backedUpAndVerified(env: Record<string, string>): Promise<string> {
    const backup = await runCli(['backup'], env)
    expect(backup.exitCode).toBe(0)
    const verify = await runCli(['verify-backup', '--backup', backup.result.backupId as string], env)
    expect(verify.exitCode).toBe(0)
    return backup.result.backupId as string
  }

  it('refuses without a backup, with an unverified one and with a stale one', async () => {
    const { env, flags } = await setUp()
    workspace.addMigration('20260101000000_contact', CREATE_CONTACT)

    const none = await runCli(['migrate', ...flags], env)
    expect(none.exitCode).toBe(1)
    expect(none.result.error).toMatch(/^refusing to migrate: no backup of /)

    const backup = await runCli(['backup'], env)
    const id = backup.result.backupId as string
    const unverified = await runCli(['migrate', ...flags], env)
    expect(unverified.exitCode).toBe(1)
    expect(unverified.result.error).toBe(
      `refusing to migrate: backup ${id} is not verified; run verify-backup --backup ${id}`,
    )

    expect((await runCli(['verify-backup', '--backup', id], env)).exitCode).toBe(0)
    const manifestFile = join(store.dir, `${id}.manifest.json`)
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as BackupManifest
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString()
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, createdAt: twoHoursAgo }))
    const stale = await runCli(['migrate', ...flags], { ...env, MIGRATE_MAX_BACKUP_AGE_MINUTES: '30' })
    expect(stale.exitCode).toBe(1)
    expect(stale.result.error).toMatch(
      new RegExp(
        `^refusing to migrate: the newest verified backup ${id} is 1[12]\\d\\.\\d minutes old \\(limit 30\\)`,
      ),
    )
    // --max-backup-age overrides the environment.
    const tolerant = await runCli(['migration-status', ...flags], env)
    expect(tolerant.result.pending).toHaveLength(1)
    const allowed = await runCli(['migrate', ...flags, '--max-backup-age', '180'], env)
    expect(allowed.exitCode).toBe(0)
    expect(allowed.result.applied).toEqual(['20260101000000_contact'])
  })

  it('applies pending migrations, reports them, and reports nothing pending afterwards', async () => {
    const { url, env, flags } = await setUp()
    workspace.addMigration('20260101000000_contact', CREATE_CONTACT)
    workspace.addMigration('20260102000000_note', ADD_NOTE)
    const id = await backedUpAndVerified(env)

    const status = await runCli(['migration-status', ...flags], env)
    expect(status.exitCode).toBe(0)
    expect(status.result).toMatchObject({ applied: [], destructive: false })
    expect((status.result.pending as { migration: string; verdict: string }[]).map((p) => p.verdict)).toEqual(
      ['safe', 'safe'],
    )

    const migrated = await runCli(['migrate', ...flags], env)
    expect(migrated.exitCode).toBe(0)
    expect(migrated.result).toMatchObject({
      ok: true,
      backupId: id,
      applied: ['20260101000000_contact', '20260102000000_note'],
    })
    const rows = await db.query<{ migration_name: string }>(
      url,
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1',
    )
    expect(rows.map((r) => r.migration_name)).toEqual(['20260101000000_contact', '20260102000000_note'])
    expect(await db.query(url, 'SELECT id, phone, note FROM "Contact"')).toEqual([])

    const after = await runCli(['migration-status', ...flags], env)
    expect(after.result).toMatchObject({
      applied: ['20260101000000_contact', '20260102000000_note'],
      pending: [],
    })
  })

  it('prints the exact restore command when a migration fails, and that command restores', async () => {
    const { url, env, flags } = await setUp()
    workspace.addMigration('20260101000000_contact', CREATE_CONTACT)
    const id = await backedUpAndVerified(env)
    expect((await runCli(['migrate', ...flags], env)).exitCode).toBe(0)
    await db.query(url, `INSERT INTO "Contact" (id, phone) VALUES ('c1', '+15550001')`)

    const id2 = await backedUpAndVerified(env)
    expect(id2 > id).toBe(true)
    workspace.addMigration('20260102000000_note', ADD_NOTE)
    workspace.addMigration('20260103000000_broken', BROKEN)
    const failed = await runCli(['migrate', ...flags], env)
    expect(failed.exitCode).toBe(1)
    const restoreCommand = `node dist/ops/main.js restore --backup ${id2} --force`
    expect(failed.result).toMatchObject({ ok: false, backupId: id2, restoreCommand })
    expect(failed.result.error).toContain(restoreCommand)
    expect(failed.stderr.join('\n')).toContain(restoreCommand)

    // A later migrate refuses while the failed migration is recorded.
    const blocked = await runCli(['migrate', ...flags], env)
    expect(blocked.exitCode).toBe(1)
    expect(blocked.result.error).toMatch(/20260103000000_broken failed earlier; restore first/)

    const restored = await runCli(restoreCommand.split(' ').slice(2), env)
    expect(restored.result.error ?? null).toBeNull()
    expect(restored.exitCode).toBe(0)
    const applied = await db.query<{ migration_name: string }>(
      url,
      'SELECT migration_name FROM _prisma_migrations',
    )
    expect(applied.map((r) => r.migration_name)).toEqual(['20260101000000_contact'])
    const columns = await db.query<{ column_name: string }>(
      url,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'Contact' ORDER BY 1`,
    )
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'phone'])
    expect(await db.query(url, 'SELECT id FROM "Contact"')).toEqual([{ id: 'c1' }])
  })

  it('detects a destructive migration and runs it only with --allow-destructive', async () => {
    const { url, env, flags } = await setUp()
    workspace.addMigration('20260101000000_contact', CREATE_CONTACT)
    await backedUpAndVerified(env)
    expect((await runCli(['migrate', ...flags], env)).exitCode).toBe(0)
    workspace.addMigration('20260104000000_drop_phone', DROP_PHONE)

    // The backup taken before 20260101000000_contact ran no longer covers the database.
    const predates = await runCli(['migrate', ...flags, '--allow-destructive'], env)
    expect(predates.exitCode).toBe(1)
    expect(predates.result.error).toMatch(
      /^refusing to migrate: backup \S+ predates migration 20260101000000_contact;/,
    )

    const status = await runCli(['migration-status', ...flags], env)
    expect(status.result.destructive).toBe(true)
    expect(status.result.pending).toEqual([
      {
        migration: '20260104000000_drop_phone',
        verdict: 'destructive',
        findings: [
          {
            migration: '20260104000000_drop_phone',
            rule: 'drop-column',
            statement: 'ALTER TABLE "Contact" DROP COLUMN "phone"',
            message: 'drops column Contact.phone and its data',
          },
        ],
      },
    ])

    await backedUpAndVerified(env)
    const refused = await runCli(['migrate', ...flags], env)
    expect(refused.exitCode).toBe(1)
    expect(refused.result.error).toBe(
      'refusing to migrate: 20260104000000_drop_phone is destructive; pass --allow-destructive to approve',
    )
    const columns = await db.query(
      url,
      `SELECT 1 FROM information_schema.columns WHERE column_name = 'phone'`,
    )
    expect(columns).toHaveLength(1)

    const approved = await runCli(['migrate', ...flags, '--allow-destructive'], env)
    expect(approved.exitCode).toBe(0)
    expect(approved.result.applied).toEqual(['20260104000000_drop_phone'])
  })

  it("applies the service's real migrations to an empty database with the default config", async () => {
    store = tempDir('wa-ops-store-')
    const url = await db.createDatabase()
    const env = { DATABASE_URL: url, BACKUP_STORE: pathToFileURL(store.dir).href }
    await backedUpAndVerified(env)
    const shipped = (await readMigrationsDir(DEFAULT_MIGRATIONS_DIR)).map((m) => m.name)
    expect(shipped.length).toBeGreaterThan(0)

    const migrated = await runCli(['migrate'], env)
    expect(migrated.exitCode).toBe(0)
    expect(migrated.result.applied).toEqual(shipped)
    const status = await runCli(['migration-status'], env)
    expect(status.result).toMatchObject({ applied: shipped, pending: [], failed: [] })
  })
})
