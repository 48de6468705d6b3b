/**
 * Test harness of the api workspace: real PostgreSQL and Redis, migrated databases, the app.
 *
 *   import { startTestEnvironment } from '@whatsapp-saas/api/test-harness'   // or a relative path inside api/
 *
 *   const env = await startTestEnvironment()          // in beforeAll: PostgreSQL 15 + Redis on free ports,
 *                                                     // as strict as RDS/ElastiCache: TLS only, passwords,
 *                                                     // noeviction (@whatsapp-saas/local-services); URLs carry them:
 *                                                     // env.postgres.url(db) verifies the server's cert,
 *                                                     // new Redis(env.redis.url, env.redis.clientOptions)
 *   const url = await env.createDatabase()            // fresh database with every migration applied
 *                                                     // (cloned from a migrated template: ~50 ms)
 *   const config = env.config({ databaseUrl: url })   // a valid Config (test secrets, LOG_LEVEL silent)
 *   const t = await env.startApp()                    // buildApp() on a fresh database; not listening
 *   await t.app.inject({ method: 'GET', url: '/health' })
 *   const tenant = await t.createTenant()             // organization + API key { organizationId, apiKey, headers }
 *   t.prisma                                          // Prisma client on that database
 *   await t.close()                                   // closes the app and its connections
 *   await env.stop()                                  // in afterAll: stops PostgreSQL and Redis, deletes their dirs
 *
 * Also: applyMigrations(url) (pg + _prisma_migrations bookkeeping like Prisma), signMetaBody(body, secret)
 * (X-Hub-Signature-256 header value), TEST_SECRETS (the secrets env.config() uses).
 */
import { createHmac, randomBytes } from 'node:crypto'
import {
  type PostgresServer,
  type RedisServer,
  startPostgres,
  startRedis,
} from '@whatsapp-saas/local-services'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp } from '../../src/app.js'
import type { Config } from '../../src/config.js'
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma.js'
import { issueApiKey } from '../../src/tenancy/api-keys.js'
import { applyMigrations } from './migrations.js'

export { applyMigrations } from './migrations.js'

export const TEST_SECRETS = {
  adminToken: 'test-admin-token-0123456789',
  metaAppSecret: 'test-meta-app-secret',
  metaVerifyToken: 'test-meta-verify-token',
  encryptionKey: Buffer.alloc(32, 7),
} as const

/** Value of X-Hub-Signature-256 for a body, as Meta computes it (HMAC-SHA256 over the raw bytes). */
export function signMetaBody(body: string | Buffer, secret: string = TEST_SECRETS.metaAppSecret): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

export interface TestTenant {
  organizationId: string
  apiKey: string
  apiKeyId: string
  /** { authorization: 'Bearer <apiKey>' } */
  headers: { authorization: string }
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  prisma: PrismaClient
  databaseUrl: string
  createTenant(name?: string): Promise<TestTenant>
  close(): Promise<void>
}

export interface TestEnvironment {
  postgres: PostgresServer
  redis: RedisServer
  createDatabase(): Promise<string>
  config(overrides?: Partial<Config>): Config
  startApp(overrides?: Partial<Config>): Promise<TestApp>
  stop(): Promise<void>
}

const TEMPLATE_DB = 'wa_migrated_template'

export async function startTestEnvironment(): Promise<TestEnvironment> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()])
  let templateReady: Promise<void> | undefined
  let databases = 0

  async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: postgres.url() })
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }

  function ensureTemplate(): Promise<void> {
    templateReady ??= (async () => {
      await admin((client) => client.query(`CREATE DATABASE ${TEMPLATE_DB}`))
      await applyMigrations(postgres.url(TEMPLATE_DB))
    })()
    return templateReady
  }

  const opened: TestApp[] = []

  const environment: TestEnvironment = {
    postgres,
    redis,
    async createDatabase() {
      await ensureTemplate()
      databases += 1
      const name = `wa_test_${databases}_${randomBytes(4).toString('hex')}`
      await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`))
      return postgres.url(name)
    },
    config(overrides = {}) {
      return {
        databaseUrl: postgres.url(),
        databaseCaFile: postgres.caFile,
        redisUrl: redis.url,
        redisCaFile: redis.caFile,
        port: 0,
        host: '127.0.0.1',
        adminToken: TEST_SECRETS.adminToken,
        metaAppSecret: TEST_SECRETS.metaAppSecret,
        metaVerifyToken: TEST_SECRETS.metaVerifyToken,
        encryptionKey: TEST_SECRETS.encryptionKey,
        appVersion: 'test',
        logLevel: 'silent',
        graphApiBaseUrl: 'http://127.0.0.1:9',
        graphApiVersion: 'v23.0',
        shutdownTimeoutMs: 10_000,
        healthCheckTimeoutMs: 1_000,
        rateLimitPerMinute: 100_000,
        optOutKeywords: ['STOP', 'UNSUBSCRIBE'],
        workerConcurrency: 4,
        historyRetentionDays: 30,
        ...overrides,
      }
    },
    async startApp(overrides = {}) {
      const databaseUrl = overrides.databaseUrl ?? (await environment.createDatabase())
      const config = environment.config({ ...overrides, databaseUrl })
      const app = await buildApp(config)
      await app.ready()
      const prisma = createPrismaClient(databaseUrl, { maxConnections: 5, caFile: postgres.caFile })
      let tenants = 0
      const testApp: TestApp = {
        app,
        config,
        prisma,
        databaseUrl,
        async createTenant(name) {
          tenants += 1
          const organization = await prisma.organization.create({
            data: {
              name: name ?? `Tenant ${tenants}`,
              slug: `tenant-${tenants}-${randomBytes(3).toString('hex')}`,
            },
          })
          const key = await issueApiKey(prisma, { organizationId: organization.id, name: 'test' })
          return {
            organizationId: organization.id,
            apiKey: key.key,
            apiKeyId: key.id,
            headers: { authorization: `Bearer ${key.key}` },
          }
        },
        async close() {
          const index = opened.indexOf(testApp)
          if (index >= 0) opened.splice(index, 1)
          await app.close()
          await prisma.$disconnect()
        },
      }
      opened.push(testApp)
      return testApp
    },
    async stop() {
      // The servers are stopped even when an app fails to close in time, so no test leaks them.
      const closing = Promise.allSettled(opened.map((testApp) => testApp.close()))
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 15_000).unref())])
      await Promise.allSettled([postgres.stop(), redis.stop()])
    },
  }
  return environment
}
