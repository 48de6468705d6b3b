import { execFile, spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { requireBinary } from './binaries.js'
import { type DatabaseTarget, libpqEnvironment } from './database-target.js'

// pg_dump/pg_restore are the only tools that produce and read PostgreSQL's custom archive format;
// they come from Debian's postgresql-client-15 (same major version as the server).
const CLIENT_PACKAGE = 'postgresql-client-15'
const run = promisify(execFile)

export function pgDumpBinary(): string {
  return requireBinary('pg_dump', CLIENT_PACKAGE)
}

export function pgRestoreBinary(): string {
  return requireBinary('pg_restore', CLIENT_PACKAGE)
}

/** e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
export async function clientVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version'], { encoding: 'utf8' })
  return stdout.replace(/^\S+ \(PostgreSQL\) /, '').trim()
}

function childEnv(target: DatabaseTarget): NodeJS.ProcessEnv {
  // Only what libpq and the binary need: no unrelated secrets are handed to the child.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...libpqEnvironment(target) }
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean)
  return lines.slice(-3).join(' | ')
}

export interface RunningDump {
  /** The custom-format archive, to be consumed exactly once. */
  archive: Readable
  /** Resolves when pg_dump exited 0; rejects with its last error lines otherwise. */
  finished: Promise<void>
}

/** Streams `pg_dump -Fc` of the target; with a snapshot id it dumps exactly that snapshot. */
export function startPgDump(
  binary: string,
  target: DatabaseTarget,
  options: { snapshot?: string },
): RunningDump {
  const args = ['--format=custom', '--compress=6', '--no-password', `--dbname=${target.name}`]
  if (options.snapshot) args.push(`--snapshot=${options.snapshot}`)
  const child = spawn(binary, args, { env: childEnv(target), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const finished = new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`pg_dump failed (${signal ?? `exit ${code}`}): ${tail(stderr)}`))
    })
  })
  return { archive: child.stdout, finished }
}

/**
 * Restores a custom-format archive file into the target with `jobs` parallel workers
 * (parallel restore needs a seekable file, hence a file rather than a stream).
 */
export async function runPgRestore(
  binary: string,
  target: DatabaseTarget,
  archiveFile: string,
  options: { jobs: number },
): Promise<void> {
  const args = [
    '--no-password',
    '--no-owner',
    '--exit-on-error',
    `--jobs=${Math.max(1, options.jobs)}`,
    `--dbname=${target.name}`,
    archiveFile,
  ]
  await new Promise<void>((resolve, reject) => {
    const child = spawn(binary, args, { env: childEnv(target), stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000)
    })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`pg_restore failed (${signal ?? `exit ${code}`}): ${tail(stderr)}`))
    })
  })
}
