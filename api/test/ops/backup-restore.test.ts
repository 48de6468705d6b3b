import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import { scratchDatabaseName } from '../../src/ops/commands/verify-backup.js'
import {
  createTinySchema,
  type OpsTestDatabase,
  runCli,
  startOpsTestDatabase,
  tempDir,
} from './ops-harness.js'

const PASSWORD = 'Sup3r-Secret-pw'

describe('backup, verify-backup and restore against a real PostgreSQL', () => {
  let db: OpsTestDatabase
  let store: ReturnType<typeof tempDir>
  let sourceUrl: string
  let env: Record<string, string>

  beforeAll(async () => {
    db = await startOpsTestDatabase()
    store = tempDir('wa-ops-store-')
    sourceUrl = await db.createDatabase({ password: PASSWORD })
    await createTinySchema(db, sourceUrl, 2_000)
    env = { DATABASE_URL: sourceUrl, BACKUP_STORE: pathToFileURL(store.dir).href, OPS_RESTORE_JOBS: '2' }
  })

  afterAll(async () => {
    await db?.stop()
    store?.remove()
  })

  const readManifest = (id: string) =>
    JSON.parse(readFileSync(join(store.dir, `${id}.manifest.json`), 'utf8')) as BackupManifest

  it('backs up, verifies in a scratch database and restores with equal row counts', async () => {
    const backup = await runCli(['backup'], env)
    expect(backup.exitCode).toBe(0)
    expect(backup.stdout).toHaveLength(1)
    const id = backup.result.backupId as string
    expect(id).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/)

    const manifest = readManifest(id)
    expect(manifest.rowCounts).toEqual({ 'public.message': 2_000, 'public.organization': 3 })
    expect(manifest.database.name).toBe(new URL(sourceUrl).pathname.slice(1))
    expect(manifest.pgVersion.server).toMatch(/^15\./)
    expect(manifest.verifiedAt).toBeNull()
    const dump = readFileSync(join(store.dir, manifest.dumpObject))
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP')
    expect(manifest.sizeBytes).toBe(dump.length)
    expect(manifest.sha256).toBe(createHash('sha256').update(dump).digest('hex'))

    const verify = await runCli(['verify-backup', '--backup', 'latest'], env)
    expect(verify.exitCode).toBe(0)
    expect(verify.result).toMatchObject({ ok: true, backupId: id, checksumOk: true, tablesCompared: 2 })
    expect(readManifest(id).verifiedAt).toEqual(verify.result.verifiedAt)
    expect(await db.databases()).not.toContain(scratchDatabaseName(id))

    const emptyUrl = await db.createDatabase({ password: PASSWORD })
    const restore = await runCli(['restore', '--backup', id], { ...env, DATABASE_URL: emptyUrl })
    expect(restore.exitCode).toBe(0)
    expect(restore.result).toMatchObject({ ok: true, backupId: id, replacedRelations: 0, rows: 2_003 })
    const [restored] = await db.query<{ n: string; sum: string }>(
      emptyUrl,
      'SELECT count(*) AS n, sum(length(body)) AS sum FROM message',
    )
    const [original] = await db.query<{ n: string; sum: string }>(
      sourceUrl,
      'SELECT count(*) AS n, sum(length(body)) AS sum FROM message',
    )
    expect(restored).toEqual(original)

    // The password of DATABASE_URL never leaves the process.
    for (const run of [backup, verify, restore]) {
      expect([...run.stderr, ...run.stdout].join('\n')).not.toContain(PASSWORD)
    }
  })

  it('refuses to restore into a non-empty database without --force, and replaces it with --force', async () => {
    const backup = await runCli(['backup'], env)
    const id = backup.result.backupId as string
    const targetUrl = await db.createDatabase()
    await db.query(targetUrl, 'CREATE TABLE leftover (x int); INSERT INTO leftover VALUES (42)')

    const refused = await runCli(['restore', '--backup', id], { ...env, DATABASE_URL: targetUrl })
    expect(refused.exitCode).toBe(1)
    expect(refused.result).toMatchObject({ ok: false, command: 'restore' })
    expect(refused.result.error).toMatch(/not empty.*--force/)
    expect(await db.query(targetUrl, 'SELECT x FROM leftover')).toEqual([{ x: 42 }])

    const forced = await runCli(['restore', '--backup', id, '--force'], { ...env, DATABASE_URL: targetUrl })
    expect(forced.exitCode).toBe(0)
    expect(forced.result.replacedRelations).toBe(1)
    const tables = await db.query<{ tablename: string }>(
      targetUrl,
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    )
    expect(tables.map((t) => t.tablename)).toEqual(['message', 'organization'])
    const [count] = await db.query<{ n: string }>(targetUrl, 'SELECT count(*) AS n FROM message')
    expect(Number(count?.n)).toBe(2_000)
  })

  it('records row counts of the exact snapshot it dumps while the service keeps writing', async () => {
    const url = await db.createDatabase()
    await createTinySchema(db, url, 5_000)
    const writer = new pg.Client({ connectionString: url })
    await writer.connect()
    let writing = true
    let inserted = 0
    // Bounded writer: at most 20,000 single-row inserts, stopped as soon as the backup returns.
    const writes = (async () => {
      while (writing && inserted < 20_000) {
        await writer.query(`INSERT INTO message (organization_id, body) VALUES (1, 'concurrent')`)
        inserted += 1
      }
    })()
    const backup = await runCli(['backup'], { ...env, DATABASE_URL: url })
    writing = false
    await writes
    await writer.end()
    expect(backup.exitCode).toBe(0)
    expect(inserted).toBeGreaterThan(0)

    const verify = await runCli(['verify-backup', '--backup', backup.result.backupId as string], {
      ...env,
      DATABASE_URL: url,
    })
    expect(verify.result.error ?? null).toBeNull()
    expect(verify.exitCode).toBe(0)
  })

  it('rejects a corrupted dump on verify and leaves the backup unverified', async () => {
    const backup = await runCli(['backup'], env)
    const id = backup.result.backupId as string
    const dumpFile = join(store.dir, `${id}.dump`)
    const bytes = readFileSync(dumpFile)
    bytes[bytes.length - 10] = (bytes[bytes.length - 10]! + 1) % 256
    writeFileSync(dumpFile, bytes)

    const verify = await runCli(['verify-backup', '--backup', id], env)
    expect(verify.exitCode).toBe(1)
    expect(verify.result.error).toMatch(/corrupted: sha256/)
    expect(readManifest(id).verifiedAt).toBeNull()

    // Restore checks the checksum before touching the database, even with --force.
    const targetUrl = await db.createDatabase()
    await db.query(targetUrl, 'CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (7)')
    const restore = await runCli(['restore', '--backup', id, '--force'], { ...env, DATABASE_URL: targetUrl })
    expect(restore.exitCode).toBe(1)
    expect(restore.result.error).toMatch(/corrupted: sha256/)
    expect(await db.query(targetUrl, 'SELECT x FROM keep_me')).toEqual([{ x: 7 }])
  })

  it('fails with one line for an unknown backup, a missing flag and a missing BACKUP_STORE', async () => {
    const unknown = await runCli(['verify-backup', '--backup', '20000101T000000000Z-000000'], env)
    expect(unknown.exitCode).toBe(1)
    expect(unknown.result.error).toMatch(/backup 20000101T000000000Z-000000 not found in file:\/\//)

    const missingFlag = await runCli(['restore'], env)
    expect(missingFlag.result.error).toBe('missing --backup <id|latest>')

    const noStore = await runCli(['backup'], { DATABASE_URL: sourceUrl })
    expect(noStore.exitCode).toBe(1)
    expect(noStore.result.error).toMatch(/^BACKUP_STORE is not set/)

    const badCommand = await runCli(['frobnicate'], env)
    expect(badCommand.exitCode).toBe(1)
    expect(badCommand.result).toEqual({
      command: 'frobnicate',
      ok: false,
      error: 'unknown command "frobnicate"',
    })
  })
})
