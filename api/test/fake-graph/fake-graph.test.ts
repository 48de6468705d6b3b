import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildFakeGraph, createFakeGraph, type FakeGraph } from '../../src/fake-graph/index.js'
import { eventually, startWebhookReceiver } from './webhook-receiver.js'

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, asserted field by field
type Json = any

const secret = 'test-app-secret'
const token = 'test-token'
let fake: FakeGraph
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, auth = token) {
  const response = await request(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  return { status: response.statusCode, body: (await response.body.json()) as Json }
}

const text = (to: string, extra: Record<string, unknown> = {}) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  type: 'text',
  text: { body: 'hi' },
  ...extra,
})

beforeAll(async () => {
  receiver = await startWebhookReceiver(secret)
  fake = await createFakeGraph({
    webhookUrl: receiver.url,
    appSecret: secret,
    accessToken: token,
    seed: 's1',
    webhookRetryBaseMs: 10,
  })
})
afterAll(async () => {
  await fake.close()
  await receiver.close()
})
afterEach(async () => {
  await call('DELETE', '/__fake/state')
  receiver.received.length = 0
  receiver.failFirst.length = 0
})

describe('fake Graph API: sending', () => {
  it('accepts a free-form send inside the window and emits signed sent, delivered, read with the callback data', async () => {
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '4915100000001', text: 'hello' })
    const sent = await call(
      'POST',
      '/v21.0/111/messages',
      text('4915100000001', { biz_opaque_callback_data: 'msg_1' }),
    )
    expect(sent.status).toBe(200)
    const wamid = sent.body.messages[0].id as string
    expect(wamid).toMatch(/^wamid\./)
    expect(sent.body.contacts[0]).toEqual({ input: '4915100000001', wa_id: '4915100000001' })
    await eventually(() => receiver.statuses().length === 3)
    expect(receiver.received.every((w) => w.signatureValid)).toBe(true)
    expect(receiver.statuses().map((s) => s.status)).toEqual(['sent', 'delivered', 'read'])
    for (const s of receiver.statuses()) {
      expect(s).toMatchObject({ id: wamid, recipient_id: '4915100000001', biz_opaque_callback_data: 'msg_1' })
    }
    const envelope = receiver.received[1]!.body as Json
    expect(envelope.object).toBe('whatsapp_business_account')
    expect(envelope.entry[0].changes[0].field).toBe('messages')
    expect(envelope.entry[0].changes[0].value.metadata.phone_number_id).toBe('111')
  })

  it('reports a free-form send outside the 24-hour window as failed 131047, following the fake clock', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    await call('POST', '/__fake/clock', { now: t0 })
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '4915100000002', timestamp: t0 })
    await call('POST', '/__fake/clock', { now: t0 + 24 * 3600_000 - 1000 })
    await call('POST', '/v21.0/111/messages', text('4915100000002'))
    await eventually(() => receiver.statuses().length === 3)
    receiver.received.length = 0
    await call('POST', '/__fake/clock', { now: t0 + 24 * 3600_000 })
    const late = await call('POST', '/v21.0/111/messages', text('4915100000002'))
    expect(late.status).toBe(200)
    const lateStatuses = () => receiver.statuses().filter((s) => s.id === late.body.messages[0].id)
    await eventually(() => lateStatuses().length === 1)
    expect(lateStatuses()[0]).toMatchObject({ status: 'failed', errors: [{ code: 131047 }] })
  })

  it('answers a wrong token with 401 and code 190 in Meta’s envelope', async () => {
    const res = await call('POST', '/v21.0/111/messages', text('1'), 'wrong')
    expect(res.status).toBe(401)
    expect(res.body.error).toMatchObject({ code: 190, type: 'OAuthException' })
    expect(res.body.error.message).toMatch(/^\(#190\)/)
    expect(res.body.error.fbtrace_id).toEqual(expect.any(String))
  })

  it('validates the body like Meta (missing messaging_product, missing text.body)', async () => {
    const noProduct = await call('POST', '/v21.0/111/messages', {
      to: '1',
      type: 'text',
      text: { body: 'x' },
    })
    expect(noProduct.status).toBe(400)
    expect(noProduct.body.error.code).toBe(100)
    const noBody = await call('POST', '/v21.0/111/messages', { ...text('1'), text: {} })
    expect(noBody.body.error.code).toBe(131008)
  })

  it('refuses a template that is unknown, paused or not approved', async () => {
    const template = (name: string) => ({
      messaging_product: 'whatsapp',
      to: '1',
      type: 'template',
      template: { name, language: { code: 'en_US' } },
    })
    expect((await call('POST', '/v21.0/111/messages', template('hello_world'))).status).toBe(200)
    expect((await call('POST', '/v21.0/111/messages', template('nope'))).body.error.code).toBe(132001)
    await call('POST', '/__fake/templates', { name: 'promo', language: 'en_US', status: 'PAUSED' })
    expect((await call('POST', '/v21.0/111/messages', template('promo'))).body.error.code).toBe(132015)
  })

  it('gives the same ids for the same seed after a reset', async () => {
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '5' })
    const first = await call('POST', '/v21.0/111/messages', text('5'))
    await call('DELETE', '/__fake/state')
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '5' })
    const second = await call('POST', '/v21.0/111/messages', text('5'))
    expect(second.body.messages[0].id).toBe(first.body.messages[0].id)
  })
})

describe('fake Graph API: faults', () => {
  it.each([
    [130429, 429],
    [131056, 429],
    [131047, 400],
    [131026, 400],
    [190, 401],
  ])('answers an injected %i with HTTP %i once, then recovers', async (code, httpStatus) => {
    await call('POST', '/__fake/faults', { match: { path: '/messages' }, response: { code } })
    const faulted = await call('POST', '/v21.0/111/messages', text('7'))
    expect(faulted.status).toBe(httpStatus)
    expect(faulted.body.error.code).toBe(code)
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '7' })
    expect((await call('POST', '/v21.0/111/messages', text('7'))).status).toBe(200)
  })

  it('answers an injected 5xx for the given number of calls only and only for the matching recipient', async () => {
    await call('POST', '/__fake/faults', {
      match: { to: '8' },
      times: 2,
      response: { httpStatus: 503, code: 131016 },
    })
    expect((await call('POST', '/v21.0/111/messages', text('9'))).status).toBe(200)
    expect((await call('POST', '/v21.0/111/messages', text('8'))).status).toBe(503)
    expect((await call('POST', '/v21.0/111/messages', text('8'))).status).toBe(503)
    expect((await call('POST', '/v21.0/111/messages', text('8'))).status).toBe(200)
  })

  it('drops the connection after reading the request, records it, and still reports the message', async () => {
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '10' })
    receiver.received.length = 0
    await call('POST', '/__fake/faults', { dropConnectionAfterRequest: true })
    await expect(
      call('POST', '/v21.0/111/messages', text('10', { biz_opaque_callback_data: 'm-10' })),
    ).rejects.toThrow()
    const { body } = await call('GET', '/__fake/requests?path=/messages')
    expect(body.requests).toHaveLength(1)
    expect(body.requests[0]).toMatchObject({ dropped: true, callbackData: 'm-10', to: '10' })
    await eventually(() => receiver.statuses().length === 3)
    expect(receiver.statuses()[0]).toMatchObject({
      id: body.requests[0].wamid,
      biz_opaque_callback_data: 'm-10',
    })
  })

  it('delays the answer by latencyMs', async () => {
    await call('POST', '/__fake/faults', { latencyMs: 300 })
    const started = performance.now()
    await call('POST', '/v21.0/111/messages', text('11'))
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
  })

  it('reports an async failure as 200 then a failed status carrying the code', async () => {
    await call('POST', '/__fake/faults', { asyncFailure: { code: 131026 } })
    const res = await call('POST', '/v21.0/111/messages', text('12'))
    expect(res.status).toBe(200)
    const wamid = res.body.messages[0].id as string
    const mine = () => receiver.statuses().filter((s) => s.id === wamid)
    await eventually(() => mine().length === 1)
    expect(mine()[0]).toMatchObject({ status: 'failed', errors: [{ code: 131026 }] })
  })

  it('throttles organically per number (130429) and per pair (131056) when limits are set', async () => {
    await call('PUT', '/__fake/limits', { pairIntervalMs: 6000, pairBurst: 2 })
    const codes = []
    for (let i = 0; i < 3; i++)
      codes.push((await call('POST', '/v21.0/111/messages', text('13'))).body.error?.code)
    expect(codes).toEqual([undefined, undefined, 131056])
    await call('PUT', '/__fake/limits', { throughputMps: 1 })
    const numberCodes = []
    for (let i = 0; i < 2; i++)
      numberCodes.push((await call('POST', '/v21.0/222/messages', text(`x${i}`))).body.error?.code)
    expect(numberCodes).toEqual([undefined, 130429])
  })
})

describe('fake Graph API: webhooks', () => {
  it('retries our endpoint after a non-2xx answer', async () => {
    receiver.failFirst.push(500, 503)
    const res = await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '20', text: 'Grüße 👋' })
    expect(res.body.webhook).toMatchObject({ ok: false, status: 500 })
    await eventually(() => receiver.messages().length === 1)
    const message = receiver.messages()[0]
    expect(message).toMatchObject({
      id: res.body.wamid,
      from: '20',
      type: 'text',
      text: { body: 'Grüße 👋' },
    })
  })

  it('reorders, duplicates and skips delivered when configured', async () => {
    await call('PUT', '/__fake/webhooks', { reorder: true, duplicates: 1, skipDelivered: true })
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '21' })
    receiver.received.length = 0
    await call('POST', '/v21.0/111/messages', text('21'))
    await eventually(() => receiver.statuses().length === 4)
    expect(receiver.statuses().map((s) => s.status)).toEqual(['read', 'read', 'sent', 'sent'])
  })

  it('batches all statuses of a message in one POST', async () => {
    await call('PUT', '/__fake/webhooks', { batch: true })
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', from: '22' })
    receiver.received.length = 0
    await call('POST', '/v21.0/111/messages', text('22'))
    await eventually(() => receiver.received.length === 1)
    expect(receiver.statuses().map((s) => s.status)).toEqual(['sent', 'delivered', 'read'])
  })

  it('sends a BSUID-only inbound without wa_id', async () => {
    await call('POST', '/__fake/inbound', { phoneNumberId: '111', bsuid: 'US.1349', omitWaId: true })
    const value = receiver.received[0]!.body.entry[0]!.changes[0]!.value as Json
    expect(value.contacts[0]).toEqual({ profile: { name: 'Fake User' }, user_id: 'US.1349' })
    expect(value.messages[0].from).toBeUndefined()
  })

  it('emits message_template_status_update when a template changes status', async () => {
    await call('POST', '/__fake/templates', { name: 'order_update', language: 'de', status: 'PENDING' })
    await call('POST', '/__fake/templates/status', {
      name: 'order_update',
      language: 'de',
      status: 'approved',
    })
    const change = receiver.received[0]!.body.entry[0]!.changes[0]!
    expect(change.field).toBe('message_template_status_update')
    expect(change.value).toMatchObject({ event: 'APPROVED', message_template_name: 'order_update' })
  })
})

describe('fake Graph API: phone numbers and templates', () => {
  it('describes a phone number', async () => {
    await call('POST', '/__fake/phone-numbers', { phoneNumberId: '333', displayPhoneNumber: '15550001111' })
    const res = await call('GET', '/v21.0/333')
    expect(res.body).toMatchObject({
      id: '333',
      display_phone_number: '15550001111',
      quality_rating: 'GREEN',
    })
  })

  it('pages message_templates with cursors and a next link', async () => {
    for (const name of ['a', 'b', 'c'])
      await call('POST', '/__fake/templates', { wabaId: 'w1', name, language: 'en' })
    const first = await call('GET', '/v21.0/w1/message_templates?limit=2')
    expect(first.body.data.map((t: Json) => t.name)).toEqual(['a', 'b'])
    const next = new URL(first.body.paging.next)
    const second = await call('GET', `${next.pathname}${next.search}`)
    expect(second.body.data.map((t: Json) => t.name)).toEqual(['c'])
    expect(second.body.paging.next).toBeUndefined()
  })

  it('keeps the request log bounded', async () => {
    const small = await createFakeGraph({ maxRecorded: 3 })
    try {
      for (let i = 0; i < 5; i++)
        await request(`${small.url}/v21.0/1`, { headers: { authorization: 'Bearer t' } })
      expect(small.state.requests.list().map((r) => r.seq)).toEqual([3, 4, 5])
    } finally {
      await small.close()
    }
  })
})

describe('fake Graph API: ids across restarts', () => {
  /** A fresh fake (as after a restart of its process), without a fixed seed: its first sends' wamids. */
  async function wamidsOfAFreshFake(count: number): Promise<string[]> {
    const { app } = buildFakeGraph()
    try {
      const ids: string[] = []
      await app.inject({
        method: 'POST',
        url: '/__fake/inbound',
        payload: { phoneNumberId: '111', from: '5' },
      })
      for (let i = 0; i < count; i++) {
        const sent = await app.inject({
          method: 'POST',
          url: '/v21.0/111/messages',
          headers: { authorization: 'Bearer token' },
          payload: text('5'),
        })
        ids.push(sent.json().messages[0].id)
      }
      return ids
    } finally {
      await app.close()
    }
  }

  it('never repeats a wamid after a restart when no seed is fixed', async () => {
    const before = await wamidsOfAFreshFake(20)
    const after = await wamidsOfAFreshFake(20)
    expect(new Set([...before, ...after]).size).toBe(40)
  })

  it('repeats them with a fixed seed (FAKE_GRAPH_SEED), for replaying a run', async () => {
    const [one, two] = [buildFakeGraph({ seed: 'replay' }), buildFakeGraph({ seed: 'replay' })]
    try {
      expect(two.state.ids.next('wamid.')).toBe(one.state.ids.next('wamid.'))
    } finally {
      await Promise.all([one.app.close(), two.app.close()])
    }
  })
})
