import { libpqTlsEnvironment, type PostgresConnectionConfig, postgresClientConfig } from '../db/tls.js'

/**
 * The database an ops command works on, from DATABASE_URL. pg_dump/pg_restore get the connection
 * through libpq environment variables, so the password never appears in a process list.
 */
export interface DatabaseTarget {
  /** The full URL (secret), for the `pg` client. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly name: string
  /** DATABASE_CA_FILE (see src/db/tls.ts): the CAs the server is verified against; absent: RDS's. */
  readonly caFile?: string
  /** Where a CA bundle for libpq may be written (OPS_WORK_DIR). */
  readonly workDir?: string
}

export function parseDatabaseUrl(
  raw: string | undefined,
  tls: { caFile?: string; workDir?: string } = {},
): DatabaseTarget {
  if (!raw) throw new Error('DATABASE_URL is not set')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error('DATABASE_URL is not a valid URL')
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:')
    throw new Error(`DATABASE_URL must be a postgresql:// URL (got ${url.protocol})`)
  const name = decodeURIComponent(url.pathname.slice(1))
  if (!name) throw new Error('DATABASE_URL must name a database')
  return {
    url: raw,
    host: url.hostname || 'localhost',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    name,
    ...(tls.caFile ? { caFile: tls.caFile } : {}),
    ...(tls.workDir ? { workDir: tls.workDir } : {}),
  }
}

/** The same server and credentials, another database (a scratch database for verification). */
export function withDatabase(target: DatabaseTarget, name: string): DatabaseTarget {
  const url = new URL(target.url)
  url.pathname = `/${encodeURIComponent(name)}`
  return { ...target, url: url.href, name }
}

/** libpq environment for pg_dump/pg_restore/psql (PGPASSWORD stays out of argv). */
export function libpqEnvironment(target: DatabaseTarget): Record<string, string> {
  const url = new URL(target.url)
  const env: Record<string, string> = {
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGDATABASE: target.name,
    PGAPPNAME: 'whatsapp-saas-ops',
  }
  if (target.user) env.PGUSER = target.user
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password)
  // The same verification as the service's own connections (libpq's `require` would not verify).
  return { ...env, ...libpqTlsEnvironment(target.url, target.caFile, target.workDir) }
}

/** `host:port/name`, for messages (no user, no password). */
export function describeDatabase(target: DatabaseTarget): string {
  return `${target.host}:${target.port}/${target.name}`
}

/** node-postgres options for the target, TLS as the URL says (src/db/tls.ts). */
export function clientConfig(target: DatabaseTarget): PostgresConnectionConfig {
  return postgresClientConfig(target.url, target.caFile)
}
