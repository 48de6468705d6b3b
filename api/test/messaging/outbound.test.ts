import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import {
  startTestEnvironment,
  type TestApp,
  type TestEnvironment,
  type TestTenant,
} from '../harness/index.js'
import {
  type RecordingHooks,
  recordingHooks,
  seedConversation,
  seedPhoneNumber,
  seedTemplate,
  startOutboundWorker,
  statusEvents,
  waitFor,
} from './fixtures.js'

const DAY = 24 * 60 * 60 * 1000
let env: TestEnvironment
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let other: TestTenant
let hooks: RecordingHooks
let worker: Awaited<ReturnType<typeof startOutboundWorker>>
let phone: { id: string; phoneNumberId: string }
let recipients = 0

/** A fresh recipient with an open (or given) window on the main number. */
async function recipient(lastInboundAt: Date | null = new Date(Date.now() - 60_000), optedOut = false) {
  recipients += 1
  const waId = `49151${String(recipients).padStart(7, '0')}`
  await seedConversation(t.prisma, tenant.organizationId, phone.id, waId, lastInboundAt, optedOut)
  return waId
}

function send(body: Record<string, unknown>, headers: Record<string, string> = {}, who = tenant) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/messages',
    headers: { ...who.headers, ...headers },
    payload: { phoneNumberId: phone.phoneNumberId, ...body },
  })
}
const text = (to: string, body = 'hello') => ({ to, type: 'text', text: { body } })
const callsTo = (to: string) => fake.state.requests.list({ path: '/messages' }).filter((r) => r.to === to)
const messageRow = (id: string) => t.prisma.message.findUniqueOrThrow({ where: { id } })
const settled = (id: string) =>
  waitFor(
    () => messageRow(id),
    (m) => ['SENT', 'FAILED'].includes(m.status),
  )

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({ enforceServiceWindow: false })
  t = await env.startApp({ graphApiBaseUrl: fake.url })
  tenant = await t.createTenant('sender')
  other = await t.createTenant('other')
  phone = await seedPhoneNumber(t.prisma, tenant.organizationId, '1000001')
  await seedTemplate(t.prisma, tenant.organizationId, {
    name: 'hello_world',
    language: 'en_US',
    status: 'APPROVED',
  })
  await seedTemplate(t.prisma, tenant.organizationId, {
    name: 'paused_one',
    language: 'en_US',
    status: 'PAUSED',
  })
  hooks = recordingHooks()
  worker = await startOutboundWorker({
    prisma: t.prisma,
    sql: t.app.deps.sql,
    redis: env.redis,
    graphUrl: fake.url,
    hooks,
    settings: {
      outboundBackoffBaseMs: 20,
      outboundMaxAttempts: 3,
      outboundReconcileAfterMs: 1_000,
      graphTimeoutMs: 1_000,
    },
  })
})
afterAll(async () => {
  await worker?.close()
  await t?.close()
  await fake?.close()
  await env?.stop()
})

describe('POST /api/v1/messages: checks before queuing', () => {
  it('queues a text inside the window (202), stores it before the worker sends it exactly once', async () => {
    const to = await recipient()
    const res = await send(text(to))
    expect(res.statusCode).toBe(202)
    const { id, status } = res.json()
    expect(status).toBe('queued')
    const sent = await settled(id)
    expect(sent).toMatchObject({ status: 'SENT', attempts: 1, direction: 'OUTBOUND', type: 'text' })
    expect(sent.wamid).toMatch(/^wamid\./)
    const calls = callsTo(to)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.callbackData).toBe(id)
    expect(calls[0]!.body).toMatchObject({
      messaging_product: 'whatsapp',
      to,
      type: 'text',
      text: { body: 'hello' },
    })
    // Its message.status event was written with the change; no status overtook the answer.
    expect(await statusEvents(t.prisma, id)).toMatchObject([{ status: 'sent', wamid: sent.wamid }])
    expect(hooks.stored).not.toContain(sent.wamid)
  })

  it('allows 23:59:59 after the last inbound message and refuses 24:00:00 with OUTSIDE_SERVICE_WINDOW', async () => {
    const inside = await recipient(new Date(Date.now() - DAY + 1_000))
    expect((await send(text(inside))).statusCode).toBe(202)
    const outside = await recipient(new Date(Date.now() - DAY))
    const refused = await send(text(outside))
    expect(refused.statusCode).toBe(422)
    expect(refused.json().error.code).toBe('OUTSIDE_SERVICE_WINDOW')
    const never = await recipient(null)
    expect((await send(text(never))).statusCode).toBe(422)
    expect(await t.prisma.message.count({ where: { conversation: { contact: { waId: outside } } } })).toBe(0)
  })

  it('sends an approved template outside the window, to a contact never seen before', async () => {
    const res = await send({
      to: '+4915199999999',
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    })
    expect(res.statusCode).toBe(202)
    expect((await settled(res.json().id)).status).toBe('SENT')
    expect(callsTo('4915199999999')).toHaveLength(1)
  })

  it('refuses a template that is not approved, or unknown for the WABA and language (422)', async () => {
    const to = await recipient()
    const paused = await send({
      to,
      type: 'template',
      template: { name: 'paused_one', language: { code: 'en_US' } },
    })
    expect(paused.statusCode).toBe(422)
    expect(paused.json().error.code).toBe('TEMPLATE_NOT_APPROVED')
    const otherLanguage = await send({
      to,
      type: 'template',
      template: { name: 'hello_world', language: { code: 'de' } },
    })
    expect(otherLanguage.statusCode).toBe(422)
  })

  it('refuses an opted-out contact with 409', async () => {
    const to = await recipient(new Date(), true)
    const res = await send(text(to))
    expect(res.statusCode).toBe(409)
    expect(res.json().error.code).toBe('CONTACT_OPTED_OUT')
    const template = await send({
      to,
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    })
    expect(template.statusCode).toBe(409)
  })

  it('answers 404 for a number of another tenant, and 401 without a key', async () => {
    const to = await recipient()
    expect((await send(text(to), {}, other)).statusCode).toBe(404)
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/api/v1/messages',
      payload: { phoneNumberId: phone.phoneNumberId, ...text(to) },
    })
    expect(anonymous.statusCode).toBe(401)
  })

  it('validates the body (400)', async () => {
    expect((await send({ to: 'abc', type: 'text', text: { body: 'x' } })).statusCode).toBe(400)
    expect((await send({ to: '4915100000000', type: 'text', text: { body: '' } })).statusCode).toBe(400)
    expect((await send({ to: '4915100000000', type: 'image', image: {} })).statusCode).toBe(400)
  })
})

describe('Idempotency-Key', () => {
  it('returns the original message for the same key and body, with one Graph call', async () => {
    const to = await recipient()
    const first = await send(text(to, 'once'), { 'idempotency-key': 'order-42' })
    const second = await send(text(to, 'once'), { 'idempotency-key': 'order-42' })
    expect(first.statusCode).toBe(202)
    expect(second.statusCode).toBe(200)
    expect(second.json().id).toBe(first.json().id)
    await settled(first.json().id)
    const third = await send(text(to, 'once'), { 'idempotency-key': 'order-42' })
    expect(third.json()).toEqual({ id: first.json().id, status: 'sent' })
    expect(callsTo(to)).toHaveLength(1)
  })

  it('answers 409 for the same key with another body', async () => {
    const to = await recipient()
    await send(text(to, 'a'), { 'idempotency-key': 'k-conflict' })
    const res = await send(text(to, 'b'), { 'idempotency-key': 'k-conflict' })
    expect(res.statusCode).toBe(409)
    expect(res.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  it('keeps keys apart per tenant', async () => {
    const to = await recipient()
    const mine = await send(text(to), { 'idempotency-key': 'shared-key' })
    const theirs = await send(text(to), { 'idempotency-key': 'shared-key' }, other)
    expect(mine.statusCode).toBe(202)
    expect(theirs.statusCode).toBe(404)
  })
})
