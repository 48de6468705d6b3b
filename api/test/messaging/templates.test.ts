import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encryptSecret } from '../../src/crypto/secret-box.js'
import { createFakeGraph, DEFAULT_WABA_ID, type FakeGraph } from '../../src/fake-graph/index.js'
import {
  startTestEnvironment,
  TEST_SECRETS,
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

describe('a template sync always ends', () => {
  it('a stored token the HTTP client refuses is a 503, and does not wedge the sync of other tenants', async () => {
    const broken = await t.createTenant()
    const phone = await seedPhoneNumber(t.prisma, broken.organizationId, '3000011', { wabaId: 'waba-ctl' })
    await t.prisma.phoneNumber.update({
      where: { id: phone.id },
      data: { accessTokenEnc: encryptSecret('token\u0003token', TEST_SECRETS.encryptionKey) },
    })
    // More refusals than the sync's Graph client has connections (4): each one used to leave a
    // connection counted busy, and the sync after the fourth waited in the client's queue forever.
    for (let i = 0; i < 6; i++) {
      const res = await sync(broken)
      expect(res.statusCode).toBe(503)
      expect(res.json().error.message).toMatch(/not a valid HTTP header value/)
    }
    const res = await sync(tenant)
    expect(res.statusCode).toBe(200)
    expect(res.json().data).toContainEqual({ wabaId: 'waba-two', templates: 120 })
  })

  it('past its deadline answers 504 naming what was synced, and the WABAs synced stay stored', async () => {
    const bounded = await env.startApp({
      graphApiBaseUrl: fake.url,
      messaging: { templateSyncDeadlineMs: 1_000 },
    })
    try {
      const owner = await bounded.createTenant()
      const first = await seedPhoneNumber(bounded.prisma, owner.organizationId, '3000021', {
        wabaId: 'waba-quick',
      })
      await bounded.prisma.phoneNumber.update({
        where: { id: first.id },
        data: { createdAt: new Date(Date.now() - 60_000) },
      })
      await seedPhoneNumber(bounded.prisma, owner.organizationId, '3000022', { wabaId: 'waba-stuck' })
      fake.state.upsertTemplate('waba-quick', { name: 'quick', language: 'en' })
      // Answers long after the deadline (but within the Graph call timeout): only the deadline ends it.
      const fault = fake.state.faults.add({
        match: { path: '/waba-stuck/message_templates' },
        latencyMs: 5_000,
      })
      const res = await bounded.app.inject({
        method: 'POST',
        url: '/api/v1/templates/sync',
        headers: owner.headers,
      })
      fake.state.faults.remove(fault.id)
      expect(res.statusCode).toBe(504)
      expect(res.json().error).toMatchObject({
        code: 'TEMPLATE_SYNC_DEADLINE',
        details: { synced: [{ wabaId: 'waba-quick', templates: 1 }], notSynced: ['waba-stuck'] },
      })
      const stored = await bounded.prisma.template.findMany({
        where: { organizationId: owner.organizationId },
      })
      expect(stored.map((row) => [row.wabaId, row.name])).toEqual([['waba-quick', 'quick']])
    } finally {
      await bounded.close()
    }
  })
})
