import { Redis } from 'ioredis'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiKeyCache, announceApiKeyRevocation } from '../src/tenancy/api-key-cache.js'
import { issueApiKey } from '../src/tenancy/api-keys.js'
import { startTestEnvironment, type TestApp, type TestEnvironment, type TestTenant } from './harness/index.js'
import { waitFor } from './messaging/fixtures.js'
import { ApiProcesses } from './processes/index.js'

let env: TestEnvironment
let t: TestApp
let tenant: TestTenant
let processes: ApiProcesses
let ports: number[]
const redisClients: Redis[] = []

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
  tenant = await t.createTenant()
  processes = new ApiProcesses(env)
  ports = await Promise.all([processes.start(t.databaseUrl), processes.start(t.databaseUrl)])
}, 300_000)
afterAll(async () => {
  await processes?.stopAll()
  await Promise.allSettled(redisClients.map((client) => client.quit()))
  await t?.close()
  await env?.stop()
})

async function listKeys(port: number, apiKey: string): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}/api/v1/api-keys`, {
    headers: { authorization: `Bearer ${apiKey}` },
  })
  await response.body.dump()
  return response.statusCode
}

function redis(): Redis {
  const client = new Redis(env.redis.url, { ...env.redis.clientOptions, maxRetriesPerRequest: 1 })
  redisClients.push(client)
  return client
}

describe('API key cache', () => {
  it('a key revoked through one API process is refused by another within a second', async () => {
    const victim = await issueApiKey(t.prisma, { organizationId: tenant.organizationId, name: 'victim' })
    // Both processes have verified (and so cached) the key.
    expect(await listKeys(ports[0]!, victim.key)).toBe(200)
    expect(await listKeys(ports[1]!, victim.key)).toBe(200)
    expect(await listKeys(ports[1]!, victim.key)).toBe(200)

    const revoked = await request(`http://127.0.0.1:${ports[0]}/api/v1/api-keys/${victim.id}`, {
      method: 'DELETE',
      headers: tenant.headers,
    })
    expect(revoked.statusCode).toBe(204)
    expect(await listKeys(ports[0]!, victim.key)).toBe(401)
    // Without the announcement the other process would serve its cached copy for 30 s.
    await waitFor(
      () => listKeys(ports[1]!, victim.key),
      (status) => status === 401,
      1_000,
    )
    expect(await listKeys(ports[1]!, tenant.apiKey)).toBe(200)
  })

  it('serves a verified key from memory and forgets every key when another process announces a revocation', async () => {
    const here = new ApiKeyCache(redis(), { pollMs: 20 })
    await here.poll()
    here.start()
    const key = { id: 'k1', organizationId: 'o1', scopes: [], lastUsedAt: null, expiresAt: null }
    here.set('wsk_plaintext', key, null, here.snapshot())
    expect(here.get('wsk_plaintext')).toEqual(key)
    expect(here.get('wsk_other')).toBeUndefined()

    await announceApiKeyRevocation(redis())
    await waitFor(
      async () => here.get('wsk_plaintext'),
      (cached) => cached === undefined,
      1_000,
    )
    await here.stop()
  })

  it('does not keep a key read before a revocation, nor a key past its expiry', async () => {
    const cache = new ApiKeyCache(redis())
    await cache.poll()
    const key = { id: 'k2', organizationId: 'o1', scopes: [], lastUsedAt: null, expiresAt: null }
    const before = cache.snapshot()
    cache.clear() // a revocation seen while the key was being read from the database
    cache.set('wsk_stale', key, null, before)
    expect(cache.get('wsk_stale')).toBeUndefined()

    const now = Date.now()
    cache.set('wsk_expiring', key, new Date(now + 1_000), cache.snapshot(), now)
    expect(cache.get('wsk_expiring', now + 999)).toEqual(key)
    expect(cache.get('wsk_expiring', now + 1_000)).toBeUndefined()
    expect(cache.get('wsk_expiring', now + 30_000)).toBeUndefined()
  })

  it('is not used while Redis cannot be read', async () => {
    const unreachable = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    unreachable.on('error', () => {})
    redisClients.push(unreachable)
    const cache = new ApiKeyCache(unreachable)
    await cache.poll()
    const key = { id: 'k3', organizationId: 'o1', scopes: [], lastUsedAt: null, expiresAt: null }
    cache.set('wsk_any', key, null, cache.snapshot())
    expect(cache.get('wsk_any')).toBeUndefined()
  })
})
