import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { inboundWebhookProcessor } from '../../src/inbound/processor.js'
import { outboundProcessor, webhookDeliveryProcessor } from '../../src/messaging/queue-processors.js'
import { type RunningWorkers, startWorkers } from '../../src/worker-runtime.js'
import {
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import { startCustomerReceiver } from './customer-receiver.js'
import { GRAPH_TOKEN, LOOPBACK_WEBHOOKS, seedPhoneNumber, waitFor } from './fixtures.js'

let env: TestEnvironment
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let workers: RunningWorkers
let receiver: Awaited<ReturnType<typeof startCustomerReceiver>>
/** The message the first test sends and sees read. */
let answeredId: string | undefined

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({ accessToken: GRAPH_TOKEN, appSecret: TEST_SECRETS.metaAppSecret })
  t = await env.startApp({ graphApiBaseUrl: fake.url, messaging: LOOPBACK_WEBHOOKS })
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  const address = t.app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  fake.state.emitter.setUrl(`http://127.0.0.1:${port}/webhooks/whatsapp`)
  tenant = await t.createTenant()
  receiver = await startCustomerReceiver()
  const config = env.config({
    databaseUrl: t.databaseUrl,
    graphApiBaseUrl: fake.url,
    messaging: LOOPBACK_WEBHOOKS,
  })
  workers = await startWorkers(config, [inboundWebhookProcessor, outboundProcessor, webhookDeliveryProcessor])
})
afterAll(async () => {
  await workers?.close()
  await t?.close()
  await fake?.close()
  await receiver?.close()
  await env?.stop()
})

describe('end to end through the fake Graph API', () => {
  it('a user writes, we answer once through the API, the answer is delivered and read, the customer hears it all signed', async () => {
    await seedPhoneNumber(t.prisma, tenant.organizationId, '4000001')
    const endpoint = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhook-endpoints',
      headers: tenant.headers,
      payload: { url: receiver.url, events: ['message.received', 'message.status'] },
    })
    const secret = endpoint.json().secret as string

    // The user writes first: a signed inbound webhook opens the 24-hour window.
    const inbound = await fake.app.inject({
      method: 'POST',
      url: '/__fake/inbound',
      payload: { phoneNumberId: '4000001', from: '4915300000001', text: 'Hallo 👋', profileName: 'Ana' },
    })
    expect(inbound.json().webhook.ok).toBe(true)
    await waitFor(
      () => t.prisma.conversation.findFirst({ where: { organizationId: tenant.organizationId } }),
      (c) => c?.lastInboundAt != null,
    )

    const sent = await t.app.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: tenant.headers,
      payload: { phoneNumberId: '4000001', to: '+4915300000001', type: 'text', text: { body: 'Hi Ana' } },
    })
    expect(sent.statusCode).toBe(202)
    const id = sent.json().id as string
    answeredId = id

    const read = await waitFor(
      async () =>
        (
          await t.app.inject({ method: 'GET', url: `/api/v1/messages/${id}`, headers: tenant.headers })
        ).json(),
      (m) => m.status === 'read',
    )
    expect(read.wamid).toMatch(/^wamid\./)
    const graphCalls = fake.state.requests.list({ path: '/messages' }).filter((r) => r.callbackData === id)
    expect(graphCalls).toHaveLength(1)
    const row = await t.prisma.message.findUniqueOrThrow({ where: { id } })
    expect(row.sentAt && row.deliveredAt && row.readAt).toBeTruthy()

    // The customer endpoint receives message.received and the statuses, each signed.
    const events = await waitFor(
      async () =>
        receiver.requests.map((r) => {
          const verified = new Webhook(secret).verify(r.body, {
            'webhook-id': String(r.headers['webhook-id']),
            'webhook-timestamp': String(r.headers['webhook-timestamp']),
            'webhook-signature': String(r.headers['webhook-signature']),
          }) as { type: string; data: { status?: string; messageId: string } }
          return verified
        }),
      (list) => list.some((e) => e.type === 'message.status' && e.data.status === 'read'),
    )
    expect(events.filter((e) => e.type === 'message.received')).toHaveLength(1)
    const statuses = events
      .filter((e) => e.type === 'message.status' && e.data.messageId === id)
      .map((e) => e.data.status)
    // Statuses only move forward: a "delivered" that arrives after "read" changes nothing and emits
    // nothing, so the customer sees sent, (delivered), read, each at most once (in any order).
    expect(statuses).toContain('sent')
    expect(statuses).toContain('read')
    expect(statuses.filter((s) => s === 'delivered').length).toBeLessThanOrEqual(1)
    expect(new Set(statuses).size).toBe(statuses.length)
  })

  it('the sender and the status webhooks emit message.status in one shape, each previousStatus the status it left', async () => {
    expect(answeredId).toBeDefined()
    const events = (
      await t.prisma.domainEvent.findMany({
        where: { type: 'message.status' },
        orderBy: { createdAt: 'asc' },
      })
    )
      .map((e) => e.data as Record<string, unknown>)
      .filter((data) => data.messageId === answeredId)
    // "sent" comes from the sender (the send answer) or from Meta's status webhook, whichever was first;
    // "read" always from a status webhook: both producers are in the list.
    expect(events.map((e) => e.status)).toContain('sent')
    expect(events.map((e) => e.status)).toContain('read')
    const keys = (data: Record<string, unknown>) => Object.keys(data).sort()
    for (const data of events) {
      expect(keys(data)).toEqual([
        'conversationId',
        'messageId',
        'previousStatus',
        'status',
        'timestamp',
        'wamid',
      ])
      expect(data.wamid).toMatch(/^wamid\./)
      expect(new Date(data.timestamp as string).toISOString()).toBe(data.timestamp)
    }
    // The sender claims the message (SENDING) before it calls Meta; every later event starts where the
    // previous one ended.
    expect(events.map((e) => e.previousStatus)).toEqual([
      'sending',
      ...events.slice(0, -1).map((e) => e.status),
    ])
  })
})
