import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { OUTBOUND_QUEUE } from '../../src/messaging/outbound-queue.js'
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
  startOutboundWorker,
  statusEvents,
  waitFor,
} from './fixtures.js'

let env: TestEnvironment
let fake: FakeGraph
let t: TestApp
let tenant: TestTenant
let hooks: RecordingHooks
let worker: Awaited<ReturnType<typeof startOutboundWorker>>
let numbers = 0
let recipients = 0

async function number() {
  numbers += 1
  return seedPhoneNumber(t.prisma, tenant.organizationId, `200000${numbers}`)
}

/** A text accepted by the API for a fresh recipient on `phone`; returns its id and recipient. */
async function queueText(phone: { id: string; phoneNumberId: string }) {
  recipients += 1
  const to = `49152${String(recipients).padStart(7, '0')}`
  await seedConversation(t.prisma, tenant.organizationId, phone.id, to, new Date())
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/messages',
    headers: tenant.headers,
    payload: { phoneNumberId: phone.phoneNumberId, to, type: 'text', text: { body: 'hi' } },
  })
  expect(res.statusCode).toBe(202)
  return { id: res.json().id as string, to }
}

const callsTo = (to: string) => fake.state.requests.list({ path: '/messages' }).filter((r) => r.to === to)
const row = (id: string) => t.prisma.message.findUniqueOrThrow({ where: { id } })
const until = (id: string, statuses: string[], timeoutMs?: number) =>
  waitFor(
    () => row(id),
    (m) => statuses.includes(m.status),
    timeoutMs,
  )

beforeAll(async () => {
  env = await startTestEnvironment()
  fake = await createFakeGraph({ enforceServiceWindow: false })
  t = await env.startApp({ graphApiBaseUrl: fake.url })
  tenant = await t.createTenant()
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
      outboundReconcileAfterMs: 1_500,
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

describe('outbound errors by class', () => {
  it.each([131047, 131026, 131049, 132001, 100])('%i is terminal after exactly one call', async (code) => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, response: { code, details: 'details from Meta' } })
    const failed = await until(id, ['FAILED', 'SENT'])
    expect(failed).toMatchObject({
      status: 'FAILED',
      errorCode: code,
      errorDetails: 'details from Meta',
      attempts: 1,
    })
    expect(failed.errorTitle).toBeTruthy()
    expect(failed.failedAt).not.toBeNull()
    expect(callsTo(to)).toHaveLength(1)
    expect(await statusEvents(t.prisma, id)).toMatchObject([{ status: 'failed', error: { code } }])
  })

  it('131050 fails the message and opts the contact out', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, response: { code: 131050 } })
    expect(await until(id, ['FAILED', 'SENT'])).toMatchObject({ status: 'FAILED', errorCode: 131050 })
    const contact = await t.prisma.contact.findFirstOrThrow({
      where: { organizationId: tenant.organizationId, waId: to },
    })
    expect(contact).toMatchObject({ optOutSource: 'meta_131050' })
    expect(contact.optedOutAt).not.toBeNull()
    expect(callsTo(to)).toHaveLength(1)
  })

  it('190 fails the message and marks the number AUTH_INVALID; later sends are refused', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, response: { code: 190 } })
    expect(await until(id, ['FAILED', 'SENT'])).toMatchObject({ status: 'FAILED', errorCode: 190 })
    expect((await t.prisma.phoneNumber.findUniqueOrThrow({ where: { id: phone.id } })).status).toBe(
      'AUTH_INVALID',
    )
    expect(callsTo(to)).toHaveLength(1)
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/v1/messages',
      headers: tenant.headers,
      payload: { phoneNumberId: phone.phoneNumberId, to, type: 'text', text: { body: 'hi' } },
    })
    expect(again.statusCode).toBe(409)
  })

  it('retries 5xx with backoff and succeeds; the attempts are counted', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, times: 2, response: { httpStatus: 503, code: 131016 } })
    expect(await until(id, ['SENT', 'FAILED'])).toMatchObject({ status: 'SENT', attempts: 3 })
    expect(callsTo(to)).toHaveLength(3)
  })

  it('gives up on 5xx after the maximum attempts', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, times: 0, response: { httpStatus: 500, code: 131000 } })
    expect(await until(id, ['SENT', 'FAILED'])).toMatchObject({
      status: 'FAILED',
      errorCode: 131000,
      attempts: 3,
    })
    expect(callsTo(to)).toHaveLength(3)
  })

  it('130429 delays the message without spending an attempt and pauses the number', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, times: 4, response: { code: 130429 } })
    // Four throttles (more than the 3 attempts allowed) still end in SENT: none counted.
    expect(await until(id, ['SENT', 'FAILED'], 30_000)).toMatchObject({ status: 'SENT', attempts: 1 })
    const calls = callsTo(to)
    expect(calls).toHaveLength(5)
    // The pause holds the number: each retry comes at least ~a second after the throttle.
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(900)
  }, 40_000)

  it('131056 backs the pair off 4^n seconds without spending an attempt', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, response: { code: 131056 } })
    expect(await until(id, ['SENT', 'FAILED'], 20_000)).toMatchObject({ status: 'SENT', attempts: 1 })
    const calls = callsTo(to)
    expect(calls).toHaveLength(2)
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(3_900)
  }, 30_000)
})

describe('ambiguous outcomes: never resend blindly', () => {
  it('reconciles a lost answer through the status webhook and does not send again', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, dropConnectionAfterRequest: true })
    // Claimed (SENDING) before its call; the call reached Meta but its answer was lost.
    const [call] = await waitFor(
      async () => callsTo(to),
      (calls) => calls.length === 1,
    )
    const sending = await until(id, ['SENDING'])
    expect(sending.wamid).toBeNull()
    expect(sending.nextAttemptAt).not.toBeNull()
    // The inbound processor stores Meta's status (its raw item echoes biz_opaque_callback_data).
    await t.prisma.messageStatusEvent.create({
      data: {
        wamid: call!.wamid!,
        status: 'sent',
        metaTimestamp: new Date(),
        raw: { id: call!.wamid, status: 'sent', biz_opaque_callback_data: id, recipient_id: to },
      },
    })
    const sent = await until(id, ['SENT', 'FAILED'])
    expect(sent).toMatchObject({ status: 'SENT', wamid: call!.wamid })
    expect(callsTo(to)).toHaveLength(1)
    // The status that overtook the answer is handed on once the wamid is committed.
    await waitFor(
      async () => hooks.stored,
      (stored) => stored.includes(call!.wamid!),
    )
  })

  it('resends once after the reconciliation window when no status came, and then succeeds', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, dropConnectionAfterRequest: true, accepted: false })
    const sent = await until(id, ['SENT', 'FAILED'], 20_000)
    expect(sent.status).toBe('SENT')
    const calls = callsTo(to)
    expect(calls).toHaveLength(2)
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1_400)
  })

  it('fails UNCONFIRMED when the one resend is lost too', async () => {
    const phone = await number()
    const { id, to } = await queueText(phone)
    fake.state.faults.add({ match: { to }, times: 2, dropConnectionAfterRequest: true, accepted: false })
    const failed = await until(id, ['SENT', 'FAILED'], 20_000)
    expect(failed).toMatchObject({ status: 'FAILED', errorTitle: 'UNCONFIRMED' })
    expect(callsTo(to)).toHaveLength(2)
  })

  it('a job retried after its worker died mid-call reconciles instead of sending twice', async () => {
    const phone = await number()
    recipients += 1
    const to = `49152${String(recipients).padStart(7, '0')}`
    const conversation = await seedConversation(t.prisma, tenant.organizationId, phone.id, to, new Date())
    // State left by a worker that claimed the message, reached Meta, and died before storing the wamid.
    const message = await t.prisma.message.create({
      data: {
        organizationId: tenant.organizationId,
        conversationId: conversation.id,
        phoneNumberId: phone.id,
        direction: 'OUTBOUND',
        type: 'text',
        content: { body: 'hi' },
        status: 'SENDING',
        attempts: 1,
        nextAttemptAt: new Date(Date.now() + 60_000),
      },
    })
    await t.prisma.messageStatusEvent.create({
      data: {
        wamid: 'wamid.from-the-dead-worker',
        status: 'delivered',
        metaTimestamp: new Date(),
        raw: { id: 'wamid.from-the-dead-worker', status: 'delivered', biz_opaque_callback_data: message.id },
      },
    })
    const queue = t.app.deps.queues.get(OUTBOUND_QUEUE)!
    await queue.add('send', { messageId: message.id }, { jobId: message.id })
    const done = await until(message.id, ['SENT', 'FAILED'])
    expect(done).toMatchObject({ status: 'SENT', wamid: 'wamid.from-the-dead-worker', attempts: 1 })
    expect(callsTo(to)).toHaveLength(0)
  })
})
