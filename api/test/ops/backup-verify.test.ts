// `backup --verify`, the scheduled backup's command line: the dump is restored into a scratch database
// right after it is written, and a dump that cannot be verified fails the run (exit 1), which is what
// the alarm on the scheduled task watches.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackupManifest } from '../../src/ops/backup-manifest.js'
import {
  createTinySchema,
  type OpsTestDatabase,
  runCli,
  startOpsTestDatabase,
  tempDir,
} from './ops-harness.js'

describe('backup --verify against a real PostgreSQL', () => {
  let db: OpsTestDatabase
  let store: ReturnType<typeof tempDir>
  let sourceUrl: string

  beforeAll(async () => {
    db = await startOpsTestDatabase()
    store = tempDir('wa-ops-verify-')
    sourceUrl = await db.createDatabase()
    await createTinySchema(db, sourceUrl, 500)
  })
  afterAll(async () => {
    await db?.stop()
    store?.remove()
  })

  const env = () => ({
    DATABASE_URL: sourceUrl,
    BACKUP_STORE: pathToFileURL(store.dir).href,
    OPS_RESTORE_JOBS: '2',
  })
  const readManifest = (id: string) =>
    JSON.parse(readFileSync(join(store.dir, `${id}.manifest.json`), 'utf8')) as BackupManifest

  it('writes the backup, restores it into a scratch database and marks it verified', async () => {
    const run = await runCli(['backup', '--verify'], env())
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toHaveLength(1)
    expect(run.result).toMatchObject({
      command: 'backup',
      ok: true,
      verified: true,
      tablesCompared: 2,
      rows: 503,
    })
    const id = run.result.backupId as string
    expect(readManifest(id).verifiedAt).toBe(run.result.verifiedAt)
    expect((await db.databases()).filter((name) => name.startsWith('ops_verify_'))).toEqual([])
  })

  it('without --verify leaves the backup unverified, as before', async () => {
    const run = await runCli(['backup'], env())
    expect(run.exitCode).toBe(0)
    expect(run.result.verified).toBeUndefined()
    expect(readManifest(run.result.backupId as string).verifiedAt).toBeNull()
  })

  it('exits 1 naming the backup when the dump is written but cannot be verified', async () => {
    // A role that can dump the database but not create the scratch database verification needs.
    const role = `ops_dump_only_${Date.now()}`
    const password = `pw-${Date.now()}`
    await db.query(sourceUrl, `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`)
    await db.query(
      sourceUrl,
      `GRANT USAGE ON SCHEMA public TO ${role};
       GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role};
       GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role};`,
    )
    const url = new URL(sourceUrl)
    url.username = role
    url.password = password
    const run = await runCli(['backup', '--verify'], { ...env(), DATABASE_URL: url.href })
    expect(run.exitCode).toBe(1)
    expect(run.stdout).toHaveLength(1)
    const id = run.result.backupId as string
    expect(run.result).toMatchObject({ command: 'backup', ok: false, verified: false })
    expect(run.result.error).toMatch(
      new RegExp(
        `^backup ${id} was written but its verification failed: .*permission denied to create database`,
      ),
    )
    expect(readManifest(id).verifiedAt).toBeNull()
  })
})
