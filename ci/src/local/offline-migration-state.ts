import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { analyzeMigrations } from '@whatsapp-saas/api/migration-safety'
import type { MigrationStatusReport } from '@whatsapp-saas/api/ops-reports'
import { postgresBinDir } from '@whatsapp-saas/local-services'
import type { OpsResult } from '../core/types.js'
import { DATABASE } from './context.js'
import { postgresPid } from './pid-probe.js'

// What a dry run says about migrations while the local database is stopped. A dry run starts nothing, so it
// reads `_prisma_migrations` straight from the data directory with PostgreSQL's single-user mode (no port, no
// server left behind); when even that is not possible it says the state is unknown rather than guess.

const APPLIED_SQL =
  'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL'

/** The migration directories a release carries, in the order they apply. */
function releaseMigrations(releaseDir: string): string[] {
  const dir = join(releaseDir, 'prisma', 'migrations')
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b))
}

/** Result of a single-user query, parsed from its `1: migration_name = "…"` lines. */
export function parseSingleUserRows(stdout: string, column: string): string[] {
  const row = new RegExp(`^\\s*\\d+: ${column} = "(.*)"\\t`)
  return stdout.split('\n').flatMap((line) => {
    const m = row.exec(line)
    return m ? [m[1]!] : []
  })
}

type Applied = { kind: 'applied'; names: string[] } | { kind: 'unknown'; reason: string }

/** Applied migrations as recorded in a stopped cluster's data directory. */
export function readAppliedOffline(dataDir: string, database = DATABASE): Promise<Applied> {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) return Promise.resolve({ kind: 'applied', names: [] })
  if (postgresPid(dataDir) !== undefined)
    return Promise.resolve({ kind: 'unknown', reason: 'the database server runs but is not recorded' })
  const bin = join(postgresBinDir(), 'postgres')
  const args = ['--single', '-D', dataDir, '-j', database]
  // PostgreSQL refuses root; the data directory belongs to the `postgres` system user then (see local-services).
  const [command, argv] =
    userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  return new Promise((resolve) => {
    const child = execFile(command, argv, { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      if (/database "[^"]+" does not exist/.test(stderr)) return resolve({ kind: 'applied', names: [] })
      if (/relation "_prisma_migrations" does not exist/.test(stderr))
        return resolve({ kind: 'applied', names: [] })
      if (error) {
        const line = stderr.split('\n').find((l) => /FATAL|ERROR/.test(l)) ?? error.message
        return resolve({ kind: 'unknown', reason: line.trim() })
      }
      resolve({ kind: 'applied', names: parseSingleUserRows(stdout, 'migration_name') })
    })
    child.stdin?.end(`${APPLIED_SQL}\n`)
  })
}

/**
 * The `migration-status` result of a dry run with the local database stopped: applied and pending as the data
 * directory records them, the pending ones analysed by the service's own safety analyser (the same verdicts the
 * ops command gives), or a failed status saying the state is unknown. Its final line is the one
 * `migration-status` prints, so the core reads it with the same strict parser.
 */
export async function offlineMigrationStatus(dataDir: string, releaseDir: string): Promise<OpsResult> {
  const applied = await readAppliedOffline(dataDir)
  if (applied.kind === 'unknown')
    return {
      exitCode: 1,
      output: [
        `migration state unknown: the local database is stopped and its data directory unreadable (${applied.reason})`,
      ],
    }
  const done = new Set(applied.names)
  const onDisk = releaseMigrations(releaseDir)
  const migrationsDir = join(releaseDir, 'prisma', 'migrations')
  const pending = await analyzeMigrations(
    onDisk
      .filter((name) => !done.has(name))
      .map((name) => {
        const file = join(migrationsDir, name, 'migration.sql')
        return { name, sql: existsSync(file) ? readFileSync(file, 'utf8') : '' }
      }),
  )
  const onDiskSet = new Set(onDisk)
  const report: MigrationStatusReport = {
    applied: onDisk.filter((n) => done.has(n)),
    pending,
    // Single-user mode reads only finished migrations; a started-but-unfinished one shows when the server runs.
    failed: [],
    unknown: applied.names.filter((n) => !onDiskSet.has(n)).sort(),
    destructive: pending.some((p) => p.verdict === 'destructive'),
  }
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'))
  return {
    exitCode: 0,
    output: [
      fresh
        ? 'no database yet: every migration applies to an empty database'
        : `local database stopped: migration state read from ${dataDir}`,
    ],
    result: { ok: true, command: 'migration-status', ...report },
  }
}
