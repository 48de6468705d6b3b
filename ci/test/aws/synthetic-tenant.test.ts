// The synthetic tenant against the real API (its admin and tenant routes on a real PostgreSQL): ensured
// idempotently, one per stack, a fresh key per run that the revocation really disables, and a read-only
// key where the stack has no synthetic Graph API (production).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
} from '../../../api/test/harness/index.js'
import {
  ensureSyntheticTenant,
  revokeSyntheticKey,
  SYNTHETIC_KEY_TTL_MS,
  syntheticPhoneNumberId,
  syntheticSlug,
} from '../../src/aws/synthetic-tenant.js'

const SYNTHETIC_GRAPH = 'http://fake-graph.whatsapp-saas-staging.internal:4004'
const BASE = 'https://staging.example.com'
let env: TestEnvironment
let staging: TestApp
let production: TestApp

/** `fetch` answered by the app in process (Fastify inject): the same HTTP semantics, no listening port. */
function fetchOf(app: TestApp): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input))
    const answer = await app.app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      ...(init?.body ? { payload: String(init.body) } : {}),
    })
    return new Response(answer.statusCode === 204 ? null : answer.body, { status: answer.statusCode })
  }) as typeof fetch
}

const input = (app: TestApp, stack: string, runId: string, synthetic = true) => ({
  baseUrl: BASE,
  adminToken: TEST_SECRETS.adminToken,
  stack,
  runId,
  ...(synthetic ? { syntheticGraphApiBaseUrl: SYNTHETIC_GRAPH } : {}),
  now: Date.now(),
  fetch: fetchOf(app),
})

const get = (app: TestApp, url: string, key: string) =>
  app.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })

beforeAll(async () => {
  env = await startTestEnvironment()
  staging = await env.startApp({ syntheticGraphApiBaseUrl: SYNTHETIC_GRAPH })
  production = await env.startApp()
}, 120_000)

afterAll(async () => {
  await env?.stop()
})

describe('the synthetic tenant of a stack', () => {
  it('is created once: re-runs reuse the organization and the phone number, each with its own key', async () => {
    const first = await ensureSyntheticTenant(input(staging, 'staging', 'run-1'))
    const second = await ensureSyntheticTenant(input(staging, 'staging', 'run-2'))
    expect(second.organizationId).toBe(first.organizationId)
    expect(second.phoneNumberId).toBe(syntheticPhoneNumberId('staging'))
    expect(first.phoneNumberId).toBe(second.phoneNumberId)
    expect(second.keyId).not.toBe(first.keyId)
    expect(await staging.prisma.organization.count({ where: { slug: syntheticSlug('staging') } })).toBe(1)
    const phones = await staging.prisma.phoneNumber.findMany({
      where: { organizationId: first.organizationId },
    })
    expect(phones).toEqual([
      expect.objectContaining({ phoneNumberId: second.phoneNumberId, graphApiBaseUrl: SYNTHETIC_GRAPH }),
    ])
    // The key expires by itself even if the run never revokes it.
    const key = await staging.prisma.apiKey.findUniqueOrThrow({ where: { id: second.keyId } })
    expect(key.expiresAt!.getTime() - Date.now()).toBeLessThanOrEqual(SYNTHETIC_KEY_TTL_MS)
    expect(key.expiresAt!.getTime()).toBeGreaterThan(Date.now())

    expect((await get(staging, '/api/v1/messages?limit=1', first.apiKey)).statusCode).toBe(200)
    await revokeSyntheticKey(input(staging, 'staging', 'run-1'), first)
    expect((await get(staging, '/api/v1/messages?limit=1', first.apiKey)).statusCode).toBe(401)
    expect((await get(staging, '/api/v1/messages?limit=1', second.apiKey)).statusCode).toBe(200)
  })

  it('puts the number back on the synthetic Graph API when it was moved or disabled', async () => {
    const tenant = await ensureSyntheticTenant(input(staging, 'staging', 'run-3'))
    await staging.prisma.phoneNumber.update({
      where: { phoneNumberId: tenant.phoneNumberId! },
      data: { graphApiBaseUrl: null, status: 'DISABLED' },
    })
    await ensureSyntheticTenant(input(staging, 'staging', 'run-4'))
    expect(
      await staging.prisma.phoneNumber.findUniqueOrThrow({ where: { phoneNumberId: tenant.phoneNumberId! } }),
    ).toMatchObject({ graphApiBaseUrl: SYNTHETIC_GRAPH, status: 'ACTIVE' })
  })

  it('does not collide with a second stack', async () => {
    const main = await ensureSyntheticTenant(input(staging, 'staging', 'run-5'))
    const other = await ensureSyntheticTenant(input(staging, 'staging-eu', 'run-5'))
    expect(other.organizationId).not.toBe(main.organizationId)
    expect(other.phoneNumberId).not.toBe(main.phoneNumberId)
    expect(syntheticSlug('staging-eu')).not.toBe(syntheticSlug('staging'))
  })

  it('is read-only without a synthetic Graph API (production): no phone number, a key that only reads', async () => {
    const tenant = await ensureSyntheticTenant(input(production, 'production', 'run-6', false))
    expect(tenant.phoneNumberId).toBeUndefined()
    expect(
      await production.prisma.phoneNumber.count({ where: { organizationId: tenant.organizationId } }),
    ).toBe(0)
    expect((await get(production, '/api/v1/messages?limit=1', tenant.apiKey)).statusCode).toBe(200)
    const write = await production.app.inject({
      method: 'POST',
      url: '/api/v1/phone-numbers',
      headers: { authorization: `Bearer ${tenant.apiKey}` },
      payload: {
        wabaId: 'w1',
        phoneNumberId: '9123',
        displayPhoneNumber: '+1 555',
        accessToken: 'token-token',
      },
    })
    expect(write.statusCode).toBe(403)
  })

  it('fails with the service error, never the admin token, when the admin API refuses', async () => {
    const refused = ensureSyntheticTenant({
      ...input(staging, 'staging', 'run-7'),
      adminToken: 'w'.repeat(40),
    })
    await expect(refused).rejects.toThrow(/GET \/api\/v1\/organizations\?slug=synthetic-staging answered 401/)
    await expect(refused).rejects.not.toThrow(/wwww/)
  })
})
