import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startTestEnvironment, type TestEnvironment } from '@whatsapp-saas/api/test-harness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OpsOutputError, parseOpsLine } from '../../src/core/ops-output.js'

// The parser fed what the ops commands really print: each command run as the image runs it (a process of
// api/src/ops/main.ts) against a migrated database of the api's test harness and a file backup store.

const API_DIR = resolve(import.meta.dirname, '..', '..', '..', 'api')

function runOps(args: string[], env: Record<string, string>): Promise<{ exitCode: number; line: unknown }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/ops/main.ts', ...args], {
      cwd: API_DIR,
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
    })
    child.once('error', fail)
    child.once('close', (code) => {
      const lines = stdout.split('\n').filter(Boolean)
      done({ exitCode: code ?? 1, line: JSON.parse(lines.at(-1) ?? 'null') })
    })
  })
}

describe('the ops output parser against the ops commands', { timeout: 240_000 }, () => {
  let harness: TestEnvironment
  let dir: string
  let env: Record<string, string>
  let migrationsDir: string
  let backupId: string

  beforeAll(async () => {
    harness = await startTestEnvironment()
    dir = mkdtempSync(join(tmpdir(), 'ci-ops-output-'))
    mkdirSync(join(dir, 'store'))
    env = {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: await harness.createDatabase(),
      DATABASE_CA_FILE: harness.postgres.caFile,
      BACKUP_STORE: pathToFileURL(join(dir, 'store')).href,
      FAKE_GRAPH_ACCESS_TOKEN: 'fake-graph-token-0123456789',
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    }
    // The service's migrations plus one destructive pending migration.
    migrationsDir = join(dir, 'migrations')
    cpSync(join(API_DIR, 'prisma', 'migrations'), migrationsDir, { recursive: true })
    mkdirSync(join(migrationsDir, '99990101000000_drop_legacy'))
    writeFileSync(
      join(migrationsDir, '99990101000000_drop_legacy', 'migration.sql'),
      'ALTER TABLE "Contact" DROP COLUMN "legacy";\n',
    )
  })
  afterAll(async () => {
    await harness?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('reads backup, verify-backup and backup --verify', async () => {
    const backup = await runOps(['backup'], env)
    expect(backup.exitCode).toBe(0)
    const taken = parseOpsLine('backup', backup.line)
    if (!taken.ok) throw new Error(taken.error)
    backupId = taken.backupId
    expect(taken.rows).toBeGreaterThanOrEqual(0)

    const verify = parseOpsLine(
      'verify-backup',
      (await runOps(['verify-backup', '--backup', backupId], env)).line,
    )
    expect(verify).toMatchObject({ ok: true, backupId, checksumOk: true })

    const scheduled = parseOpsLine('backup', (await runOps(['backup', '--verify'], env)).line)
    expect(scheduled).toMatchObject({ ok: true, verified: true })
  })

  it('reads migration-status with a destructive pending migration, and migrate refusing it', async () => {
    const status = parseOpsLine(
      'migration-status',
      (await runOps(['migration-status', '--migrations-dir', migrationsDir], env)).line,
    )
    if (!status.ok) throw new Error(status.error)
    expect(status.pending).toEqual([
      expect.objectContaining({ migration: '99990101000000_drop_legacy', verdict: 'destructive' }),
    ])
    expect(status.pending[0]!.findings[0]!.rule).toBe('drop-column')

    const refused = await runOps(['migrate', '--migrations-dir', migrationsDir], env)
    expect(refused.exitCode).toBe(1)
    const line = parseOpsLine('migrate', refused.line)
    expect(line).toMatchObject({ ok: false, destructive: ['99990101000000_drop_legacy'] })
  })

  it('reads migrate with nothing pending', async () => {
    const migrated = parseOpsLine('migrate', (await runOps(['migrate'], env)).line)
    expect(migrated).toMatchObject({ ok: true, applied: [] })
  })

  it('reads restore refusing a non-empty database, and restore --force', async () => {
    const refused = parseOpsLine('restore', (await runOps(['restore', '--backup', backupId], env)).line)
    expect(refused).toMatchObject({ ok: false })
    expect(refused.ok === false && refused.relations).toBeGreaterThan(0)
    const restored = parseOpsLine(
      'restore',
      (await runOps(['restore', '--backup', backupId, '--force'], env)).line,
    )
    expect(restored).toMatchObject({ ok: true, backupId })
  })

  it('reads seed, and verify-backup of a backup that does not exist', async () => {
    const seeded = parseOpsLine(
      'seed',
      (await runOps(['seed', '--phone-number-id', '100000000000001', '--waba-id', '200000000000001'], env))
        .line,
    )
    expect(seeded.ok && seeded.apiKey.length).toBeGreaterThan(10)
    const missing = parseOpsLine(
      'verify-backup',
      (await runOps(['verify-backup', '--backup', 'nope'], env)).line,
    )
    expect(missing).toMatchObject({ ok: false, command: 'verify-backup' })
  })

  it('refuses a line with a key the command never prints, a missing key, and another command’s line', async () => {
    const real = (await runOps(['verify-backup', '--backup', backupId], env)).line as Record<string, unknown>
    expect(parseOpsLine('verify-backup', real).ok).toBe(true)
    expect(() => parseOpsLine('verify-backup', { ...real, verified: true })).toThrow(OpsOutputError)
    expect(() => parseOpsLine('verify-backup', { ...real, backupId: undefined })).toThrow(/backupId/)
    expect(() => parseOpsLine('backup', real)).toThrow(OpsOutputError)
    // What the pipeline's old reader accepted for a backup: keys the producer never printed.
    expect(() => parseOpsLine('backup', { id: backupId })).toThrow(OpsOutputError)
    expect(() =>
      parseOpsLine('migrate', { command: 'backup', ok: false, error: 'no backup in file:///x' }),
    ).toThrow(/failure of backup/)
  })
})
