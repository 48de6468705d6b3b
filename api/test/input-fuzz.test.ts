import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../src/fake-graph/index.js'
import {
  signMetaBody,
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from './harness/index.js'
import { createPhoneNumber } from './meta-fixtures.js'

// Malformed input on every write route and on the query and path parameters of the read routes must
// be answered 4xx, never 5xx. Cases are generated from fixed seeds, so every run sends the same ones.
const SEED = 20_261_129

let env: TestEnvironment
let t: TestApp
let fake: FakeGraph
let tenant: TestTenant
const ids: Record<
  'phoneNumber' | 'contact' | 'conversation' | 'message' | 'endpoint' | 'organization' | 'childKey',
  string
> = {
  phoneNumber: '',
  contact: '',
  conversation: '',
  message: '',
  endpoint: '',
  organization: '',
  childKey: '',
}

beforeAll(async () => {
  env = await startTestEnvironment()
  // Template sync reaches Graph: an unreachable Graph is a 503 by design, not an input problem.
  fake = await createFakeGraph({})
  t = await env.startApp({ graphApiBaseUrl: fake.url })
  tenant = await t.createTenant()
  ids.organization = tenant.organizationId
  const phone = await createPhoneNumber(t.prisma, tenant.organizationId, '1000000001')
  ids.phoneNumber = phone.id
  const contact = await t.prisma.contact.create({
    data: { organizationId: tenant.organizationId, waId: '4915100000001' },
  })
  ids.contact = contact.id
  const conversation = await t.prisma.conversation.create({
    data: { organizationId: tenant.organizationId, contactId: contact.id, phoneNumberId: phone.id },
  })
  ids.conversation = conversation.id
  const message = await t.prisma.message.create({
    data: {
      organizationId: tenant.organizationId,
      conversationId: conversation.id,
      phoneNumberId: phone.id,
      direction: 'INBOUND',
      status: 'RECEIVED',
      type: 'text',
      content: { body: 'hi' },
      wamid: 'wamid.FUZZ',
    },
  })
  ids.message = message.id
  const endpoint = await t.prisma.webhookEndpoint.create({
    data: {
      organizationId: tenant.organizationId,
      url: 'https://hooks.example.com/wa',
      events: ['message.received'],
      secretEnc: 'unused',
    },
  })
  ids.endpoint = endpoint.id
  // Rotation is fuzzed on a key minted by the tenant's key, which itself must keep working.
  const child = await t.app.inject({
    method: 'POST',
    url: '/api/v1/api-keys',
    headers: tenant.headers,
    payload: { name: 'child' },
  })
  ids.childKey = child.json().id
}, 120_000)
afterAll(async () => {
  await t?.close()
  await fake?.close()
  await env?.stop()
})

// ─── Generators ──────────────────────────────────────────────────────────────────────────────────
const nastyStrings = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\udbff',
  '😀\ud83d',
  '',
  ' ',
  'x'.repeat(70_000),
  '9'.repeat(400),
  '%00',
  '-004800-01-01T00:00:00Z',
  '+300000-01-01T00:00:00Z',
  '0000-00-00T00:00:00Z',
  '2026-02-30T25:61:61Z',
  '1e309',
  'null',
  '__proto__',
  '\'; DROP TABLE "Message"; --',
  'https://127.0.0.1:0/\u0000',
  '4915100000001',
)
const nastyNumbers = fc.constantFrom(
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 + 2,
  1e308,
  -1e308,
  0.5,
  -1,
  0,
  Number.MAX_SAFE_INTEGER,
)
const leaf = fc.oneof(
  { weight: 4, arbitrary: nastyStrings },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: nastyNumbers },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
)
const nastyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(nastyStrings, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 3 }),
  ),
})).value

function deeplyNested(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
}

interface WriteRoute {
  method: 'POST' | 'PATCH'
  url: () => string
  admin?: boolean
  valid: () => Record<string, unknown>
}

const WRITE_ROUTES: WriteRoute[] = [
  {
    method: 'POST',
    url: () => '/api/v1/messages',
    valid: () => ({ phoneNumberId: '1000000001', to: '+4915100000001', type: 'text', text: { body: 'hi' } }),
  },
  {
    method: 'POST',
    url: () => '/api/v1/messages',
    valid: () => ({
      phoneNumberId: '1000000001',
      to: '4915100000001',
      type: 'template',
      template: {
        name: 'hello',
        language: { code: 'en_US' },
        components: [{ type: 'body', parameters: [] }],
      },
    }),
  },
  {
    method: 'POST',
    url: () => '/api/v1/contacts',
    valid: () => ({ waId: '4915100000002', profileName: 'Ann', attributes: { plan: 'gold' } }),
  },
  {
    method: 'PATCH',
    url: () => `/api/v1/contacts/${ids.contact}`,
    valid: () => ({ profileName: 'Bob', attributes: { tier: 2 } }),
  },
  {
    method: 'POST',
    url: () => '/api/v1/phone-numbers',
    valid: () => ({
      wabaId: 'waba-fuzz',
      phoneNumberId: 'pn-fuzz',
      displayPhoneNumber: '+1 555 000',
      accessToken: 'token-token-token',
      throughputMps: 80,
    }),
  },
  {
    method: 'PATCH',
    url: () => `/api/v1/phone-numbers/${ids.phoneNumber}`,
    valid: () => ({ verifiedName: 'Shop', throughputMps: 20 }),
  },
  {
    method: 'POST',
    url: () => '/api/v1/webhook-endpoints',
    valid: () => ({ url: 'https://hooks.example.com/x', events: ['message.status'], description: 'd' }),
  },
  {
    method: 'PATCH',
    url: () => `/api/v1/webhook-endpoints/${ids.endpoint}`,
    valid: () => ({ description: 'e', enabled: true }),
  },
  { method: 'POST', url: () => '/api/v1/templates/sync', valid: () => ({}) },
  { method: 'POST', url: () => '/api/v1/api-keys', valid: () => ({ name: 'k', scopes: ['contacts:read'] }) },
  {
    method: 'POST',
    url: () => `/api/v1/api-keys/${ids.childKey}/rotate`,
    valid: () => ({ name: 'next', retireOldInSeconds: 3600 }),
  },
  { method: 'POST', url: () => '/api/v1/organizations', admin: true, valid: () => ({ name: 'Org' }) },
  {
    method: 'POST',
    url: () => `/api/v1/organizations/${ids.organization}/api-keys`,
    admin: true,
    valid: () => ({ name: 'k', expiresAt: '2030-01-01T00:00:00Z' }),
  },
]

/** A raw request body: a valid body with one field (or a nested one) replaced, added, or the whole body replaced. */
const bodyCase = fc.record({
  route: fc.nat({ max: WRITE_ROUTES.length - 1 }),
  mutation: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({ kind: fc.constant('field' as const), pick: fc.nat(), value: nastyValue }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('extra' as const), key: nastyStrings, value: nastyValue }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: nastyValue }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('raw' as const),
        text: fc.constantFrom(
          deeplyNested(20_000),
          deeplyNested(65),
          '{"a":"\u0000"}',
          '{"a":1e999}',
          '{"a":',
          '"\\ud800"',
          '[]',
          '',
        ),
      }),
    },
  ),
})

function applyMutation(route: WriteRoute, mutation: Mutation): string {
  const body = route.valid()
  switch (mutation.kind) {
    case 'raw':
      return mutation.text
    case 'whole':
      return JSON.stringify(mutation.value) ?? 'null'
    case 'extra':
      return JSON.stringify({ ...body, [mutation.key]: mutation.value })
    case 'field': {
      // Picks a leaf or an object among the valid body's fields, at any depth.
      const paths: string[][] = []
      const walk = (value: unknown, path: string[]) => {
        if (path.length > 0) paths.push(path)
        if (value && typeof value === 'object')
          for (const [key, child] of Object.entries(value)) walk(child, [...path, key])
      }
      walk(body, [])
      if (paths.length === 0) return JSON.stringify({ x: mutation.value })
      const path = paths[mutation.pick % paths.length]!
      let target = body as Record<string, unknown>
      for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>
      target[path.at(-1)!] = mutation.value
      return JSON.stringify(body)
    }
  }
}
type Mutation =
  | { kind: 'field'; pick: number; value: unknown }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'whole'; value: unknown }
  | { kind: 'raw'; text: string }

// Read routes: query values and path segments, percent-encoded byte by byte where needed so that
// invalid UTF-8 and NUL reach the server as a client could send them.
const encodedStrings = fc.oneof(
  nastyStrings.map((value) => {
    try {
      return encodeURIComponent(value)
    } catch {
      return '%ED%A0%80' // a lone surrogate has no UTF-8 form: its would-be bytes
    }
  }),
  fc.constantFrom(
    '%00',
    '%ED%A0%80',
    '%FF',
    '%C0%80',
    '%',
    '%zz',
    '..',
    '%2e%2e',
    'a%2Fb',
    '-1',
    '999999999999999999999',
  ),
)
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const cursors = fc.constantFrom(
  cursor(['+300000-01-01T00:00:00.000Z', 'x']),
  cursor(['+275760-09-13T00:00:00.000Z', 'x']),
  cursor(['-271821-04-20T00:00:00.000Z', 'x']),
  cursor(['-004800-01-01T00:00:00.000Z', 'x']),
  cursor(['2026-01-01T00:00:00.000Z', 'a\u0000b']),
  cursor(['2026-01-01T00:00:00.000Z', '\ud800']),
  cursor(['2026-01-01T00:00:00.000Z', 'x'.repeat(5000)]),
  cursor(['2026-01-01T00:00:00.000Z', 7]),
  cursor([1e20, 'x']),
  cursor({ at: 1 }),
  cursor(null),
  'not-base64!',
  '',
)

const READ_ROUTES: Array<{ path: (id: string) => string; query: string[]; admin?: boolean }> = [
  {
    path: () => '/api/v1/messages',
    query: ['limit', 'cursor', 'status', 'direction', 'phoneNumberId', 'conversationId'],
  },
  { path: (id) => `/api/v1/messages/${id}`, query: [] },
  { path: () => '/api/v1/conversations', query: ['limit', 'cursor', 'phoneNumberId'] },
  { path: (id) => `/api/v1/conversations/${id}`, query: [] },
  { path: (id) => `/api/v1/conversations/${id}/messages`, query: ['limit', 'cursor'] },
  { path: () => '/api/v1/contacts', query: ['limit', 'cursor', 'waId', 'optedOut'] },
  { path: (id) => `/api/v1/contacts/${id}`, query: [] },
  { path: () => '/api/v1/phone-numbers', query: ['limit', 'cursor'] },
  { path: (id) => `/api/v1/phone-numbers/${id}`, query: [] },
  { path: () => '/api/v1/api-keys', query: ['limit', 'cursor'] },
  { path: () => '/api/v1/webhook-endpoints', query: ['limit'] },
  { path: (id) => `/api/v1/webhook-endpoints/${id}`, query: [] },
  { path: (id) => `/api/v1/webhook-endpoints/${id}/deliveries`, query: ['limit', 'cursor'] },
  { path: () => '/api/v1/templates', query: ['phoneNumberId', 'status', 'name', 'limit'] },
  { path: () => '/webhooks/whatsapp', query: ['hub.mode', 'hub.verify_token', 'hub.challenge'] },
  { path: () => '/api/v1/audit-log', query: ['organizationId', 'limit', 'cursor'], admin: true },
]

const readCase = fc.record({
  route: fc.nat({ max: READ_ROUTES.length - 1 }),
  id: encodedStrings,
  query: fc.array(fc.tuple(fc.nat(), fc.oneof(encodedStrings, cursors)), { maxLength: 3 }),
})

// ─── Runner ──────────────────────────────────────────────────────────────────────────────────────
interface Failure {
  request: string
  status: number
  body: string
}

const headers = (admin = false) => ({
  authorization: admin ? `Bearer ${TEST_SECRETS.adminToken}` : tenant.headers.authorization,
})

describe('malformed input never answers 5xx', () => {
  it('write routes: 600 generated bodies', async () => {
    const cases = fc.sample(bodyCase, { seed: SEED, numRuns: 600 })
    const failures: Failure[] = []
    const statuses = new Map<number, number>()
    for (const { route: index, mutation } of cases) {
      const route = WRITE_ROUTES[index]!
      const payload = applyMutation(route, mutation as Mutation)
      const response = await t.app.inject({
        method: route.method,
        url: route.url(),
        headers: { ...headers(route.admin), 'content-type': 'application/json' },
        payload,
      })
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      if (response.statusCode >= 500)
        failures.push({
          request: `${route.method} ${route.url()} ${payload.slice(0, 200)}`,
          status: response.statusCode,
          body: response.body.slice(0, 300),
        })
    }
    console.log('write-route fuzz statuses', Object.fromEntries(statuses))
    expect(failures).toEqual([])
    // The cases must reach the handlers too, not all stop at one check.
    expect([...statuses.keys()].filter((status) => status < 300).length).toBeGreaterThan(0)
  }, 600_000)

  it('read routes: 800 generated path and query parameters', async () => {
    const cases = fc.sample(readCase, { seed: SEED + 1, numRuns: 800 })
    const failures: Failure[] = []
    const statuses = new Map<number, number>()
    for (const { route: index, id, query } of cases) {
      const route = READ_ROUTES[index]!
      const search =
        route.query.length === 0
          ? ''
          : query.map(([pick, value]) => `${route.query[pick % route.query.length]}=${value}`).join('&')
      const url = `${route.path(id)}${search ? `?${search}` : ''}`
      const response = await t.app.inject({ method: 'GET', url, headers: headers(route.admin) })
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      if (response.statusCode >= 500)
        failures.push({
          request: `GET ${url.slice(0, 300)}`,
          status: response.statusCode,
          body: response.body.slice(0, 300),
        })
    }
    console.log('read-route fuzz statuses', Object.fromEntries(statuses))
    expect(failures).toEqual([])
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0)
  }, 300_000)

  it('the Meta webhook: signed poison and deep bodies are answered 200 or 4xx', async () => {
    const bodies = [
      deeplyNested(20_000),
      '{"object":"whatsapp_business_account","entry":[{"id":"\\u0000"}]}',
      '{"object":"whatsapp_business_account","entry":[{"id":"\\udfff"}]}',
      '{"object":"whatsapp_business_account","entry":[{"id":1e999}]}',
      '[1,2]',
      '{"a":',
    ]
    for (const body of bodies) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body) },
        payload: body,
      })
      expect(response.statusCode, body.slice(0, 80)).toBeLessThan(500)
    }
  })
})
