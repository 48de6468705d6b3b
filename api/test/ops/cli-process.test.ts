import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTinySchema, type OpsTestDatabase, startOpsTestDatabase, tempDir } from './ops-harness.js'

const API_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Runs `tsx src/ops/main.ts` as the image runs `node dist/ops/main.js`: a real process, real exit code. */
function runOpsProcess(args: string[], env: Record<string, string>) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/ops/main.ts', ...args], {
    cwd: API_DIR,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  })
  return {
    status: child.status,
    stdoutLines: child.stdout.split('\n').filter(Boolean),
    stderrLines: child.stderr.split('\n').filter(Boolean),
  }
}

describe('ops entry point as a process', () => {
  let db: OpsTestDatabase
  let store: ReturnType<typeof tempDir>
  let url: string

  beforeAll(async () => {
    db = await startOpsTestDatabase()
    store = tempDir('wa-ops-store-')
    url = await db.createDatabase({ password: 'pr0cess-Secret' })
    await createTinySchema(db, url, 10)
  })
  afterAll(async () => {
    await db?.stop()
    store?.remove()
  })

  it('exits 0 and ends with exactly one JSON line on stdout', () => {
    const run = runOpsProcess(['backup'], {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: url,
      BACKUP_STORE: pathToFileURL(store.dir).href,
    })
    expect(run.status).toBe(0)
    expect(run.stdoutLines).toHaveLength(1)
    expect(JSON.parse(run.stdoutLines[0]!)).toMatchObject({ command: 'backup', ok: true, rows: 13 })
    expect(run.stderrLines.join('\n')).not.toContain('pr0cess-Secret')
  })

  it('fails with one line naming postgresql-client-15 when pg_dump is missing', () => {
    const run = runOpsProcess(['backup'], {
      PATH: '/nonexistent',
      DATABASE_URL: url,
      BACKUP_STORE: pathToFileURL(store.dir).href,
    })
    expect(run.status).toBe(1)
    expect(run.stderrLines).toEqual([
      'error: pg_dump not found: install the Debian package postgresql-client-15 (apt-get install -y postgresql-client-15)',
    ])
    expect(JSON.parse(run.stdoutLines[0]!)).toMatchObject({ command: 'backup', ok: false })
  })

  it('never prints the password of an unreachable database', () => {
    const run = runOpsProcess(['migration-status'], {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: 'postgresql://app:Unreachable-Secret@127.0.0.1:1/app',
    })
    expect(run.status).toBe(1)
    expect(run.stdoutLines).toHaveLength(1)
    expect([...run.stderrLines, ...run.stdoutLines].join('\n')).not.toContain('Unreachable-Secret')
    expect(JSON.parse(run.stdoutLines[0]!).error).toMatch(/ECONNREFUSED/)
  })
})
