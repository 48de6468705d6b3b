/**
 * Service configuration, read from the environment once at start and validated.
 * A missing or malformed variable throws ConfigError whose message is one line naming the variable
 * (never its value: several variables are secrets). To add a setting: add a field to Config and one
 * line to loadConfig().
 */

import { existsSync } from 'node:fs'
import { databaseCaFile, redisCaFile } from './db/tls.js'
import type { MessagingSettings } from './messaging/messaging-settings.js'

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`)
    this.name = 'ConfigError'
  }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** What a Redis whose maxmemory-policy is not noeviction does to the start: refuse it, or warn only. */
export type EvictionPolicyCheck = 'enforce' | 'warn'

export interface Config {
  databaseUrl: string
  /** PEM bundle PostgreSQL's certificate is verified against (DATABASE_CA_FILE); absent: the RDS CA bundle. */
  databaseCaFile?: string
  /**
   * Most PostgreSQL connections one process holds in all its pools (DATABASE_POOL_MAX). Absent: 28 for
   * an API process (20 Prisma + 8 webhook ingest), 2 × WORKER_CONCURRENCY (at least 4) for a worker.
   */
  databasePoolMax?: number
  redisUrl: string
  /** PEM bundle Redis's certificate is verified against (REDIS_CA_FILE); absent: Node's public roots. */
  redisCaFile?: string
  /** REDIS_EVICTION_POLICY_CHECK: `enforce` (default) refuses to start unless noeviction; `warn` logs. */
  redisEvictionPolicyCheck?: EvictionPolicyCheck
  port: number
  host: string
  /** Secret: bearer token of the platform administrator. */
  adminToken: string
  /** Secret: signs Meta's webhook deliveries (X-Hub-Signature-256). */
  metaAppSecret: string
  /** Secret: the app secret being rotated out, still accepted until unset (META_APP_SECRET_PREVIOUS). */
  metaAppSecretPrevious?: string
  /** Secret: answered back in Meta's webhook verification handshake. */
  metaVerifyToken: string
  /** Secret: 32-byte AES-256-GCM key for access tokens and webhook secrets at rest. */
  encryptionKey: Buffer
  appVersion: string
  logLevel: LogLevel
  graphApiBaseUrl: string
  /**
   * SYNTHETIC_GRAPH_API_BASE_URL (staging only): the fake Graph API a phone number may name as its own Graph
   * base URL (the synthetic tenant of the pipeline). Unset: no number can override the Graph base URL.
   */
  syntheticGraphApiBaseUrl?: string
  graphApiVersion: string
  shutdownTimeoutMs: number
  healthCheckTimeoutMs: number
  /**
   * How long a request waits for PostgreSQL or Redis to come back before it is answered 503 with
   * Retry-After (absent: DEFAULT_DEPENDENCY_WAIT_MS of db/dependency-outage.ts).
   */
  dependencyWaitMs?: number
  /** Requests per minute allowed for one API key (Redis-backed, shared by every replica). */
  rateLimitPerMinute: number
  /** Inbound texts that opt the contact out (compared trimmed, case-insensitive). */
  optOutKeywords: string[]
  /** Jobs one worker process runs at the same time per queue. */
  workerConcurrency: number
  /** Days processed webhooks, dispatched events and finished deliveries are kept (HISTORY_RETENTION_DAYS). */
  historyRetentionDays: number
  /** Sending and customer-webhook tunables (src/messaging/README.md); absent fields take defaults. */
  messaging?: Partial<MessagingSettings>
}

type Env = Record<string, string | undefined>

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

class EnvReader {
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]
    return value === undefined || value.trim() === '' ? undefined : value.trim()
  }

  string(name: string, fallback?: string): string {
    const value = this.raw(name) ?? fallback
    if (value === undefined) throw new ConfigError(name, 'is required')
    return value
  }

  url(name: string, protocols: readonly string[], fallback?: string): string {
    const value = this.string(name, fallback)
    let parsed: URL
    try {
      parsed = new URL(value)
    } catch {
      throw new ConfigError(name, `is not a valid URL (expected ${protocols.join(' or ')}//...)`)
    }
    if (!protocols.includes(parsed.protocol))
      throw new ConfigError(name, `must use ${protocols.join(' or ')} (got ${parsed.protocol})`)
    return value
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name)
    if (value === undefined) return fallback
    if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be an integer between ${min} and ${max}`)
    const number = Number(value)
    if (number < min || number > max)
      throw new ConfigError(name, `must be an integer between ${min} and ${max}`)
    return number
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name) ?? fallback
    if (!allowed.includes(value as T)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}`)
    return value as T
  }

  /** A secret that must be hard to guess: at least minLength characters. */
  secret(name: string, minLength: number): string {
    const value = this.string(name)
    if (value.length < minLength) throw new ConfigError(name, `must be at least ${minLength} characters`)
    return value
  }

  /** Like url(), but absent is allowed (undefined). */
  optionalUrl(name: string, protocols: readonly string[]): string | undefined {
    return this.raw(name) === undefined ? undefined : this.url(name, protocols)
  }

  /** Like secret(), but absent is allowed (undefined). */
  optionalSecret(name: string, minLength: number): string | undefined {
    return this.raw(name) === undefined ? undefined : this.secret(name, minLength)
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase()
    if (value === undefined) return fallback
    if (value !== 'true' && value !== 'false') throw new ConfigError(name, 'must be true or false')
    return value === 'true'
  }

  base64Key(name: string, bytes: number): Buffer {
    const value = this.string(name)
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value))
      throw new ConfigError(name, `must be ${bytes} bytes encoded as base64`)
    const key = Buffer.from(value, 'base64')
    if (key.length !== bytes)
      throw new ConfigError(name, `must be ${bytes} bytes encoded as base64 (decodes to ${key.length} bytes)`)
    return key
  }

  list(name: string, fallback: string[]): string[] {
    const value = this.raw(name)
    if (value === undefined) return fallback
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
  }
}

function existingFile(name: string, path: string | undefined): string | undefined {
  if (path !== undefined && !existsSync(path)) throw new ConfigError(name, 'names a file that does not exist')
  return path
}

/** Pool sizes of an API process: the Prisma pool and the webhook-ingest pool share DATABASE_POOL_MAX. */
export function apiPoolSizes(config: Pick<Config, 'databasePoolMax'>): { prisma: number; ingest: number } {
  const total = config.databasePoolMax
  if (total === undefined) return { prisma: 20, ingest: 8 }
  // Same 20:8 split as the defaults; each pool keeps at least one connection.
  const ingest = Math.min(total - 1, Math.max(1, Math.round((total * 8) / 28)))
  return { prisma: total - ingest, ingest }
}

/** Pool size of a worker process (its one Prisma pool). */
export function workerPoolSize(config: Pick<Config, 'databasePoolMax' | 'workerConcurrency'>): number {
  return config.databasePoolMax ?? Math.max(4, config.workerConcurrency * 2)
}

export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env)
  const caFile = existingFile('DATABASE_CA_FILE', databaseCaFile(env))
  const redisCa = existingFile('REDIS_CA_FILE', redisCaFile(env))
  const poolMax = read.integer('DATABASE_POOL_MAX', 0, 2, 1_000)
  const syntheticGraph = read.optionalUrl('SYNTHETIC_GRAPH_API_BASE_URL', ['https:', 'http:'])
  return {
    databaseUrl: read.url('DATABASE_URL', ['postgresql:', 'postgres:']),
    ...(caFile ? { databaseCaFile: caFile } : {}),
    ...(poolMax ? { databasePoolMax: poolMax } : {}),
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    ...(redisCa ? { redisCaFile: redisCa } : {}),
    redisEvictionPolicyCheck: read.oneOf<EvictionPolicyCheck>(
      'REDIS_EVICTION_POLICY_CHECK',
      ['enforce', 'warn'],
      'enforce',
    ),
    port: read.integer('PORT', 3000, 0, 65535),
    host: read.string('HOST', '0.0.0.0'),
    adminToken: read.secret('ADMIN_TOKEN', 16),
    metaAppSecret: read.secret('META_APP_SECRET', 8),
    metaAppSecretPrevious: read.optionalSecret('META_APP_SECRET_PREVIOUS', 8),
    metaVerifyToken: read.secret('META_VERIFY_TOKEN', 8),
    encryptionKey: read.base64Key('ENCRYPTION_KEY', 32),
    appVersion: read.string('APP_VERSION', 'dev'),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    graphApiBaseUrl: read.url('GRAPH_API_BASE_URL', ['https:', 'http:'], 'https://graph.facebook.com'),
    ...(syntheticGraph ? { syntheticGraphApiBaseUrl: syntheticGraph } : {}),
    graphApiVersion: read.string('GRAPH_API_VERSION', 'v23.0'),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 20_000, 0, 25_000),
    healthCheckTimeoutMs: read.integer('HEALTH_CHECK_TIMEOUT_MS', 1_000, 1, 30_000),
    dependencyWaitMs: read.integer('DEPENDENCY_WAIT_MS', 8_000, 0, 25_000),
    rateLimitPerMinute: read.integer('RATE_LIMIT_PER_MINUTE', 1_200, 1, 1_000_000),
    optOutKeywords: read.list('OPT_OUT_KEYWORDS', ['STOP', 'UNSUBSCRIBE']),
    workerConcurrency: read.integer('WORKER_CONCURRENCY', 8, 1, 256),
    // At least Meta's 7 days of webhook retries, so a late retry still meets its stored body.
    historyRetentionDays: read.integer('HISTORY_RETENTION_DAYS', 30, 7, 3_650),
    messaging: {
      graphTimeoutMs: read.integer('GRAPH_TIMEOUT_MS', 10_000, 100, 60_000),
      templateSyncDeadlineMs: read.integer('TEMPLATE_SYNC_DEADLINE_MS', 30_000, 100, 120_000),
      outboundMaxAttempts: read.integer('OUTBOUND_MAX_ATTEMPTS', 5, 1, 20),
      outboundBackoffBaseMs: read.integer('OUTBOUND_BACKOFF_BASE_MS', 1_000, 1, 600_000),
      outboundReconcileAfterMs: read.integer('OUTBOUND_RECONCILE_AFTER_MS', 300_000, 1_000, 86_400_000),
      outboundRateUtilization: read.integer('OUTBOUND_RATE_UTILIZATION_PERCENT', 96, 10, 100) / 100,
      pairRateIntervalMs: read.integer('PAIR_RATE_INTERVAL_MS', 6_000, 1, 600_000),
      pairRateBurst: read.integer('PAIR_RATE_BURST', 45, 1, 1_000),
      customerWebhookTimeoutMs: read.integer('CUSTOMER_WEBHOOK_TIMEOUT_MS', 5_000, 100, 60_000),
      customerWebhookMaxAttempts: read.integer('CUSTOMER_WEBHOOK_MAX_ATTEMPTS', 10, 1, 50),
      customerWebhookRetryBaseMs: read.integer('CUSTOMER_WEBHOOK_RETRY_BASE_MS', 10_000, 1, 3_600_000),
      customerWebhookDisableAfter: read.integer('CUSTOMER_WEBHOOK_DISABLE_AFTER', 50, 1, 100_000),
      customerWebhookRequireHttps: read.boolean('CUSTOMER_WEBHOOK_REQUIRE_HTTPS', true),
      customerWebhookAllowLoopback: read.boolean('CUSTOMER_WEBHOOK_ALLOW_LOOPBACK', false),
    },
  }
}
