import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TurnBatchedRedisStore } from '../src/tenancy/rate-limit-store.js'
import { startTestEnvironment, type TestApp, type TestEnvironment } from './harness/index.js'

let env: TestEnvironment
const connections: Redis[] = []

beforeAll(async () => {
  env = await startTestEnvironment()
}, 120_000)
afterAll(async () => {
  for (const connection of connections) connection.disconnect()
  await env?.stop()
})

function connect(): Redis {
  const connection = new Redis(env.redis.url, env.redis.clientOptions)
  connections.push(connection)
  return connection
}

function incrementMany(store: TurnBatchedRedisStore, key: string, count: number, windowMs = 60_000) {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ current: number; ttl: number }>((resolve, reject) => {
          store.incr(key, (error, result) => (error || !result ? reject(error) : resolve(result)), windowMs)
        }),
    ),
  )
}

describe('per-key request counter batched per event-loop turn', () => {
  it('gives each request of two processes its own position in the shared window', async () => {
    // Two stores on two connections: two API processes counting the same key at the same time.
    const one = new TurnBatchedRedisStore(connect(), 'rl:test:')
    const two = new TurnBatchedRedisStore(connect(), 'rl:test:')
    const results = (
      await Promise.all([
        incrementMany(one, 'key:a', 25),
        incrementMany(two, 'key:a', 25),
        incrementMany(one, 'key:a', 10),
      ])
    ).flat()
    expect(results.map((result) => result.current).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 60 }, (_, index) => index + 1),
    )
    for (const { ttl } of results) expect(ttl).toBeGreaterThan(0)
    expect(await connect().pttl('rl:test:key:a')).toBeGreaterThan(0)

    // Another key is counted apart, in the same turn.
    const [a, b] = await Promise.all([incrementMany(one, 'key:a', 1), incrementMany(one, 'key:b', 2)])
    expect(a.map((result) => result.current)).toEqual([61])
    expect(b.map((result) => result.current)).toEqual([1, 2])
  })

  it('answers every waiting request with the error when Redis refuses', async () => {
    const broken = connect()
    const store = new TurnBatchedRedisStore(broken, 'rl:test:')
    await broken.quit()
    await expect(incrementMany(store, 'key:c', 3)).rejects.toThrow()
  })
})

describe('hooks scoped to the routes that need them', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await env.startApp({ rateLimitPerMinute: 2 })
  }, 120_000)
  afterAll(async () => {
    await t?.close()
  })

  it('sets browser security headers on the API but not on the machine routes, and throttles only the API', async () => {
    const tenant = await t.createTenant()
    const api = await t.app.inject({ method: 'GET', url: '/api/v1/organization', headers: tenant.headers })
    expect(api.headers['x-content-type-options']).toBe('nosniff')
    expect(api.headers['content-security-policy']).toContain("default-src 'self'")
    expect(api.headers['x-ratelimit-limit']).toBe('2')

    const health = await t.app.inject({ method: 'GET', url: '/health' })
    expect(health.headers['x-content-type-options']).toBeUndefined()
    expect(health.headers['x-ratelimit-limit']).toBeUndefined()
    for (let i = 0; i < 3; i++)
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)

    const webhook = await t.app.inject({
      method: 'POST',
      url: '/webhooks/whatsapp',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    })
    expect(webhook.statusCode).toBe(401)
    expect(webhook.headers['x-content-type-options']).toBeUndefined()
    expect(webhook.headers['x-ratelimit-limit']).toBeUndefined()
  })
})
