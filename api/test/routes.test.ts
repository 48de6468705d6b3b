import { Value } from '@sinclair/typebox/value'
import type { InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFakeGraph } from '../src/fake-graph/server.js'
import { ErrorResponse } from '../src/http/error-responses.js'
import {
  signMetaBody,
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
} from './harness/index.js'

// Every URL the API serves (besides /docs), as clients and Meta call them. A change of a plugin's
// prefix or of a route's path must show here.
const API_ROUTES = [
  'DELETE /api/v1/api-keys/{id}',
  'DELETE /api/v1/organizations/{id}/api-keys/{keyId}',
  'DELETE /api/v1/phone-numbers/{id}',
  'DELETE /api/v1/webhook-endpoints/{id}',
  'GET /api/v1/api-keys',
  'GET /api/v1/audit-log',
  'GET /api/v1/contacts',
  'GET /api/v1/contacts/{id}',
  'GET /api/v1/conversations',
  'GET /api/v1/conversations/{id}',
  'GET /api/v1/conversations/{id}/messages',
  'GET /api/v1/messages',
  'GET /api/v1/messages/{id}',
  'GET /api/v1/organization',
  'GET /api/v1/organizations',
  'GET /api/v1/phone-numbers',
  'GET /api/v1/phone-numbers/{id}',
  'GET /api/v1/status',
  'GET /api/v1/templates',
  'GET /api/v1/webhook-endpoints',
  'GET /api/v1/webhook-endpoints/{id}',
  'GET /api/v1/webhook-endpoints/{id}/deliveries',
  'GET /health',
  'GET /health/live',
  'GET /webhooks/whatsapp',
  'PATCH /api/v1/contacts/{id}',
  'PATCH /api/v1/phone-numbers/{id}',
  'PATCH /api/v1/webhook-endpoints/{id}',
  'POST /api/v1/api-keys',
  'POST /api/v1/api-keys/{id}/rotate',
  'POST /api/v1/contacts',
  'POST /api/v1/contacts/{id}/opt-in',
  'POST /api/v1/contacts/{id}/opt-out',
  'POST /api/v1/messages',
  'POST /api/v1/organizations',
  'POST /api/v1/organizations/{id}/api-keys',
  'POST /api/v1/phone-numbers',
  'POST /api/v1/templates/sync',
  'POST /api/v1/webhook-endpoints',
  'POST /api/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry',
  'POST /webhooks/whatsapp',
]

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT'

/** A concrete URL of an OpenAPI path ("{id}" → "x"). */
const concrete = (path: string) => path.replaceAll(/\{[^}]+\}/g, 'x')

/** The not-found handler's answer: no route matched the method and URL. */
function isRouteNotFound(response: { statusCode: number; body: string }): boolean {
  return response.statusCode === 404 && /"route [A-Z]+ \S+ not found"/.test(response.body)
}

let env: TestEnvironment
let t: TestApp

beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
})
afterAll(async () => {
  await env?.stop()
})

describe('served routes', () => {
  it('documents exactly the pinned routes', async () => {
    const paths = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json().paths as Record<
      string,
      Record<string, unknown>
    >
    const documented = Object.entries(paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(documented.sort()).toEqual([...API_ROUTES].sort())
  })

  it('serves every pinned route at its URL', async () => {
    for (const route of API_ROUTES) {
      const [method, path] = route.split(' ') as [Method, string]
      const response = await t.app.inject({ method, url: concrete(path) })
      expect(isRouteNotFound(response), route).toBe(false)
    }
  })

  it('serves no route at the prefixes themselves or with a trailing slash', async () => {
    for (const url of ['/api/v1', '/api/v1/', '/webhooks', '/webhooks/', '/health/', '/webhooks/whatsapp/']) {
      expect(isRouteNotFound(await t.app.inject({ method: 'GET', url })), url).toBe(true)
    }
  })
})

interface Operation {
  tags?: string[]
  requestBody?: unknown
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
}

async function openApiOperations(): Promise<Array<[string, Operation]>> {
  const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json()
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(
    ([path, operations]) =>
      Object.entries(operations).map(
        ([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as [string, Operation],
      ),
  )
}

const SHARED_ERROR = { $ref: '#/components/schemas/ErrorResponse' }

describe('error responses in the OpenAPI document', () => {
  it('holds the error body once, as the error handler answers it', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json()
    const schema = doc.components.schemas.ErrorResponse
    expect(schema.required).toEqual(['error'])
    expect(schema.properties.error.required).toEqual(['code', 'message', 'details'])
    expect(Object.keys(schema.properties.error.properties)).toEqual(['code', 'message', 'details'])
  })

  it('documents the errors every /api/v1 route can answer, each with the shared schema', async () => {
    const operations = (await openApiOperations()).filter(([route]) => route.includes(' /api/v1/'))
    expect(operations).toHaveLength(API_ROUTES.filter((route) => route.includes(' /api/v1/')).length)
    for (const [route, operation] of operations) {
      const statuses = Object.keys(operation.responses).map(Number)
      const expected = [400, 422, 500, 503]
      if (route !== 'GET /api/v1/status') expected.push(401, 429)
      if (!operation.tags?.includes('admin') && route !== 'GET /api/v1/status') expected.push(403)
      if (route.includes('{')) expected.push(404)
      if (operation.requestBody) expected.push(413, 415)
      expect(statuses, route).toEqual(expect.arrayContaining(expected))
      for (const status of statuses.filter((code) => code >= 400))
        expect(
          operation.responses[status]?.content?.['application/json']?.schema,
          `${route} ${status}`,
        ).toEqual(SHARED_ERROR)
    }
    const conflicts = operations.filter(([, operation]) => operation.responses['409']).map(([route]) => route)
    expect(conflicts.sort()).toEqual(
      [
        'POST /api/v1/organizations',
        'POST /api/v1/phone-numbers',
        'POST /api/v1/contacts',
        'POST /api/v1/messages',
        'POST /api/v1/api-keys/{id}/rotate',
        'POST /api/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry',
      ].sort(),
    )
    expect(operations.find(([route]) => route === 'GET /api/v1/status')?.[1].responses['401']).toBeDefined()
  })

  it("documents Meta's webhook errors with the shared schema", async () => {
    const operations = new Map(await openApiOperations())
    const handshake = operations.get('GET /webhooks/whatsapp')
    expect(handshake?.responses['403']?.content?.['application/json']?.schema).toEqual(SHARED_ERROR)
    expect(handshake?.responses['200']?.content?.['text/plain']).toBeDefined()
    const delivery = operations.get('POST /webhooks/whatsapp')
    for (const status of [400, 401, 413])
      expect(delivery?.responses[status]?.content?.['application/json']?.schema).toEqual(SHARED_ERROR)
  })
})

describe('error bodies through the declared schemas', () => {
  it('answers every kind of error with a body that validates against the shared schema, nothing dropped', async () => {
    const tenant = await t.createTenant()
    const admin = { authorization: `Bearer ${TEST_SECRETS.adminToken}` }
    const json = { 'content-type': 'application/json' }
    const first = { name: 'Taken', slug: 'taken-slug' }
    expect(
      (await t.app.inject({ method: 'POST', url: '/api/v1/organizations', headers: admin, payload: first }))
        .statusCode,
    ).toBe(201)
    const cases: Array<{
      status: number
      code: string
      details?: unknown
      request: InjectOptions & { method: Method; url: string }
    }> = [
      {
        status: 400,
        code: 'VALIDATION_ERROR',
        details: [{ field: 'body.throughputMps', message: 'must be >= 1' }],
        request: {
          method: 'POST',
          url: '/api/v1/phone-numbers',
          headers: tenant.headers,
          payload: {
            wabaId: 'w',
            phoneNumberId: 'p-1',
            displayPhoneNumber: '+1 555',
            accessToken: 'token-123456',
            throughputMps: 0,
          },
        },
      },
      {
        status: 401,
        code: 'UNAUTHORIZED',
        details: null,
        request: { method: 'GET', url: '/api/v1/contacts' },
      },
      {
        status: 401,
        code: 'UNAUTHORIZED',
        details: null,
        request: { method: 'GET', url: '/api/v1/status', headers: { authorization: 'Bearer nope' } },
      },
      {
        status: 404,
        code: 'NOT_FOUND',
        details: null,
        request: { method: 'GET', url: '/api/v1/contacts/missing', headers: tenant.headers },
      },
      {
        status: 404,
        code: 'NOT_FOUND',
        details: null,
        request: { method: 'DELETE', url: '/api/v1/organizations/x/api-keys/y', headers: admin },
      },
      {
        status: 409,
        code: 'SLUG_TAKEN',
        details: { fields: ['slug'] },
        request: { method: 'POST', url: '/api/v1/organizations', headers: admin, payload: first },
      },
      {
        status: 422,
        code: 'INVALID_TEXT',
        details: [{ field: 'querystring.waId', message: 'contains a NUL character' }],
        request: { method: 'GET', url: '/api/v1/contacts?waId=%00', headers: tenant.headers },
      },
      {
        status: 413,
        code: 'FST_ERR_CTP_BODY_TOO_LARGE',
        request: {
          method: 'POST',
          url: '/api/v1/contacts',
          headers: { ...tenant.headers, ...json },
          payload: JSON.stringify({ profileName: 'x'.repeat(300 * 1024) }),
        },
      },
      {
        status: 415,
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        request: {
          method: 'POST',
          url: '/api/v1/contacts',
          headers: { ...tenant.headers, 'content-type': 'application/xml' },
          payload: '<a/>',
        },
      },
      {
        status: 400,
        code: 'JSON_TOO_DEEP',
        request: {
          method: 'POST',
          url: '/api/v1/contacts',
          headers: { ...tenant.headers, ...json },
          payload: `${'['.repeat(100)}${']'.repeat(100)}`,
        },
      },
      {
        status: 403,
        code: 'FORBIDDEN',
        request: {
          method: 'GET',
          url: '/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=no&hub.challenge=1',
        },
      },
      {
        status: 401,
        code: 'UNAUTHORIZED',
        request: {
          method: 'POST',
          url: '/webhooks/whatsapp',
          headers: { ...json, 'x-hub-signature-256': signMetaBody('{}', 'wrong-secret') },
          payload: '{}',
        },
      },
    ]
    for (const { status, code, details, request } of cases) {
      const response = await t.app.inject(request)
      const label = `${request.method} ${request.url}`
      expect(response.statusCode, label).toBe(status)
      const body = response.json()
      expect(Value.Check(ErrorResponse, body), label).toBe(true)
      expect(body.error.code, label).toBe(code)
      expect(body.error.message.length, label).toBeGreaterThan(0)
      if (details !== undefined) expect(body.error.details, label).toEqual(details)
    }
  })
})

describe('fake Graph API routes', () => {
  it('registers exactly the pinned control and Graph routes', async () => {
    const { app } = buildFakeGraph()
    const registered: string[] = []
    // Its plugins load at ready(), after this hook is in place.
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        if (method !== 'HEAD') registered.push(`${method} ${route.url}`)
    })
    await app.ready()
    await app.close()
    expect(registered.sort()).toEqual(
      [
        'POST /__fake/inbound',
        'POST /__fake/faults',
        'GET /__fake/faults',
        'DELETE /__fake/faults',
        'DELETE /__fake/faults/:id',
        'GET /__fake/clock',
        'POST /__fake/clock',
        'GET /__fake/requests',
        'DELETE /__fake/requests',
        'POST /__fake/reset',
        'DELETE /__fake/state',
        'POST /__fake/templates',
        'GET /__fake/templates',
        'POST /__fake/templates/status',
        'POST /__fake/phone-numbers',
        'GET /__fake/webhooks',
        'PUT /__fake/webhooks',
        'PUT /__fake/limits',
        'POST /__fake/verify-webhook',
        'POST /:version/:phoneNumberId/messages',
        'POST /:version/:phoneNumberId/marketing_messages',
        'GET /:version/:objectId',
        'GET /:version/:objectId/message_templates',
        'POST /:version/:objectId/message_templates',
      ].sort(),
    )
  })
})
