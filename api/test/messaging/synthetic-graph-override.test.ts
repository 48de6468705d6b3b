// A phone number may name its own Graph base URL only when it is the deployment's synthetic Graph API
// (SYNTHETIC_GRAPH_API_BASE_URL, staging's fake Graph service): the pipeline's synthetic tenant sends
// there, every other number talks to Meta, and production (variable unset) accepts no override at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import {
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import {
  recordingHooks,
  seedConversation,
  seedPhoneNumber,
  startOutboundWorker,
  waitFor,
} from './fixtures.js'

let env: TestEnvironment
/** Stands in for Meta: where every number without an accepted override sends. */
let meta: FakeGraph
/** The synthetic Graph API of the deployment. */
let synthetic: FakeGraph
let staging: TestApp
let production: TestApp
let tenant: TestTenant
let worker: Awaited<ReturnType<typeof startOutboundWorker>>

const body = (phoneNumberId: string, graphApiBaseUrl?: string | null) => ({
  wabaId: `waba-${phoneNumberId}`,
  phoneNumberId,
  displayPhoneNumber: '+1 555 0100',
  accessToken: 'synthetic-graph-token',
  ...(graphApiBaseUrl === undefined ? {} : { graphApiBaseUrl }),
})

beforeAll(async () => {
  env = await startTestEnvironment()
  meta = await createFakeGraph({ enforceServiceWindow: false })
  synthetic = await createFakeGraph({ enforceServiceWindow: false })
  staging = await env.startApp({ graphApiBaseUrl: meta.url, syntheticGraphApiBaseUrl: synthetic.url })
  production = await env.startApp({ graphApiBaseUrl: meta.url })
  tenant = await staging.createTenant('synthetic')
  worker = await startOutboundWorker({
    prisma: staging.prisma,
    sql: staging.app.deps.sql,
    redis: env.redis,
    graphUrl: meta.url,
    syntheticGraphUrl: synthetic.url,
    hooks: recordingHooks(),
  })
}, 120_000)

afterAll(async () => {
  await worker?.close()
  await Promise.allSettled([meta?.close(), synthetic?.close()])
  await env?.stop()
})

describe('SYNTHETIC_GRAPH_API_BASE_URL', () => {
  it('is read from the environment, and absent by default', () => {
    const base = {
      DATABASE_URL: 'postgresql://u:p@localhost:5432/db',
      REDIS_URL: 'redis://localhost:6379',
      ADMIN_TOKEN: TEST_SECRETS.adminToken,
      META_APP_SECRET: 'm'.repeat(16),
      META_VERIFY_TOKEN: 'v'.repeat(16),
      ENCRYPTION_KEY: TEST_SECRETS.encryptionKey.toString('base64'),
    }
    expect(loadConfig(base).syntheticGraphApiBaseUrl).toBeUndefined()
    expect(
      loadConfig({ ...base, SYNTHETIC_GRAPH_API_BASE_URL: 'http://fake-graph.s.internal:4004' })
        .syntheticGraphApiBaseUrl,
    ).toBe('http://fake-graph.s.internal:4004')
    expect(() => loadConfig({ ...base, SYNTHETIC_GRAPH_API_BASE_URL: 'ftp://x' })).toThrow(
      /SYNTHETIC_GRAPH_API_BASE_URL/,
    )
  })
})

describe('a phone number with its own Graph base URL', () => {
  it('is accepted when it is the synthetic Graph API, refused with 422 otherwise', async () => {
    const ok = await staging.app.inject({
      method: 'POST',
      url: '/api/v1/phone-numbers',
      headers: tenant.headers,
      payload: body('7000001', `${synthetic.url}/`),
    })
    expect(ok.statusCode).toBe(201)
    expect(ok.json().graphApiBaseUrl).toBe(`${synthetic.url}/`)

    const elsewhere = await staging.app.inject({
      method: 'POST',
      url: '/api/v1/phone-numbers',
      headers: tenant.headers,
      payload: body('7000002', 'https://attacker.example.com'),
    })
    expect(elsewhere.statusCode).toBe(422)
    expect(elsewhere.json().error).toMatchObject({ code: 'GRAPH_BASE_URL_NOT_ALLOWED' })
    expect(await staging.prisma.phoneNumber.findUnique({ where: { phoneNumberId: '7000002' } })).toBeNull()

    const patched = await staging.app.inject({
      method: 'PATCH',
      url: `/api/v1/phone-numbers/${ok.json().id}`,
      headers: tenant.headers,
      payload: { graphApiBaseUrl: 'http://169.254.169.254' },
    })
    expect(patched.statusCode).toBe(422)
    const cleared = await staging.app.inject({
      method: 'PATCH',
      url: `/api/v1/phone-numbers/${ok.json().id}`,
      headers: tenant.headers,
      payload: { graphApiBaseUrl: null },
    })
    expect(cleared.statusCode).toBe(200)
    expect(cleared.json().graphApiBaseUrl).toBeNull()
  })

  it('is refused everywhere when SYNTHETIC_GRAPH_API_BASE_URL is unset (production)', async () => {
    const other = await production.createTenant('production')
    const refused = await production.app.inject({
      method: 'POST',
      url: '/api/v1/phone-numbers',
      headers: other.headers,
      payload: body('7000003', synthetic.url),
    })
    expect(refused.statusCode).toBe(422)
    expect(refused.json().error.message).toMatch(/SYNTHETIC_GRAPH_API_BASE_URL is not set/)
    const plain = await production.app.inject({
      method: 'POST',
      url: '/api/v1/phone-numbers',
      headers: other.headers,
      payload: body('7000004'),
    })
    expect(plain.statusCode).toBe(201)
    expect(plain.json().graphApiBaseUrl).toBeNull()
  })

  it('sends through the synthetic Graph API; a stored override that is not it is ignored', async () => {
    const sendFrom = async (phoneNumberId: string, graphApiBaseUrl?: string) => {
      const phone = await seedPhoneNumber(staging.prisma, tenant.organizationId, phoneNumberId, {
        ...(graphApiBaseUrl ? { graphApiBaseUrl } : {}),
      })
      const to = `1555${phoneNumberId}`
      await seedConversation(staging.prisma, tenant.organizationId, phone.id, to, new Date(), false)
      const sent = await staging.app.inject({
        method: 'POST',
        url: '/api/v1/messages',
        headers: tenant.headers,
        payload: { phoneNumberId, to, type: 'text', text: { body: 'hi' } },
      })
      expect(sent.statusCode).toBe(202)
      await waitFor(
        () => staging.prisma.message.findUniqueOrThrow({ where: { id: sent.json().id } }),
        (m) => ['SENT', 'FAILED'].includes(m.status),
      )
      return to
    }
    const toSynthetic = await sendFrom('7100001', synthetic.url)
    expect(synthetic.state.requests.list({ path: '/messages' }).map((r) => r.to)).toContain(toSynthetic)
    expect(meta.state.requests.list({ path: '/messages' }).map((r) => r.to)).not.toContain(toSynthetic)

    // E.g. a row restored from another deployment's database: it goes to the real Graph API.
    const toMeta = await sendFrom('7100002', 'http://elsewhere.example.internal:4004')
    expect(meta.state.requests.list({ path: '/messages' }).map((r) => r.to)).toContain(toMeta)
    expect(synthetic.state.requests.list({ path: '/messages' }).map((r) => r.to)).not.toContain(toMeta)
  })
})
