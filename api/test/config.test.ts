import { describe, expect, it } from 'vitest'
import { apiPoolSizes, ConfigError, loadConfig, workerPoolSize } from '../src/config.js'

const valid = {
  DATABASE_URL: 'postgresql://app:pw@db.internal:5432/app',
  REDIS_URL: 'redis://cache.internal:6379',
  ADMIN_TOKEN: 'admin-token-0123456789',
  META_APP_SECRET: 'meta-app-secret',
  META_VERIFY_TOKEN: 'meta-verify-token',
  ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
}

function errorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('loadConfig accepted an invalid environment')
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(valid)
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      appVersion: 'dev',
      logLevel: 'info',
      graphApiBaseUrl: 'https://graph.facebook.com',
      graphApiVersion: 'v23.0',
      shutdownTimeoutMs: 20_000,
      healthCheckTimeoutMs: 1_000,
      historyRetentionDays: 30,
    })
    expect(config.encryptionKey).toHaveLength(32)
  })

  it('reads overrides', () => {
    const config = loadConfig({ ...valid, PORT: '8080', APP_VERSION: 'abc123', LOG_LEVEL: 'debug' })
    expect(config).toMatchObject({ port: 8080, appVersion: 'abc123', logLevel: 'debug' })
  })

  it.each([
    ['DATABASE_URL', { DATABASE_URL: undefined }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x@y/z' }],
    ['REDIS_URL', { REDIS_URL: 'not a url' }],
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: '' }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'short' }],
    ['META_APP_SECRET', { META_APP_SECRET: undefined }],
    ['META_VERIFY_TOKEN', { META_VERIFY_TOKEN: undefined }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'not*base64' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['SHUTDOWN_TIMEOUT_MS', { SHUTDOWN_TIMEOUT_MS: '40000' }],
    ['GRAPH_API_BASE_URL', { GRAPH_API_BASE_URL: 'ftp://graph' }],
    ['HISTORY_RETENTION_DAYS', { HISTORY_RETENTION_DAYS: '3' }],
  ])('rejects a bad %s with one line naming it', (variable, change) => {
    const error = errorOf({ ...valid, ...change })
    expect(error.variable).toBe(variable)
    expect(error.message.startsWith(`${variable} `)).toBe(true)
    expect(error.message).not.toContain('\n')
  })

  it('never repeats a secret value in its message', () => {
    const error = errorOf({ ...valid, ADMIN_TOKEN: 'tiny' })
    expect(error.message).not.toContain('tiny')
  })

  it('keeps customer webhooks to https:443 and off loopback unless told otherwise', () => {
    expect(loadConfig(valid).messaging).toMatchObject({
      customerWebhookRequireHttps: true,
      customerWebhookAllowLoopback: false,
    })
    const local = loadConfig({
      ...valid,
      CUSTOMER_WEBHOOK_REQUIRE_HTTPS: 'false',
      CUSTOMER_WEBHOOK_ALLOW_LOOPBACK: 'TRUE',
    })
    expect(local.messaging).toMatchObject({
      customerWebhookRequireHttps: false,
      customerWebhookAllowLoopback: true,
    })
    expect(errorOf({ ...valid, CUSTOMER_WEBHOOK_ALLOW_LOOPBACK: 'yes' }).message).toBe(
      'CUSTOMER_WEBHOOK_ALLOW_LOOPBACK must be true or false',
    )
  })

  it('reads the previous Meta app secret of a rotation, absent by default', () => {
    expect(loadConfig(valid).metaAppSecretPrevious).toBeUndefined()
    expect(loadConfig({ ...valid, META_APP_SECRET_PREVIOUS: 'old-meta-secret' }).metaAppSecretPrevious).toBe(
      'old-meta-secret',
    )
    expect(errorOf({ ...valid, META_APP_SECRET_PREVIOUS: 'short' }).message).toBe(
      'META_APP_SECRET_PREVIOUS must be at least 8 characters',
    )
  })
})

describe('DATABASE_POOL_MAX', () => {
  it('keeps the pools of before when unset: 20 + 8 per API process, 2 x WORKER_CONCURRENCY per worker', () => {
    const config = loadConfig(valid)
    expect(config.databasePoolMax).toBeUndefined()
    expect(apiPoolSizes(config)).toEqual({ prisma: 20, ingest: 8 })
    expect(workerPoolSize(config)).toBe(16)
    expect(workerPoolSize({ ...config, workerConcurrency: 1 })).toBe(4)
  })

  it('bounds every pool of a process together when set', () => {
    const config = loadConfig({ ...valid, DATABASE_POOL_MAX: '7' })
    expect(config.databasePoolMax).toBe(7)
    const api = apiPoolSizes(config)
    expect(api.prisma + api.ingest).toBe(7)
    expect(api.ingest).toBeGreaterThanOrEqual(1)
    expect(workerPoolSize(config)).toBe(7)
    expect(apiPoolSizes({ databasePoolMax: 2 })).toEqual({ prisma: 1, ingest: 1 })
    expect(() => loadConfig({ ...valid, DATABASE_POOL_MAX: '1' })).toThrow(
      /DATABASE_POOL_MAX must be an integer/,
    )
  })

  it('names a CA file that does not exist', () => {
    expect(() => loadConfig({ ...valid, DATABASE_CA_FILE: '/nonexistent/ca.pem' })).toThrow(
      'DATABASE_CA_FILE names a file that does not exist',
    )
  })
})
