import { startRedis } from '@whatsapp-saas/local-services'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HEALTH_ANSWER_MAX_AGE_MS } from '../src/health/routes.js'
import { startTestEnvironment, TEST_SECRETS, type TestEnvironment } from './harness/index.js'

let env: TestEnvironment

/**
 * /health shares one probe's answer for HEALTH_ANSWER_MAX_AGE_MS, bounded by the probe's own 1 s
 * timeout: a change shows within 1.25 s; at start the first connection opens in the background (TLS and
 * SCRAM, slow on a loaded machine). Asks until it does, for at most 10 s (a bound, not a speed
 * assertion; truthful within 1 s on a loaded CI machine cannot be asserted by a test).
 */
async function healthOnceSettled(app: FastifyInstance, expected: number) {
  const deadline = Date.now() + 10_000
  for (;;) {
    const response = await app.inject({ method: 'GET', url: '/health' })
    if (response.statusCode === expected || Date.now() > deadline) return response
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  env = await startTestEnvironment()
})
afterAll(async () => {
  await env?.stop()
})

describe('GET /health', () => {
  it('answers 200 with both dependencies connected', async () => {
    const t = await env.startApp()
    const response = await healthOnceSettled(t.app, 200)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', database: 'connected', redis: 'connected' })
    expect(response.headers['x-request-id']).toBeTruthy()
    await t.close()
  })

  it('answers 503 with redis disconnected when Redis is stopped', async () => {
    const redis = await startRedis()
    const t = await env.startApp({ redisUrl: redis.url, redisCaFile: redis.caFile })
    try {
      expect((await healthOnceSettled(t.app, 200)).statusCode).toBe(200)
      await redis.stop()
      const response = await healthOnceSettled(t.app, 503)
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({ status: 'error', database: 'connected', redis: 'disconnected' })
      const live = await t.app.inject({ method: 'GET', url: '/health/live' })
      expect(live.statusCode).toBe(200)
    } finally {
      await t.close()
      await redis.stop()
    }
  })

  it('answers 503 with database disconnected when PostgreSQL is stopped', async () => {
    const { startPostgres } = await import('@whatsapp-saas/local-services')
    const { applyMigrations } = await import('./harness/index.js')
    const postgres = await startPostgres()
    await applyMigrations(postgres.url())
    const t = await env.startApp({ databaseUrl: postgres.url() })
    try {
      expect((await healthOnceSettled(t.app, 200)).statusCode).toBe(200)
      await postgres.stop()
      const response = await healthOnceSettled(t.app, 503)
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({ status: 'error', database: 'disconnected', redis: 'connected' })
    } finally {
      await t.close()
      await postgres.stop()
    }
  })

  it('answers 503 at once when shutting down, even with a shared answer still fresh', async () => {
    const t = await env.startApp()
    expect((await healthOnceSettled(t.app, 200)).statusCode).toBe(200)
    t.app.readiness.shuttingDown = true
    const response = await t.app.inject({ method: 'GET', url: '/health' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ status: 'error', shuttingDown: true })
    await t.close()
  })

  it('asks PostgreSQL once for a burst of concurrent probes', async () => {
    const t = await env.startApp()
    try {
      // Past start (its warm-up queries) and past the first answer's age, so the burst needs a new probe.
      expect((await healthOnceSettled(t.app, 200)).statusCode).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, HEALTH_ANSWER_MAX_AGE_MS + 50))
      const pool = t.app.deps.ingestPool
      const query = pool.query.bind(pool)
      let selects = 0
      pool.query = ((...args: Parameters<typeof pool.query>) => {
        if (args[0] === 'SELECT 1') selects += 1
        return query(...args)
      }) as typeof pool.query
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => t.app.inject({ method: 'GET', url: '/health' })),
      )
      expect(answers.map((a) => a.statusCode)).toEqual(Array(30).fill(200))
      expect(selects).toBe(1)
    } finally {
      await t.close()
    }
  })
})

describe('GET /api/v1/status', () => {
  const admin = { authorization: `Bearer ${TEST_SECRETS.adminToken}` }

  it('shows the public only status and version, nothing of migrations or queues', async () => {
    const t = await env.startApp()
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/status' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok', version: 'test' })
    expect(response.body).not.toContain('20261125010000_init')
    expect(response.body).not.toContain('wa-inbound')
    await t.close()
  })

  it('refuses wrong credentials (401) rather than falling back to the public view', async () => {
    const t = await env.startApp()
    for (const authorization of ['Bearer not-the-admin-token', `Bearer ${(await t.createTenant()).apiKey}`]) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/api/v1/status',
        headers: { authorization },
      })
      expect(response.statusCode).toBe(401)
      expect(response.body).not.toContain('wa-inbound')
    }
    await t.close()
  })

  it('reports to the admin version, migrations applied and none pending, and queue depths', async () => {
    const t = await env.startApp()
    await t.app.deps.inboundQueue.add(
      'inbound',
      { inboundWebhookId: 'x' },
      { jobId: 'depth-probe', delay: 60_000 },
    )
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/status', headers: admin })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.status).toBe('ok')
    expect(body.version).toBe('test')
    expect(body.migrations.applied).toContain('20261125010000_init')
    expect(body.migrations.pending).toEqual([])
    expect(body.queues['wa-inbound'].delayed).toBeGreaterThanOrEqual(1)
    await t.app.deps.inboundQueue.remove('depth-probe')
    await t.close()
  })

  it('lists a migration as pending when the database lacks it', async () => {
    const t = await env.startApp()
    await t.prisma.$executeRaw`DELETE FROM _prisma_migrations`
    const body = (await t.app.inject({ method: 'GET', url: '/api/v1/status', headers: admin })).json()
    expect(body.migrations.pending).toContain('20261125010000_init')
    await t.close()
  })
})

describe('GET /docs', () => {
  it('serves the OpenAPI document', async () => {
    const t = await env.startApp()
    const response = await t.app.inject({ method: 'GET', url: '/docs/json' })
    expect(response.statusCode).toBe(200)
    expect(response.json().paths['/health']).toBeDefined()
    await t.close()
  })
})
