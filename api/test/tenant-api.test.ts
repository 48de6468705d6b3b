import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decryptSecret } from '../src/crypto/secret-box.js'
import { processInboundWebhook } from '../src/inbound/process-webhook.js'
import {
  signMetaBody,
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from './harness/index.js'
import { envelope, messagesChange } from './meta-fixtures.js'

let env: TestEnvironment
let t: TestApp
let a: TestTenant
let b: TestTenant
const admin = { authorization: `Bearer ${TEST_SECRETS.adminToken}` }

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
  a = await t.createTenant('A')
  b = await t.createTenant('B')
})
afterAll(async () => {
  await env?.stop()
})

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
function call(method: Method, url: string, headers: Record<string, string>, payload?: unknown) {
  return t.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  })
}

async function createPhone(tenant: TestTenant, phoneNumberId: string) {
  const response = await call('POST', '/api/v1/phone-numbers', tenant.headers, {
    wabaId: `waba-${phoneNumberId}`,
    phoneNumberId,
    displayPhoneNumber: '+1 555 0100',
    accessToken: 'EAAG-secret-graph-token',
  })
  expect(response.statusCode).toBe(201)
  return response.json()
}

describe('platform admin', () => {
  it('creates organizations and first keys only with the admin token', async () => {
    expect((await call('POST', '/api/v1/organizations', {}, { name: 'Acme' })).statusCode).toBe(401)
    expect(
      (await call('POST', '/api/v1/organizations', { authorization: 'Bearer nope' }, { name: 'Acme' }))
        .statusCode,
    ).toBe(401)
    expect((await call('POST', '/api/v1/organizations', a.headers, { name: 'Acme' })).statusCode).toBe(401)
    const org = await call('POST', '/api/v1/organizations', admin, { name: 'Acme Corp' })
    expect(org.statusCode).toBe(201)
    expect(org.json().slug).toMatch(/^acme-corp-/)
    const key = await call('POST', `/api/v1/organizations/${org.json().id}/api-keys`, admin, {
      name: 'first',
    })
    expect(key.statusCode).toBe(201)
    expect(key.json().key).toMatch(/^wsk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/)
    const me = await call('GET', '/api/v1/organization', { authorization: `Bearer ${key.json().key}` })
    expect(me.json()).toMatchObject({ id: org.json().id, name: 'Acme Corp' })
    expect((await call('POST', '/api/v1/organizations/nope/api-keys', admin, { name: 'x' })).statusCode).toBe(
      404,
    )
  })

  it('answers 409 to a taken slug', async () => {
    expect(
      (await call('POST', '/api/v1/organizations', admin, { name: 'S', slug: 'same-slug' })).statusCode,
    ).toBe(201)
    const again = await call('POST', '/api/v1/organizations', admin, { name: 'S', slug: 'same-slug' })
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe('SLUG_TAKEN')
    expect(again.json().error.message).toBe('slug same-slug is already used')
  })

  it('finds an organization by slug for the admin only', async () => {
    const created = (
      await call('POST', '/api/v1/organizations', admin, { name: 'F', slug: 'found-by-slug' })
    ).json()
    const found = await call('GET', '/api/v1/organizations?slug=found-by-slug', admin)
    expect(found.statusCode).toBe(200)
    expect(found.json()).toEqual({ data: [created] })
    expect((await call('GET', '/api/v1/organizations?slug=no-such-slug', admin)).json()).toEqual({ data: [] })
    expect((await call('GET', '/api/v1/organizations?slug=found-by-slug', a.headers)).statusCode).toBe(401)
  })
})

describe('API keys', () => {
  it('stores only a hash, lists keys without secrets, records use', async () => {
    const created = await call('POST', '/api/v1/api-keys', a.headers, { name: 'ci' })
    expect(created.statusCode).toBe(201)
    const { key, id } = created.json()
    const row = await t.prisma.apiKey.findUniqueOrThrow({ where: { id } })
    expect(row.hashedKey).not.toContain(key)
    expect(JSON.stringify(row)).not.toContain(key.split('_')[2])
    expect((await call('GET', '/api/v1/organization', { authorization: `Bearer ${key}` })).statusCode).toBe(
      200,
    )
    const list = await call('GET', '/api/v1/api-keys', a.headers)
    expect(list.body).not.toContain(key)
    expect(list.json().data.map((k: { id: string }) => k.id)).toContain(id)
    let used: Date | null = null
    for (let i = 0; i < 100 && !used; i++) {
      used = (await t.prisma.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt
      if (!used) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(used).not.toBeNull()
  })

  it('refuses a revoked key with 401, and another tenant revoking it with 404', async () => {
    const { key, id } = (await call('POST', '/api/v1/api-keys', a.headers, { name: 'temp' })).json()
    expect((await call('DELETE', `/api/v1/api-keys/${id}`, b.headers)).statusCode).toBe(404)
    expect((await call('GET', '/api/v1/organization', { authorization: `Bearer ${key}` })).statusCode).toBe(
      200,
    )
    expect((await call('DELETE', `/api/v1/api-keys/${id}`, a.headers)).statusCode).toBe(204)
    const refused = await call('GET', '/api/v1/organization', { authorization: `Bearer ${key}` })
    expect(refused.statusCode).toBe(401)
    expect(refused.json()).toEqual({
      error: { code: 'UNAUTHORIZED', message: expect.any(String), details: null },
    })
  })

  it('enforces scopes and refuses to grant scopes the caller lacks', async () => {
    const { key } = (
      await call('POST', '/api/v1/api-keys', a.headers, { name: 'ro', scopes: ['contacts:read'] })
    ).json()
    const readOnly = { authorization: `Bearer ${key}` }
    expect((await call('GET', '/api/v1/contacts', readOnly)).statusCode).toBe(200)
    expect((await call('POST', '/api/v1/contacts', readOnly, { waId: '15550001' })).statusCode).toBe(403)
    expect((await call('POST', '/api/v1/api-keys', readOnly, { name: 'x' })).statusCode).toBe(403)
  })

  it('answers 401 to missing and malformed keys', async () => {
    expect((await call('GET', '/api/v1/organization', {})).statusCode).toBe(401)
    expect(
      (await call('GET', '/api/v1/organization', { authorization: 'Bearer wsk_abc_def' })).statusCode,
    ).toBe(401)
    const forged = `${a.apiKey.slice(0, -4)}AAAA`
    expect(
      (await call('GET', '/api/v1/organization', { authorization: `Bearer ${forged}` })).statusCode,
    ).toBe(401)
  })
})

describe('phone numbers', () => {
  it('never returns the access token and stores it encrypted', async () => {
    const phone = await createPhone(a, 'pn-a-1')
    expect(JSON.stringify(phone)).not.toContain('EAAG')
    expect(phone).toMatchObject({ phoneNumberId: 'pn-a-1', status: 'ACTIVE', throughputMps: 80 })
    const row = await t.prisma.phoneNumber.findUniqueOrThrow({ where: { id: phone.id } })
    expect(row.accessTokenEnc).not.toContain('EAAG')
    expect(decryptSecret(row.accessTokenEnc, TEST_SECRETS.encryptionKey)).toBe('EAAG-secret-graph-token')
    const list = await call('GET', '/api/v1/phone-numbers', a.headers)
    expect(list.body).not.toContain('EAAG')
    expect(list.body).not.toContain('accessToken')
  })

  it('is isolated per tenant, unique across tenants, configurable, deletable', async () => {
    const phone = await createPhone(a, 'pn-a-2')
    expect((await call('GET', `/api/v1/phone-numbers/${phone.id}`, b.headers)).statusCode).toBe(404)
    expect((await call('DELETE', `/api/v1/phone-numbers/${phone.id}`, b.headers)).statusCode).toBe(404)
    expect(
      (await call('PATCH', `/api/v1/phone-numbers/${phone.id}`, b.headers, { throughputMps: 5 })).statusCode,
    ).toBe(404)
    const taken = await call('POST', '/api/v1/phone-numbers', b.headers, {
      wabaId: 'w',
      phoneNumberId: 'pn-a-2',
      displayPhoneNumber: '+1 555',
      accessToken: 'another-token',
    })
    expect(taken.statusCode).toBe(409)
    const patched = await call('PATCH', `/api/v1/phone-numbers/${phone.id}`, a.headers, { throughputMps: 20 })
    expect(patched.json().throughputMps).toBe(20)
    expect((await call('DELETE', `/api/v1/phone-numbers/${phone.id}`, a.headers)).statusCode).toBe(204)
    expect((await call('GET', `/api/v1/phone-numbers/${phone.id}`, a.headers)).statusCode).toBe(404)
  })

  it('answers 400 naming the invalid field', async () => {
    const missing = await call('POST', '/api/v1/phone-numbers', a.headers, {
      wabaId: 'w',
      phoneNumberId: 'p',
      displayPhoneNumber: '+1 555',
    })
    expect(missing.statusCode).toBe(400)
    expect(missing.json().error.code).toBe('VALIDATION_ERROR')
    expect(missing.json().error.message).toContain('accessToken')
    const bad = await call('POST', '/api/v1/phone-numbers', a.headers, {
      wabaId: 'w',
      phoneNumberId: 'p',
      displayPhoneNumber: '+1 555',
      accessToken: 'token-123456',
      throughputMps: 0,
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.message).toContain('throughputMps')
    // Sent as an Authorization header later, where the HTTP client refuses a control character.
    const unsendable = await call('POST', '/api/v1/phone-numbers', a.headers, {
      wabaId: 'w',
      phoneNumberId: 'p',
      displayPhoneNumber: '+1 555',
      accessToken: 'token\u0003123456',
    })
    expect(unsendable.statusCode).toBe(400)
    expect(unsendable.json().error.message).toContain('accessToken')
  })
})

describe('contacts', () => {
  it('creates, reads, updates, opts out and in, isolated per tenant', async () => {
    const created = await call('POST', '/api/v1/contacts', a.headers, {
      waId: '16505550001',
      profileName: 'Ann',
      attributes: { tier: 'gold' },
    })
    expect(created.statusCode).toBe(201)
    const id = created.json().id
    expect((await call('POST', '/api/v1/contacts', a.headers, { waId: '16505550001' })).statusCode).toBe(409)
    expect((await call('POST', '/api/v1/contacts', b.headers, { waId: '16505550001' })).statusCode).toBe(201)
    expect((await call('GET', `/api/v1/contacts/${id}`, b.headers)).statusCode).toBe(404)
    expect((await call('PATCH', `/api/v1/contacts/${id}`, b.headers, { profileName: 'x' })).statusCode).toBe(
      404,
    )
    expect((await call('POST', `/api/v1/contacts/${id}/opt-out`, b.headers)).statusCode).toBe(404)
    const patched = await call('PATCH', `/api/v1/contacts/${id}`, a.headers, { profileName: 'Anna' })
    expect(patched.json()).toMatchObject({ profileName: 'Anna', attributes: { tier: 'gold' } })
    const out = await call('POST', `/api/v1/contacts/${id}/opt-out`, a.headers)
    expect(out.json()).toMatchObject({ optedOut: true, optOutSource: 'api' })
    const optedOut = await call('GET', '/api/v1/contacts?optedOut=true', a.headers)
    expect(optedOut.json().data.map((c: { id: string }) => c.id)).toEqual([id])
    const back = await call('POST', `/api/v1/contacts/${id}/opt-in`, a.headers)
    expect(back.json()).toMatchObject({ optedOut: false, optedOutAt: null })
  })

  it('requires waId or bsuid and validates waId', async () => {
    const none = await call('POST', '/api/v1/contacts', a.headers, { profileName: 'x' })
    expect(none.statusCode).toBe(400)
    expect(none.json().error.message).toContain('waId')
    const bad = await call('POST', '/api/v1/contacts', a.headers, { waId: '+1 (555)' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.details[0].field).toBe('body.waId')
    const extra = await call('POST', '/api/v1/contacts', a.headers, { waId: '1555000999', admin: true })
    expect(extra.statusCode).toBe(400)
  })
})

describe('unique-key conflicts, answered by the error handler', () => {
  it('answers 409 CONTACT_EXISTS naming the taken waId or bsuid', async () => {
    expect((await call('POST', '/api/v1/contacts', a.headers, { waId: '16505550077' })).statusCode).toBe(201)
    const waId = await call('POST', '/api/v1/contacts', a.headers, { waId: '16505550077' })
    expect(waId.statusCode).toBe(409)
    expect(waId.json().error).toEqual({
      code: 'CONTACT_EXISTS',
      message: 'waId 16505550077 is already used',
      details: { fields: ['organizationId', 'waId'] },
    })
    expect((await call('POST', '/api/v1/contacts', a.headers, { bsuid: 'US.conflict-1' })).statusCode).toBe(
      201,
    )
    const bsuid = await call('POST', '/api/v1/contacts', a.headers, {
      waId: '16505550078',
      bsuid: 'US.conflict-1',
    })
    expect(bsuid.statusCode).toBe(409)
    expect(bsuid.json().error).toMatchObject({
      code: 'CONTACT_EXISTS',
      message: 'bsuid US.conflict-1 is already used',
    })
  })

  it('answers 409 PHONE_NUMBER_TAKEN naming phoneNumberId, and re-registers a number its organization deleted', async () => {
    const register = (tenant: TestTenant, phoneNumberId: string) =>
      call('POST', '/api/v1/phone-numbers', tenant.headers, {
        wabaId: 'waba-conflict',
        phoneNumberId,
        displayPhoneNumber: '+1 555 0199',
        accessToken: 'EAAG-conflict-token',
      })
    const taken = { code: 'PHONE_NUMBER_TAKEN', details: { fields: ['phoneNumberId'] } }
    const first = await register(a, 'pn-conflict-1')
    expect(first.statusCode).toBe(201)
    for (const tenant of [a, b]) {
      const again = await register(tenant, 'pn-conflict-1')
      expect(again.statusCode).toBe(409)
      expect(again.json().error).toEqual({ ...taken, message: 'phoneNumberId pn-conflict-1 is already used' })
    }
    // Deleted by A: still B's conflict, A's own number again (the same row, its history kept).
    expect((await call('DELETE', `/api/v1/phone-numbers/${first.json().id}`, a.headers)).statusCode).toBe(204)
    expect((await register(b, 'pn-conflict-1')).json().error).toMatchObject(taken)
    const back = await register(a, 'pn-conflict-1')
    expect(back.statusCode).toBe(201)
    expect(back.json().id).toBe(first.json().id)

    // Registrations racing for a new number: one stored, the others answered the same 409.
    const raced = await Promise.all([a, b, a, b].map((tenant) => register(tenant, 'pn-conflict-race')))
    expect(raced.map((response) => response.statusCode).sort()).toEqual([201, 409, 409, 409])
    for (const response of raced.filter((r) => r.statusCode === 409))
      expect(response.json().error).toEqual({
        ...taken,
        message: 'phoneNumberId pn-conflict-race is already used',
      })
  })
})

describe('conversations and messages', () => {
  it('lists inbound messages with cursor pagination, isolated per tenant', async () => {
    const phone = await createPhone(a, 'pn-a-conv')
    const base = Math.floor(Date.now() / 1000) - 600
    const messages = Array.from({ length: 5 }, (_, i) => ({
      wamid: `wamid.C${i}`,
      from: '16505557777',
      body: `m${i}`,
      timestamp: base + i,
    }))
    const body = JSON.stringify(envelope([{ changes: [messagesChange(phone.phoneNumberId, messages)] }]))
    const posted = await t.app.inject({
      method: 'POST',
      url: '/webhooks/whatsapp',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body) },
      payload: body,
    })
    expect(posted.statusCode).toBe(200)
    for (const row of await t.prisma.inboundWebhook.findMany({ where: { processedAt: null } }))
      await processInboundWebhook(t.prisma, row.id, { optOutKeywords: [], log: pino({ level: 'silent' }) })

    const conversations = await call(
      'GET',
      `/api/v1/conversations?phoneNumberId=${phone.phoneNumberId}`,
      a.headers,
    )
    expect(conversations.statusCode).toBe(200)
    const [conversation] = conversations.json().data
    expect(conversation.contact.waId).toBe('16505557777')
    expect(conversation.serviceWindowExpiresAt).toBe(
      new Date((base + 4) * 1000 + 24 * 3600 * 1000).toISOString(),
    )
    expect(conversation.serviceWindowOpen).toBe(true)
    expect(
      (await call('GET', `/api/v1/conversations?phoneNumberId=${phone.phoneNumberId}`, b.headers)).json()
        .data,
    ).toEqual([])
    expect((await call('GET', `/api/v1/conversations/${conversation.id}`, b.headers)).statusCode).toBe(404)
    expect(
      (await call('GET', `/api/v1/conversations/${conversation.id}/messages`, b.headers)).statusCode,
    ).toBe(404)

    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `/api/v1/conversations/${conversation.id}/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const page = (await call('GET', url, a.headers)).json()
      seen.push(...page.data.map((m: { wamid: string }) => m.wamid))
      cursor = page.nextCursor
      pages += 1
    } while (cursor && pages < 10)
    expect(pages).toBe(3)
    expect(new Set(seen).size).toBe(5)

    const list = await call('GET', '/api/v1/messages?direction=inbound&status=received&limit=100', a.headers)
    const message = list.json().data.find((m: { wamid: string }) => m.wamid === 'wamid.C3')
    expect(message).toMatchObject({
      status: 'received',
      direction: 'inbound',
      phoneNumberId: 'pn-a-conv',
      content: { text: { body: 'm3' } },
    })
    const one = await call('GET', `/api/v1/messages/${message.id}`, a.headers)
    expect(one.json()).toMatchObject({ id: message.id, status: 'received', wamid: 'wamid.C3' })
    expect((await call('GET', `/api/v1/messages/${message.id}`, b.headers)).statusCode).toBe(404)
    expect((await call('GET', '/api/v1/messages?limit=100', b.headers)).json().data).toEqual([])
  })

  it('answers 400 to a forged cursor and to an unknown status filter', async () => {
    const cursor = await call('GET', '/api/v1/messages?cursor=garbage', a.headers)
    expect(cursor.statusCode).toBe(400)
    expect(cursor.json().error.details[0].field).toBe('querystring.cursor')
    expect((await call('GET', '/api/v1/messages?status=lost', a.headers)).statusCode).toBe(400)
  })
})

describe('errors, limits and docs', () => {
  it('answers unknown routes with the error shape', async () => {
    const response = await call('GET', '/api/v1/nothing-here', a.headers)
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({
      error: { code: 'NOT_FOUND', message: expect.any(String), details: null },
    })
  })

  it('refuses bodies over the API limit with 413', async () => {
    const response = await call(
      'POST',
      '/api/v1/contacts',
      { ...a.headers, 'content-type': 'application/json' },
      JSON.stringify({ waId: '1555', profileName: 'x'.repeat(300 * 1024) }),
    )
    expect(response.statusCode).toBe(413)
    expect(response.json().error).toBeDefined()
  })

  it('rate-limits per API key with 429 in the error shape', async () => {
    const limited = await env.startApp({ rateLimitPerMinute: 3 })
    const tenant = await limited.createTenant()
    const other = await limited.createTenant()
    const codes: number[] = []
    for (let i = 0; i < 4; i++)
      codes.push(
        (await limited.app.inject({ method: 'GET', url: '/api/v1/organization', headers: tenant.headers }))
          .statusCode,
      )
    expect(codes).toEqual([200, 200, 200, 429])
    const refused = await limited.app.inject({
      method: 'GET',
      url: '/api/v1/organization',
      headers: tenant.headers,
    })
    expect(refused.json().error.code).toBe('RATE_LIMITED')
    expect(
      (await limited.app.inject({ method: 'GET', url: '/api/v1/organization', headers: other.headers }))
        .statusCode,
    ).toBe(200)
    expect((await limited.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
    await limited.close()
  })

  it('serves Swagger UI at /docs', async () => {
    const response = await call('GET', '/docs/', {})
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/text\/html/)
  })
})
