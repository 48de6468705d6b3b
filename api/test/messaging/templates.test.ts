import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, DEFAULT_WABA_ID, type FakeGraph } from '../../src/fake-graph/index.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { GRAPH_TOKEN, seedPhoneNumber } from './fixtures.js'

let env: TestEnvironment
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let other: TestTenant

const sync = (who: TestTenant) =>
  t.app.inject({ method: 'POST', url: '/api/v1/templates/sync', headers: who.headers })
const list = (who: TestTenant, query = '') =>
  t.app.inject({ method: 'GET', url: `/api/v1/templates${query}`, headers: who.headers })

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({ accessToken: GRAPH_TOKEN })
  t = await env.startApp({ graphApiBaseUrl: fake.url })
  tenant = await t.createTenant()
  other = await t.createTenant()
  await seedPhoneNumber(t.prisma, tenant.organizationId, '3000001')
  await seedPhoneNumber(t.prisma, tenant.organizationId, '3000002', { wabaId: 'waba-two' })
  await seedPhoneNumber(t.prisma, other.organizationId, '3000003', { wabaId: 'waba-other' })
  for (let i = 0; i < 120; i++) fake.state.upsertTemplate('waba-two', { name: `bulk_${i}`, language: 'en' })
  fake.state.upsertTemplate(DEFAULT_WABA_ID, { name: 'order_update', language: 'de', status: 'PENDING' })
  fake.state.upsertTemplate('waba-other', { name: 'theirs', language: 'en' })
})
afterAll(async () => {
  await t?.close()
  await fake?.close()
  await env?.stop()
})

describe('templates', () => {
  it('syncs every WABA of the caller across pages and lists them', async () => {
    const res = await sync(tenant)
    expect(res.statusCode).toBe(200)
    expect(res.json().data).toEqual(
      expect.arrayContaining([
        { wabaId: DEFAULT_WABA_ID, templates: 2 },
        { wabaId: 'waba-two', templates: 120 },
      ]),
    )
    expect(await t.prisma.template.count({ where: { organizationId: tenant.organizationId } })).toBe(122)
    const approved = await list(tenant, '?phoneNumberId=3000001&status=approved')
    expect(approved.json().data.map((x: { name: string }) => x.name)).toEqual(['hello_world'])
  })

  it('upserts by (wabaId, name, language): a re-sync updates the status instead of duplicating', async () => {
    await sync(tenant)
    fake.state.upsertTemplate(DEFAULT_WABA_ID, { name: 'order_update', language: 'de', status: 'APPROVED' })
    fake.state.upsertTemplate(DEFAULT_WABA_ID, { name: 'hello_world', language: 'en_US', status: 'PAUSED' })
    await sync(tenant)
    expect(await t.prisma.template.count({ where: { organizationId: tenant.organizationId } })).toBe(122)
    const rows = (await list(tenant, `?phoneNumberId=3000001`)).json().data
    expect(rows.map((x: { name: string; status: string }) => [x.name, x.status])).toEqual([
      ['hello_world', 'PAUSED'],
      ['order_update', 'APPROVED'],
    ])
  })

  it('keeps tenants apart', async () => {
    await sync(other)
    const theirs = (await list(other)).json().data
    expect(theirs.map((x: { name: string }) => x.name)).toEqual(['theirs'])
    expect((await list(other, '?phoneNumberId=3000001')).statusCode).toBe(404)
  })

  it('answers 503 when the Graph API refuses the token', async () => {
    const lonely = await t.createTenant()
    const phone = await seedPhoneNumber(t.prisma, lonely.organizationId, '3000009', { wabaId: 'waba-bad' })
    await t.prisma.phoneNumber.update({
      where: { id: phone.id },
      data: {
        accessTokenEnc: (await import('../../src/crypto/secret-box.js')).encryptSecret(
          'wrong',
          Buffer.alloc(32, 7),
        ),
      },
    })
    expect((await sync(lonely)).statusCode).toBe(503)
  })
})
