import { randomBytes } from 'node:crypto'
import { readJson, writeJson } from './json-file.js'
import type { LocalLayout } from './state-layout.js'

/** Secrets of one local environment: generated once, kept in `secrets.json` (mode 0600), given to processes by environment. */
export interface LocalSecrets {
  adminToken: string
  appSecret: string
  verifyToken: string
  /** 32 bytes, base64 (AES-256-GCM key for access tokens at rest). */
  encryptionKey: string
  /** The bearer token the fake Graph API accepts; the demo phone number stores it. */
  graphAccessToken: string
  /** Password of the local PostgreSQL's `postgres` role (RDS's master password). */
  databasePassword: string
  /** AUTH password of the local Redis (ElastiCache's AUTH token). */
  redisAuthToken: string
  /** The demo organization's API key, once the seed command made it. */
  apiKey?: string
}

const token = (bytes: number) => randomBytes(bytes).toString('hex')

export function loadOrCreateSecrets(path: string): LocalSecrets {
  const existing = readJson<Partial<LocalSecrets>>(path, {})
  const secrets: LocalSecrets = {
    adminToken: existing.adminToken ?? `adm_${token(24)}`,
    appSecret: existing.appSecret ?? token(32),
    verifyToken: existing.verifyToken ?? token(16),
    encryptionKey: existing.encryptionKey ?? randomBytes(32).toString('base64'),
    graphAccessToken: existing.graphAccessToken ?? `EAAG${token(24)}`,
    // Added to environments made before TLS and passwords: generated on the next start, like the rest.
    databasePassword: existing.databasePassword ?? token(20),
    redisAuthToken: existing.redisAuthToken ?? token(32),
    ...(existing.apiKey ? { apiKey: existing.apiKey } : {}),
  }
  if (JSON.stringify(secrets) !== JSON.stringify(existing)) writeJson(path, secrets, 0o600)
  return secrets
}

export function saveSecrets(path: string, secrets: LocalSecrets): void {
  writeJson(path, secrets, 0o600)
}

export function secretValues(secrets: LocalSecrets): string[] {
  return Object.values(secrets).filter((v): v is string => typeof v === 'string')
}

/** Where the local PostgreSQL and Redis listen, and the CA their certificates chain to. */
export interface LocalEndpoints {
  postgresPort: number
  redisPort: number
  database: string
  caFile: string
}

/**
 * The Secrets Manager secrets of a stack with the JSON keys the infrastructure program writes
 * (infra/src/secrets.ts, database.ts, cache.ts), holding the local environment's values.
 */
export function secretDocuments(secrets: LocalSecrets, endpoints: LocalEndpoints) {
  const host = '127.0.0.1'
  return {
    database: {
      engine: 'postgres',
      username: 'postgres',
      password: secrets.databasePassword,
      host,
      port: endpoints.postgresPort,
      dbname: endpoints.database,
      // As on RDS: sslmode=require, which the service verifies (full) against DATABASE_CA_FILE.
      url: `postgresql://postgres:${secrets.databasePassword}@${host}:${endpoints.postgresPort}/${endpoints.database}?sslmode=require`,
    },
    redis: {
      authToken: secrets.redisAuthToken,
      host,
      port: endpoints.redisPort,
      url: `rediss://default:${secrets.redisAuthToken}@${host}:${endpoints.redisPort}`,
    },
    'admin-token': secrets.adminToken,
    'encryption-key': secrets.encryptionKey,
    meta: { appSecret: secrets.appSecret, verifyToken: secrets.verifyToken },
  }
}

export type SecretDocuments = ReturnType<typeof secretDocuments>

/**
 * Environment variable ← secret (and JSON key), exactly as the ECS container definitions take them
 * (infra/src/compute.ts containerSecrets); ci/test/local/local-secrets.test.ts holds the two equal.
 */
export const CONTAINER_SECRETS = [
  { name: 'DATABASE_URL', secret: 'database', key: 'url' },
  { name: 'REDIS_URL', secret: 'redis', key: 'url' },
  { name: 'ADMIN_TOKEN', secret: 'admin-token' },
  { name: 'META_APP_SECRET', secret: 'meta', key: 'appSecret' },
  { name: 'META_VERIFY_TOKEN', secret: 'meta', key: 'verifyToken' },
  { name: 'ENCRYPTION_KEY', secret: 'encryption-key' },
] as const satisfies readonly { name: string; secret: keyof SecretDocuments; key?: string }[]

/** The secret part of a process's environment, resolved from the documents as ECS resolves `secrets`. */
export function secretEnvironment(documents: SecretDocuments): Record<string, string> {
  const env: Record<string, string> = {}
  for (const entry of CONTAINER_SECRETS) {
    const document: unknown = documents[entry.secret]
    const value =
      'key' in entry ? (document as Record<string, unknown>)[entry.key] : (document as string | undefined)
    if (typeof value !== 'string' || value === '')
      throw new Error(`local secret ${entry.secret}${'key' in entry ? `:${entry.key}` : ''} is missing`)
    env[entry.name] = value
  }
  return env
}

/** How the local PostgreSQL and Redis of an environment are started (or attached to): its passwords, its CA. */
export function localServiceOptions(layout: LocalLayout, secrets: LocalSecrets) {
  return {
    postgres: { dataDir: layout.postgres, password: secrets.databasePassword, tlsDir: layout.tls },
    redis: { dir: layout.redis, persistent: true, password: secrets.redisAuthToken, tlsDir: layout.tls },
  }
}

/** An operator's URL of the environment's database: password, TLS verified against the environment CA. */
export function localDatabaseUrl(
  layout: LocalLayout,
  secrets: LocalSecrets,
  port: number,
  database: string,
): string {
  const ca = encodeURIComponent(`${layout.tls}/ca.crt`)
  return `postgresql://postgres:${secrets.databasePassword}@127.0.0.1:${port}/${database}?sslmode=verify-full&sslrootcert=${ca}`
}
