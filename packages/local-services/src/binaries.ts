import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Raised when a system binary the local services need is not installed. One line, naming the package. */
export class MissingBinaryError extends Error {
  constructor(binary: string, aptPackage: string) {
    super(`${binary} not found: install the Debian package ${aptPackage} (apt-get install -y ${aptPackage})`)
    this.name = 'MissingBinaryError'
  }
}

/** Directory of the PostgreSQL 15 server binaries (initdb, pg_ctl); PG_BIN_DIR overrides. */
export function postgresBinDir(): string {
  const candidates = [
    process.env.PG_BIN_DIR,
    '/usr/lib/postgresql/15/bin',
    ...listDir('/usr/lib/postgresql').map((v) => join('/usr/lib/postgresql', v, 'bin')),
  ].filter((d): d is string => Boolean(d))
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
  if (!found) throw new MissingBinaryError('PostgreSQL server (initdb, pg_ctl)', 'postgresql-15')
  return found
}

/** Absolute path of a binary on PATH, or a MissingBinaryError naming its package. */
export function requireBinary(binary: string, aptPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim()
  } catch {
    throw new MissingBinaryError(binary, aptPackage)
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
