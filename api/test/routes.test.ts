import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFakeGraph } from '../src/fake-graph/server.js'
import { startTestEnvironment, type TestApp, type TestEnvironment } from './harness/index.js'

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
