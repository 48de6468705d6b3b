import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { publishEvent } from '../../src/events/publish.js'
import { webhookDeliveryProcessor } from '../../src/messaging/queue-processors.js'
import { type RunningWorkers, startWorkers } from '../../src/worker-runtime.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { startCustomerReceiver } from './customer-receiver.js'
import { LOOPBACK_WEBHOOKS, waitFor } from './fixtures.js'

let env: TestEnvironment
let t: TestApp
let tenant: TestTenant
let other: TestTenant
let workers: RunningWorkers
let receiver: Awaited<ReturnType<typeof startCustomerReceiver>>

const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, who = tenant) =>
  t.app.inject({ method, url, headers: who.headers, ...(payload === undefined ? {} : { payload }) })

async function createEndpoint(
  events = ['message.received', 'message.status'],
  url = receiver.url,
  who = tenant,
) {
  const res = await api('POST', '/api/v1/webhook-endpoints', { url, events }, who)
  expect(res.statusCode).toBe(201)
  return res.json() as { id: string; secret: string }
}

async function emit(type: 'message.received' | 'message.status', who = tenant, data = { messageId: 'm1' }) {
  return publishEvent(t.prisma, { organizationId: who.organizationId, type, data })
}

const deliveries = async (endpointId: string) =>
  (await api('GET', `/api/v1/webhook-endpoints/${endpointId}/deliveries`)).json().data as Array<{
    id: string
    eventId: string
    status: string
    attempts: number
    attemptLog: Array<{ statusCode: number | null }>
  }>

const requestsFor = (eventId: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === eventId)

beforeAll(async () => {
  env = await startTestEnvironment()
  const messaging = {
    customerWebhookRetryBaseMs: 100,
    customerWebhookMaxAttempts: 4,
    customerWebhookDisableAfter: 6,
    ...LOOPBACK_WEBHOOKS,
  }
  t = await env.startApp({ messaging })
  tenant = await t.createTenant()
  other = await t.createTenant()
  receiver = await startCustomerReceiver()
  workers = await startWorkers(env.config({ databaseUrl: t.databaseUrl, messaging }), [
    webhookDeliveryProcessor,
  ])
})
afterAll(async () => {
  await workers?.close()
  await receiver?.close()
  await t?.close()
  await env?.stop()
})

describe('customer webhook endpoints', () => {
  it('shows the whsec_ secret once and stores it encrypted', async () => {
    const created = await createEndpoint()
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const shown = await api('GET', `/api/v1/webhook-endpoints/${created.id}`)
    expect(shown.json()).not.toHaveProperty('secret')
    expect(shown.json()).toMatchObject({
      enabled: true,
      disabledAt: null,
      events: ['message.received', 'message.status'],
    })
    const row = await t.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: created.id } })
    expect(row.secretEnc).not.toContain(created.secret.slice(6, 20))
    await api('DELETE', `/api/v1/webhook-endpoints/${created.id}`)
  })

  it('updates, lists and deletes, and hides other tenants’ endpoints (404)', async () => {
    const created = await createEndpoint(['message.status'])
    const patched = await api('PATCH', `/api/v1/webhook-endpoints/${created.id}`, {
      events: ['message.received'],
    })
    expect(patched.json().events).toEqual(['message.received'])
    expect((await api('GET', `/api/v1/webhook-endpoints/${created.id}`, undefined, other)).statusCode).toBe(
      404,
    )
    expect(
      (await api('DELETE', `/api/v1/webhook-endpoints/${created.id}`, undefined, other)).statusCode,
    ).toBe(404)
    expect(
      (await api('GET', '/api/v1/webhook-endpoints')).json().data.map((e: { id: string }) => e.id),
    ).toContain(created.id)
    expect((await api('DELETE', `/api/v1/webhook-endpoints/${created.id}`)).statusCode).toBe(204)
    expect((await api('GET', `/api/v1/webhook-endpoints/${created.id}`)).statusCode).toBe(404)
    expect(
      (await api('POST', '/api/v1/webhook-endpoints', { url: 'ftp://x', events: ['message.status'] }))
        .statusCode,
    ).toBe(400)
    expect(
      (await api('POST', '/api/v1/webhook-endpoints', { url: receiver.url, events: ['nope'] })).statusCode,
    ).toBe(400)
  })
})

describe('customer webhook delivery', () => {
  it('delivers a subscribed event signed per Standard Webhooks, verified by Webhook.verify', async () => {
    const endpoint = await createEndpoint()
    const eventId = await emit('message.received')
    await waitFor(
      async () => requestsFor(eventId).length,
      (n) => n === 1,
    )
    const request = requestsFor(eventId)[0]!
    const verified = new Webhook(endpoint.secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    })
    expect(verified).toMatchObject({
      id: eventId,
      type: 'message.received',
      organizationId: tenant.organizationId,
      data: { messageId: 'm1' },
    })
    expect(() =>
      new Webhook(endpoint.secret).verify(`${request.body} `, {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }),
    ).toThrow()
    const [delivery] = await waitFor(
      () => deliveries(endpoint.id),
      (d) => d[0]?.status === 'succeeded',
    )
    expect(delivery).toMatchObject({ eventId, attempts: 1, attemptLog: [{ statusCode: 204 }] })
    await api('DELETE', `/api/v1/webhook-endpoints/${endpoint.id}`)
  })

  it('retries a failing endpoint with the same webhook-id and logs every attempt', async () => {
    const endpoint = await createEndpoint()
    receiver.failWith.push(500, 503)
    const eventId = await emit('message.status')
    const [delivery] = await waitFor(
      () => deliveries(endpoint.id),
      (d) => d[0]?.status === 'succeeded',
    )
    expect(delivery!.attemptLog.map((a) => a.statusCode)).toEqual([500, 503, 204])
    const attempts = requestsFor(eventId)
    expect(attempts).toHaveLength(3)
    expect(new Set(attempts.map((a) => a.headers['webhook-id']))).toEqual(new Set([eventId]))
    // Backoff: the second wait is longer than the first (100 ms base, doubling, jitter at most halves it).
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(40)
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(90)
    await api('DELETE', `/api/v1/webhook-endpoints/${endpoint.id}`)
  })

  it('sends only subscribed types and only the tenant’s own events', async () => {
    const endpoint = await createEndpoint(['message.status'])
    const skipped = await emit('message.received')
    const foreign = await emit('message.status', other)
    const wanted = await emit('message.status')
    await waitFor(
      async () => requestsFor(wanted).length,
      (n) => n === 1,
    )
    expect(requestsFor(skipped)).toHaveLength(0)
    expect(requestsFor(foreign)).toHaveLength(0)
    await api('DELETE', `/api/v1/webhook-endpoints/${endpoint.id}`)
  })

  it('sends an endpoint only the events that occur while it is enabled', async () => {
    const endpoint = await createEndpoint(['message.status'])
    // Dispatch runs behind the events: one that occurred before the endpoint existed stays its own.
    const before = await t.prisma.domainEvent.create({
      data: {
        organizationId: tenant.organizationId,
        type: 'message.status',
        data: { messageId: 'm0' },
        createdAt: new Date(Date.now() - 60_000),
      },
    })
    const after = await emit('message.status')
    await waitFor(
      async () => requestsFor(after).length,
      (n) => n === 1,
    )
    await waitFor(
      () => t.prisma.domainEvent.findUniqueOrThrow({ where: { id: before.id } }),
      (e) => e.dispatchedAt !== null,
    )
    expect(requestsFor(before.id)).toHaveLength(0)
    expect(await t.prisma.webhookDelivery.count({ where: { eventId: before.id } })).toBe(0)
    await api('DELETE', `/api/v1/webhook-endpoints/${endpoint.id}`)
  })

  it('fails a delivery after the maximum attempts, disables a failing endpoint, and redelivers on request', async () => {
    const endpoint = await createEndpoint()
    receiver.setAlwaysFail(true)
    const first = await emit('message.status')
    // 4 attempts (the maximum), then FAILED; 4 consecutive failures are below the threshold of 6.
    const failedOnce = await waitFor(
      () => deliveries(endpoint.id),
      (d) => d[0]?.status === 'failed',
      20_000,
    )
    expect(failedOnce[0]).toMatchObject({ eventId: first, attempts: 4 })
    expect((await api('GET', `/api/v1/webhook-endpoints/${endpoint.id}`)).json()).toMatchObject({
      enabled: true,
      consecutiveFailures: 4,
    })
    // Two more failures reach the threshold: the endpoint is disabled and its pending delivery stops.
    const second = await emit('message.status')
    const failed = await waitFor(
      () => deliveries(endpoint.id),
      (d) => d.length === 2 && d.every((x) => x.status === 'failed'),
      20_000,
    )
    expect(failed.find((d) => d.eventId === second)!.attempts).toBe(2)
    const shown = (await api('GET', `/api/v1/webhook-endpoints/${endpoint.id}`)).json()
    expect(shown.enabled).toBe(false)
    expect(shown.disabledAt).not.toBeNull()
    expect(shown.disabledReason).toMatch(/6 consecutive failed deliveries/)
    // A disabled endpoint gets nothing new.
    const whileDisabled = await emit('message.status')
    const target = failed.find((d) => d.eventId === first)!
    expect(
      (await api('POST', `/api/v1/webhook-endpoints/${endpoint.id}/deliveries/${target.id}/retry`))
        .statusCode,
    ).toBe(409)

    receiver.setAlwaysFail(false)
    await api('PATCH', `/api/v1/webhook-endpoints/${endpoint.id}`, { enabled: true })
    const retried = await api(
      'POST',
      `/api/v1/webhook-endpoints/${endpoint.id}/deliveries/${target.id}/retry`,
    )
    expect(retried.statusCode).toBe(202)
    const after = await waitFor(
      () => deliveries(endpoint.id),
      (d) => d.find((x) => x.id === target.id)?.status === 'succeeded',
    )
    expect(after.find((x) => x.id === target.id)!.attemptLog.at(-1)!.statusCode).toBe(204)
    expect(requestsFor(first).at(-1)!.headers['webhook-id']).toBe(first)
    expect(requestsFor(second)).toHaveLength(2)
    expect(requestsFor(whileDisabled)).toHaveLength(0)
    const reenabled = (await api('GET', `/api/v1/webhook-endpoints/${endpoint.id}`)).json()
    expect(reenabled).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledAt: null })
  }, 40_000)
})
