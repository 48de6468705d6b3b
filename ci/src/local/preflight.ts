import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { postgresBinDir, requireBinary } from '@whatsapp-saas/local-services'

/** Unmet items of a preflight, listed all at once (the same contract as the AWS target's). */
export class LocalPreflightError extends Error {
  override readonly name = 'LocalPreflightError'
  constructor(readonly unmet: string[]) {
    // One line: reports and summaries keep only the first line of a failure.
    super(`preflight failed, ${unmet.length} unmet item(s): ${unmet.map((item) => `✗ ${item}`).join(' ')}`)
  }
}

type Check = () => string

/** Runs every check; returns the met items, or throws LocalPreflightError naming every unmet one. */
export function runLocalPreflight(repoRoot: string, checks: Check[] = defaultChecks(repoRoot)): string[] {
  const met: string[] = []
  const unmet: string[] = []
  for (const check of checks) {
    try {
      met.push(check())
    } catch (error) {
      unmet.push((error as Error).message)
    }
  }
  if (unmet.length > 0) throw new LocalPreflightError(unmet)
  return met
}

export function defaultChecks(repoRoot: string): Check[] {
  return [
    () => `PostgreSQL server in ${postgresBinDir()}`,
    () => {
      requireBinary('redis-server', 'redis-server')
      return 'redis-server'
    },
    () => {
      requireBinary('pg_dump', 'postgresql-client-15')
      return 'pg_dump'
    },
    () => {
      if (!existsSync(join(repoRoot, 'node_modules')))
        throw new Error('node_modules missing: run npm ci (or scripts/bootstrap.sh) first')
      return 'node_modules installed'
    },
  ]
}
