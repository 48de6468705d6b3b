import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MigrationSource } from './migration-safety.js'

/** The api workspace root: `src/ops/` in development, `dist/ops/` in the image. */
export const API_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DEFAULT_PRISMA_CONFIG = join(API_ROOT, 'prisma.config.ts')
export const DEFAULT_MIGRATIONS_DIR = join(API_ROOT, 'prisma', 'migrations')

/** Migrations on disk (`<dir>/<timestamp>_<name>/migration.sql`), in the order Prisma applies them. */
export async function readMigrationsDir(dir: string): Promise<MigrationSource[]> {
  if (!existsSync(dir)) throw new Error(`migrations directory ${dir} does not exist`)
  const entries = await readdir(dir, { withFileTypes: true })
  const names = entries
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
  return Promise.all(
    names.map(async (name) => ({ name, sql: await readFile(join(dir, name, 'migration.sql'), 'utf8') })),
  )
}

// Lines `prisma migrate deploy` prints once its work is committed. After them the 6.19 CLI keeps
// its process alive for ~10 s (an idle connection pool); waiting for that adds nothing.
const DEPLOY_DONE = /All migrations have been successfully applied|No pending migrations to apply/

export interface MigrateDeployOutcome {
  ok: boolean
  /** The CLI's own output lines (the caller redacts them). */
  output: string[]
  exitCode: number | null
}

export interface MigrateDeployOptions {
  configPath: string
  databaseUrl: string
  /** DATABASE_CA_FILE for prisma.config.ts (see src/db/tls.ts). */
  databaseCaFile?: string
  onLine: (line: string) => void
  /** Upper bound for the whole run; the CLI is killed after it. */
  timeoutMs: number
}

function prismaCli(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js')
}

/** Runs `prisma migrate deploy` with the api's Prisma config against databaseUrl. */
export function runPrismaMigrateDeploy(options: MigrateDeployOptions): Promise<MigrateDeployOutcome> {
  const args = [prismaCli(), 'migrate', 'deploy', '--config', options.configPath]
  const child = spawn(process.execPath, args, {
    cwd: dirname(options.configPath),
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      ...(options.databaseCaFile ? { DATABASE_CA_FILE: options.databaseCaFile } : {}),
      // No telemetry or update check: the command runs next to a private database without internet.
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  let done = false
  let timedOut = false
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue
      output.push(line)
      options.onLine(line)
      if (DEPLOY_DONE.test(line) && !done) {
        done = true
        setTimeout(() => child.kill('SIGTERM'), 300).unref()
      }
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, options.timeoutMs)
  return new Promise((resolvePromise, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      if (timedOut) output.push(`prisma migrate deploy did not finish within ${options.timeoutMs} ms`)
      resolvePromise({ ok: !timedOut && (code === 0 || done), output, exitCode: code })
    })
  })
}
