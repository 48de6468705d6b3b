// The migration-safety run end to end against a real PostgreSQL: the same shell the module runs in its
// toolbox container, here in a copy of the api workspace (the script moves migration folders around).
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type PostgresServer, startPostgres } from '@whatsapp-saas/local-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MIGRATION_STATUS_CHECK,
  migrationSafetyMarkdown,
  migrationSafetyScript,
  parseMigrationStatus,
} from '../../dagger/src/lib/migration-safety.js'

const REPO = resolve(import.meta.dirname, '../../..')

describe('migration safety verdict', () => {
  let postgres: PostgresServer
  let work: string
  let base: string

  beforeAll(async () => {
    postgres = await startPostgres()
    work = mkdtempSync(join(tmpdir(), 'migration-safety-'))
    for (const entry of ['package.json', 'prisma.config.ts', 'prisma', 'src']) {
      cpSync(join(REPO, 'api', entry), join(work, 'api', entry), { recursive: true })
    }
    symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'))
    symlinkSync(join(REPO, 'api/node_modules'), join(work, 'api/node_modules'))
    // The script reads the command's line with the core's parser, from the repository root.
    symlinkSync(join(REPO, 'ci'), join(work, 'ci'))
    base = join(work, 'base-migrations')
    cpSync(join(REPO, 'api/prisma/migrations'), base, { recursive: true })
  }, 120_000)

  afterAll(async () => {
    await postgres?.stop()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  function run() {
    const result = spawnSync('sh', ['-c', migrationSafetyScript(base)], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: postgres.url() },
      timeout: 120_000,
    })
    expect(result.status, result.stderr).toBe(0)
    return parseMigrationStatus(result.stdout)
  }

  it('finds nothing new when the head adds no migration', () => {
    const status = run()
    expect(status.pending).toEqual([])
    expect(status.applied).toEqual(readdirSync(base).filter((name) => !name.endsWith('.toml')))
    expect(migrationSafetyMarkdown(status)).toContain('No new migrations in this change.')
  }, 120_000)

  it('flags a new destructive migration with its statement, and leaves the head migrations in place', () => {
    const added = join(work, 'api/prisma/migrations/29990101000000_drop_contacts')
    mkdirSync(added)
    writeFileSync(join(added, 'migration.sql'), 'DROP TABLE "Contact";\n')
    const status = run()
    expect(status.destructive).toBe(true)
    expect(status.pending).toEqual([
      expect.objectContaining({ migration: '29990101000000_drop_contacts', verdict: 'destructive' }),
    ])
    const markdown = migrationSafetyMarkdown(status)
    expect(markdown).toContain('**Destructive migrations pending**')
    expect(markdown).toContain('`29990101000000_drop_contacts` | **destructive** | drop-table')
    expect(markdown).toContain('`DROP TABLE "Contact"`')
    expect(readdirSync(join(work, 'api/prisma/migrations'))).toContain('29990101000000_drop_contacts')
  }, 120_000)

  it('puts the head migrations back when the base migrations fail', () => {
    const head = readdirSync(join(work, 'api/prisma/migrations')).sort()
    const broken = join(work, 'broken-base')
    cpSync(base, broken, { recursive: true })
    mkdirSync(join(broken, '29990101000001_broken'))
    writeFileSync(
      join(broken, '29990101000001_broken', 'migration.sql'),
      'ALTER TABLE "Nope" ADD COLUMN x int;\n',
    )
    const result = spawnSync('sh', ['-c', migrationSafetyScript(broken)], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: postgres.url('broken') },
      timeout: 120_000,
    })
    expect(result.status).not.toBe(0)
    expect(readdirSync(join(work, 'api/prisma/migrations')).sort()).toEqual(head)
  }, 120_000)

  // The line as `migration-status` prints it (api/src/ops/reports.ts).
  const statusLine = {
    command: 'migration-status',
    ok: true,
    applied: ['0001_init'],
    pending: [],
    failed: [],
    unknown: [],
    destructive: false,
  }
  function check(output: string) {
    const file = join(work, 'status-output.txt')
    writeFileSync(file, output)
    return spawnSync('npx', ['--no-install', 'tsx', '--eval', MIGRATION_STATUS_CHECK], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, MIGRATION_STATUS_OUTPUT: file },
      timeout: 60_000,
    })
  }

  it('reads the command line with the core parser: a line the command never prints is refused', () => {
    const accepted = check(`applying nothing\n${JSON.stringify(statusLine)}\n`)
    expect(accepted.status, accepted.stderr).toBe(0)
    expect(parseMigrationStatus(accepted.stdout)).toEqual(statusLine)

    const unknownKey = check(JSON.stringify({ ...statusLine, verdicts: [] }))
    expect(unknownKey.status).toBe(1)
    expect(unknownKey.stderr).toMatch(/migration-status printed an unexpected final line/)
    expect(unknownKey.stdout).toBe('')
    // The old reader filled what was missing with defaults; the producer always prints them.
    const { failed: _failed, ...withoutFailed } = statusLine
    expect(check(JSON.stringify(withoutFailed)).status).toBe(1)
    const failure = check(JSON.stringify({ command: 'migration-status', ok: false, error: 'db down' }))
    expect(failure.status).toBe(1)
    expect(failure.stderr).toContain('migration-status failed: db down')
    const notJson = check('applied x\nnot json')
    expect(notJson.status).toBe(1)
    expect(notJson.stderr).toMatch(/did not end with a JSON line/)
  }, 120_000)

  it('refuses script output that does not end with the checked line', () => {
    expect(() => parseMigrationStatus('applied x\nnot json')).toThrow(/did not print its line/)
  })
})
