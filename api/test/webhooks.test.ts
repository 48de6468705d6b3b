import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { applyPendingStatuses } from '../src/inbound/apply-status.js'
import { processInboundWebhook } from '../src/inbound/process-webhook.js'
import { inboundWebhookProcessor } from '../src/inbound/processor.js'
import { startWorkers } from '../src/worker-runtime.js'
import {
  signMetaBody,
  startTestEnvironment,
  TEST_SECRETS,
  type TestApp,
  type TestEnvironment,
} from './harness/index.js'
import { createPhoneNumber, envelope, messagesChange, statusesChange } from './meta-fixtures.js'

let env: TestEnvironment
let t: TestApp
let organizationId: string
let phoneNumberId: string
const log = pino({ level: 'silent' })
const options = { optOutKeywords: ['STOP', 'UNSUBSCRIBE'], log }

beforeAll(async () => {
  env = await startTestEnvironment()
})
afterAll(async () => {
  await env?.stop()
})
beforeEach(async () => {
  t = await env.startApp()
  const tenant = await t.createTenant()
  organizationId = tenant.organizationId
  phoneNumberId = (await createPhoneNumber(t.prisma, organizationId)).phoneNumberId
})
afterEach(async () => {
  await t.app.deps.inboundQueue.obliterate({ force: true })
  await t.close()
})

/** null sends no signature header at all. */
function post(body: string, signature: string | null = signMetaBody(body)) {
  return t.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    payload: body,
  })
}

/** Posts a signed body and processes the stored delivery like the worker does. */
async function deliver(payload: unknown) {
  const body = JSON.stringify(payload)
  const response = await post(body)
  expect(response.statusCode).toBe(200)
  const rows = await t.prisma.inboundWebhook.findMany({ where: { processedAt: null } })
  for (const row of rows) await processInboundWebhook(t.prisma, row.id, options)
  return response
}

describe('GET /webhooks/whatsapp (handshake)', () => {
  const url = (query: Record<string, string>) => `/webhooks/whatsapp?${new URLSearchParams(query)}`

  it('echoes the raw challenge as text/plain when mode and token match', async () => {
    const response = await t.app.inject({
      method: 'GET',
      url: url({
        'hub.mode': 'subscribe',
        'hub.verify_token': 'test-meta-verify-token',
        'hub.challenge': '1158201444',
      }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.body).toBe('1158201444')
    expect(response.headers['content-type']).toMatch(/^text\/plain/)
  })

  it.each<Record<string, string>>([
    { 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong-token', 'hub.challenge': 'c' },
    { 'hub.mode': 'unsubscribe', 'hub.verify_token': 'test-meta-verify-token', 'hub.challenge': 'c' },
    { 'hub.mode': 'subscribe', 'hub.challenge': 'c' },
    { 'hub.mode': 'subscribe', 'hub.verify_token': 'test-meta-verify-token' },
    {},
  ])('answers 403 to %o', async (query) => {
    const response = await t.app.inject({ method: 'GET', url: url(query) })
    expect(response.statusCode).toBe(403)
    expect(response.body).not.toContain('c"')
  })
})

describe('POST /webhooks/whatsapp (signature)', () => {
  const body = JSON.stringify(
    envelope([
      { changes: [messagesChange('pn-x', [{ wamid: 'wamid.S1', from: '1', body: 'hi', timestamp: 1 }])] },
    ]),
  )

  it('accepts a valid signature, stores the delivery and queues it', async () => {
    const response = await post(body)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'queued' })
    const rows = await t.prisma.inboundWebhook.findMany()
    expect(rows).toHaveLength(1)
    const job = await t.app.deps.inboundQueue.getJob(rows[0]!.id)
    expect(job?.data).toEqual({ inboundWebhookId: rows[0]!.id })
  })

  it.each([
    ['missing', null],
    ['wrong', signMetaBody(body, 'another-secret')],
    ['without sha256= prefix', signMetaBody(body).slice('sha256='.length)],
    ['with another algorithm', signMetaBody(body).replace('sha256=', 'sha1=')],
    ['non-hex', `sha256=${'z'.repeat(64)}`],
    ['too short', signMetaBody(body).slice(0, 40)],
    ['too long', `${signMetaBody(body)}00`],
    ['empty', ''],
  ])('rejects a %s signature with 401 and stores nothing', async (_name, signature) => {
    const response = await post(body, signature)
    expect(response.statusCode).toBe(401)
    expect(response.json().error.code).toBe('UNAUTHORIZED')
    expect(await t.prisma.inboundWebhook.count()).toBe(0)
    expect(await t.app.deps.inboundQueue.count()).toBe(0)
  })

  it('accepts a signature made with either app secret while a rotation is under way', async () => {
    const rotating = await env.startApp({
      metaAppSecret: 'the-new-app-secret',
      metaAppSecretPrevious: TEST_SECRETS.metaAppSecret,
    })
    const send = (payload: string, secret: string) =>
      rotating.app.inject({
        method: 'POST',
        url: '/webhooks/whatsapp',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(payload, secret) },
        payload,
      })
    const bodies = [1, 2, 3].map((n) => body.replace('wamid.S1', `wamid.R${n}`))
    expect((await send(bodies[0]!, 'the-new-app-secret')).statusCode).toBe(200)
    expect((await send(bodies[1]!, TEST_SECRETS.metaAppSecret)).statusCode).toBe(200)
    expect((await send(bodies[2]!, 'neither-of-the-two')).statusCode).toBe(401)
    expect(await rotating.prisma.inboundWebhook.count()).toBe(2)
    await rotating.app.deps.inboundQueue.obliterate({ force: true })
    await rotating.close()
    // Without the previous secret (the rotation over), the old one is refused.
    expect((await post(bodies[0]!, signMetaBody(bodies[0]!, 'the-new-app-secret'))).statusCode).toBe(401)
  })

  it('verifies the raw bytes of a body with \\u-escaped non-ASCII text, as Meta sends it', async () => {
    // Meta escapes non-ASCII: "café 😀" arrives as caf\u00e9 \ud83d\ude00.
    const raw = `{"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"${phoneNumberId}"},"contacts":[{"profile":{"name":"Jos\\u00e9"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.U1","timestamp":"1749416383","type":"text","text":{"body":"caf\\u00e9 \\ud83d\\ude00"}}]}}]}]}`
    expect(raw).toContain('\\u00e9')
    const reserialised = JSON.stringify(JSON.parse(raw))
    expect(reserialised).not.toBe(raw)

    const rejected = await post(raw, signMetaBody(reserialised))
    expect(rejected.statusCode).toBe(401)
    expect(await t.prisma.inboundWebhook.count()).toBe(0)

    const accepted = await post(raw, signMetaBody(raw))
    expect(accepted.statusCode).toBe(200)
    const row = (await t.prisma.inboundWebhook.findFirstOrThrow())!
    await processInboundWebhook(t.prisma, row.id, options)
    const message = await t.prisma.message.findUniqueOrThrow({ where: { wamid: 'wamid.U1' } })
    expect(message.content).toEqual({ type: 'text', text: { body: 'café 😀' } })
    const contact = await t.prisma.contact.findFirstOrThrow({ where: { waId: '16505551234' } })
    expect(contact.profileName).toBe('José')
  })

  it('answers 400 to a signed body that is not JSON', async () => {
    const response = await post('not json', signMetaBody('not json'))
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_ERROR')
  })

  it('accepts bodies up to 3 MB and refuses larger ones', async () => {
    const filler = 'x'.repeat(2.5 * 1024 * 1024)
    const big = JSON.stringify({ object: 'whatsapp_business_account', entry: [], filler })
    expect((await post(big)).statusCode).toBe(200)
    const huge = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [],
      filler: `${filler}${filler}`,
    })
    expect((await post(huge)).statusCode).toBe(413)
  })

  it('stores concurrent deliveries once per distinct body, each queued once', async () => {
    const bodies = Array.from({ length: 12 }, (_, i) =>
      JSON.stringify(
        envelope([
          {
            changes: [
              messagesChange('pn-y', [{ wamid: `wamid.K${i % 4}`, from: '1', body: 'x', timestamp: i % 4 }]),
            ],
          },
        ]),
      ),
    )
    const responses = await Promise.all(bodies.map((b) => post(b)))
    expect(responses.map((r) => r.statusCode)).toEqual(Array(12).fill(200))
    const outcomes = responses.map((r) => r.json().status)
    expect(outcomes.filter((o) => o === 'queued')).toHaveLength(4)
    expect(await t.prisma.inboundWebhook.count()).toBe(4)
    const rows = await t.prisma.inboundWebhook.findMany()
    for (const row of rows) expect(await t.app.deps.inboundQueue.getJob(row.id)).toBeDefined()
    expect(await t.app.deps.inboundQueue.count()).toBe(4)
  })

  it('stores an exact retry once', async () => {
    expect((await post(body)).json()).toEqual({ status: 'queued' })
    expect((await post(body)).json()).toEqual({ status: 'duplicate' })
    expect(await t.prisma.inboundWebhook.count()).toBe(1)
  })
})

describe('POST /webhooks/whatsapp (poison input)', () => {
  const delivery = (wamid: string, text: string) =>
    JSON.stringify(
      envelope([{ changes: [messagesChange('pn-p', [{ wamid, from: '1', body: text, timestamp: 1 }])] }]),
    )

  it.each([
    ['a \\u0000 escape', '\\u0000'],
    ['a lone surrogate', '\\ud800'],
  ])(
    'quarantines a signed body with %s once and loses none of the valid bodies beside it',
    async (_, sequence) => {
      // JSON.stringify would escape the backslash: the escape must reach PostgreSQL's jsonb as written.
      const poison = delivery('wamid.POISON', 'before-after').replace(
        'before-after',
        `before${sequence}after`,
      )
      expect(() => JSON.parse(poison)).not.toThrow()
      for (let round = 0; round < 5; round++) {
        const valid = Array.from({ length: 30 }, (_, i) => delivery(`wamid.R${round}.${i}`, `ok ${i}`))
        const bodies = [...valid.slice(0, 15), poison, ...valid.slice(15)]
        const responses = await Promise.all(bodies.map((b) => post(b)))
        expect(responses.map((r) => r.statusCode)).toEqual(Array(31).fill(200))
        expect(responses[15]!.json()).toEqual({ status: 'quarantined' })
        expect(responses.filter((r) => r.json().status === 'queued')).toHaveLength(30)
      }
      expect(await t.prisma.inboundWebhook.count()).toBe(150)
      expect(await t.app.deps.inboundQueue.count()).toBe(150)
      const quarantined = await t.prisma.quarantinedWebhook.findMany()
      expect(quarantined).toHaveLength(1)
      expect(Buffer.from(quarantined[0]!.raw).toString('utf8')).toBe(poison)
      expect(quarantined[0]!.reason).toMatch(/^22/)
    },
  )

  it('answers a lone poison body 200 and quarantines it', async () => {
    const poison = delivery('wamid.LONE', 'x').replace('"x"', '"\\u0000"')
    expect((await post(poison)).json()).toEqual({ status: 'quarantined' })
    expect((await post(poison)).json()).toEqual({ status: 'quarantined' })
    expect(await t.prisma.quarantinedWebhook.count()).toBe(1)
    expect(await t.prisma.inboundWebhook.count()).toBe(0)
  })

  it('refuses a signed body nested 20,000 levels with 400 JSON_TOO_DEEP before storing anything', async () => {
    const deep = `{"object":"whatsapp_business_account","entry":${'['.repeat(20_000)}${']'.repeat(20_000)}}`
    const response = await post(deep)
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('JSON_TOO_DEEP')
    expect(await t.prisma.inboundWebhook.count()).toBe(0)
    expect(await t.prisma.quarantinedWebhook.count()).toBe(0)
    // Brackets inside strings are text, not nesting.
    const brackets = JSON.stringify(
      envelope([
        {
          changes: [
            messagesChange('pn-p', [{ wamid: 'wamid.B', from: '1', body: '['.repeat(500), timestamp: 1 }]),
          ],
        },
      ]),
    )
    expect((await post(brackets)).json()).toEqual({ status: 'queued' })
  })
})

describe('inbound processing', () => {
  it('stores every message of a batch: 2 entries x 2 changes x 3 messages = 12 rows', async () => {
    let n = 0
    const change = () =>
      messagesChange(
        phoneNumberId,
        [0, 1, 2].map(() => {
          n += 1
          return {
            wamid: `wamid.B${n}`,
            from: `1650555${1000 + (n % 4)}`,
            body: `m${n}`,
            timestamp: 1_700_000_000 + n,
          }
        }),
      )
    await deliver(envelope([{ changes: [change(), change()] }, { changes: [change(), change()] }]))
    expect(await t.prisma.message.count({ where: { direction: 'INBOUND', status: 'RECEIVED' } })).toBe(12)
    expect(await t.prisma.contact.count()).toBe(4)
    expect(await t.prisma.conversation.count()).toBe(4)
    expect(await t.prisma.domainEvent.count({ where: { type: 'message.received' } })).toBe(12)
  })

  it('warns when an inbound wamid is already stored for another direction or phone number, never for a retry', async () => {
    const warnings: { wamid?: string; message: string }[] = []
    const capture = pino(
      { level: 'warn' },
      {
        write(line: string) {
          const entry = JSON.parse(line)
          warnings.push({ wamid: entry.wamid, message: entry.msg })
        },
      },
    )
    const inbound = (wamid: string, phone: string) =>
      envelope([
        { changes: [messagesChange(phone, [{ wamid, from: '7', body: 'hi', timestamp: 1_700_000_000 }])] },
      ])
    const process = async (payload: unknown) => {
      expect((await post(JSON.stringify(payload))).statusCode).toBe(200)
      for (const row of await t.prisma.inboundWebhook.findMany({ where: { processedAt: null } }))
        await processInboundWebhook(t.prisma, row.id, { ...options, log: capture })
    }
    // An outbound message the sender stored with the wamid Meta answered.
    await process(inbound('wamid.C0', phoneNumberId))
    const conversation = await t.prisma.conversation.findFirstOrThrow()
    const phone = await t.prisma.phoneNumber.findFirstOrThrow({ where: { phoneNumberId } })
    await t.prisma.message.create({
      data: {
        organizationId,
        conversationId: conversation.id,
        phoneNumberId: phone.id,
        direction: 'OUTBOUND',
        type: 'text',
        content: { type: 'text', text: { body: 'sent' } },
        wamid: 'wamid.C1',
        status: 'SENT',
      },
    })
    const other = await createPhoneNumber(t.prisma, organizationId)

    await process(inbound('wamid.C0', phoneNumberId)) // Meta's retry: a duplicate, silent
    expect(warnings).toEqual([])
    await process(inbound('wamid.C1', phoneNumberId)) // another direction
    await process(inbound('wamid.C0', other.phoneNumberId)) // another phone number
    expect(warnings.map((w) => w.wamid)).toEqual(['wamid.C1', 'wamid.C0'])
    expect(warnings[0]?.message).toMatch(/another direction or phone number/)
    expect(await t.prisma.message.count({ where: { direction: 'INBOUND' } })).toBe(1)
  })

  it('stores a message once when delivered twice, and twice concurrently by two workers', async () => {
    const payload = envelope([
      {
        changes: [
          messagesChange(phoneNumberId, [
            { wamid: 'wamid.D1', from: '1', body: 'hi', timestamp: 1_700_000_000 },
          ]),
        ],
      },
    ])
    await deliver(payload)
    // Days later Meta retries with a body that differs in bytes (so body dedup does not catch it).
    const retried = JSON.stringify(payload, null, 1)
    expect((await post(retried)).statusCode).toBe(200)
    const again = await t.prisma.inboundWebhook.findFirstOrThrow({ where: { processedAt: null } })
    await processInboundWebhook(t.prisma, again.id, options)

    // Concurrent: distinct deliveries of one message processed at the same moment.
    const concurrent = envelope([
      {
        changes: [
          messagesChange(phoneNumberId, [
            { wamid: 'wamid.D2', from: '2', body: 'yo', timestamp: 1_700_000_001 },
          ]),
        ],
      },
    ])
    for (let i = 0; i < 6; i++) expect((await post(JSON.stringify(concurrent, null, i))).statusCode).toBe(200)
    const rows = await t.prisma.inboundWebhook.findMany({ where: { processedAt: null } })
    expect(rows).toHaveLength(6)
    await Promise.all(rows.map((row) => processInboundWebhook(t.prisma, row.id, options)))

    for (const wamid of ['wamid.D1', 'wamid.D2']) {
      expect(await t.prisma.message.count({ where: { wamid } })).toBe(1)
      const events = await t.prisma.domainEvent.findMany({ where: { type: 'message.received' } })
      expect(events.filter((e) => (e.data as { wamid: string }).wamid === wamid)).toHaveLength(1)
    }
    expect(await t.prisma.contact.count()).toBe(2)
  })

  it('moves lastInboundAt to the newest Meta timestamp and never backwards', async () => {
    const newer = 1_700_000_500
    await deliver(
      envelope([
        {
          changes: [
            messagesChange(phoneNumberId, [{ wamid: 'wamid.L2', from: '7', body: 'b', timestamp: newer }]),
          ],
        },
      ]),
    )
    await deliver(
      envelope([
        {
          changes: [
            messagesChange(phoneNumberId, [
              { wamid: 'wamid.L1', from: '7', body: 'a', timestamp: newer - 300 },
            ]),
          ],
        },
      ]),
    )
    const conversation = await t.prisma.conversation.findFirstOrThrow()
    expect(conversation.lastInboundAt?.getTime()).toBe(newer * 1000)
    await deliver(
      envelope([
        {
          changes: [
            messagesChange(phoneNumberId, [
              { wamid: 'wamid.L3', from: '7', body: 'c', timestamp: newer + 60 },
            ]),
          ],
        },
      ]),
    )
    const moved = await t.prisma.conversation.findFirstOrThrow()
    expect(moved.lastInboundAt?.getTime()).toBe((newer + 60) * 1000)
  })

  it('stores a message from a user known only by a business-scoped user id (no wa_id)', async () => {
    const change = {
      field: 'messages',
      value: {
        messaging_product: 'whatsapp',
        metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
        contacts: [{ profile: { name: 'Hidden' }, user_id: 'US.13491208655302741918' }],
        messages: [
          {
            from_user_id: 'US.13491208655302741918',
            id: 'wamid.BS1',
            timestamp: '1700000000',
            type: 'text',
            text: { body: 'hi' },
          },
        ],
      },
    }
    await deliver(envelope([{ changes: [change] }]))
    await deliver(
      envelope([
        {
          changes: [
            {
              ...change,
              value: { ...change.value, messages: [{ ...change.value.messages[0], id: 'wamid.BS2' }] },
            },
          ],
        },
      ]),
    )
    const contacts = await t.prisma.contact.findMany()
    expect(contacts).toHaveLength(1)
    expect(contacts[0]).toMatchObject({ waId: null, bsuid: 'US.13491208655302741918', profileName: 'Hidden' })
    expect(await t.prisma.message.count({ where: { conversation: { contactId: contacts[0]!.id } } })).toBe(2)
  })

  it('opts a contact out on STOP', async () => {
    await deliver(
      envelope([
        {
          changes: [
            messagesChange(phoneNumberId, [
              { wamid: 'wamid.O1', from: '9', body: ' stop ', timestamp: 1_700_000_000 },
            ]),
          ],
        },
      ]),
    )
    const contact = await t.prisma.contact.findFirstOrThrow({ where: { waId: '9' } })
    expect(contact.optedOutAt).not.toBeNull()
    expect(contact.optOutSource).toBe('keyword')
  })

  it('answers 200 for an unknown phone_number_id and stores no tenant data', async () => {
    await deliver(
      envelope([
        {
          changes: [
            messagesChange('unknown-number', [{ wamid: 'wamid.X1', from: '1', body: 'hi', timestamp: 1 }]),
          ],
        },
      ]),
    )
    expect(await t.prisma.message.count()).toBe(0)
    expect(await t.prisma.contact.count()).toBe(0)
    expect(await t.prisma.domainEvent.count()).toBe(0)
    expect(await t.prisma.inboundWebhook.count({ where: { processedAt: { not: null } } })).toBe(1)
  })

  it('is processed end to end by a running worker', async () => {
    const running = await startWorkers(t.config, [inboundWebhookProcessor])
    try {
      await post(
        JSON.stringify(
          envelope([
            {
              changes: [
                messagesChange(phoneNumberId, [{ wamid: 'wamid.W1', from: '5', body: 'hi', timestamp: 1 }]),
              ],
            },
          ]),
        ),
      )
      let stored = 0
      for (let i = 0; i < 200 && stored === 0; i++) {
        stored = await t.prisma.message.count({ where: { wamid: 'wamid.W1' } })
        if (stored === 0) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(stored).toBe(1)
    } finally {
      await running.close()
    }
  })
})

describe('status processing', () => {
  async function outboundMessage(wamid: string | null) {
    const contact = await t.prisma.contact.create({ data: { organizationId, waId: `c-${Math.random()}` } })
    const phone = await t.prisma.phoneNumber.findUniqueOrThrow({ where: { phoneNumberId } })
    const conversation = await t.prisma.conversation.create({
      data: { organizationId, phoneNumberId: phone.id, contactId: contact.id },
    })
    return t.prisma.message.create({
      data: {
        organizationId,
        conversationId: conversation.id,
        phoneNumberId: phone.id,
        direction: 'OUTBOUND',
        type: 'text',
        content: { text: { body: 'hello' } },
        status: 'SENDING',
        wamid,
      },
    })
  }
  const statusEvents = async (messageId: string) =>
    (
      await t.prisma.domainEvent.findMany({
        where: { type: 'message.status' },
        orderBy: { createdAt: 'asc' },
      })
    ).filter((e) => (e.data as { messageId: string }).messageId === messageId)

  it('applies read before delivered as read, fills deliveredAt, and emits only real changes', async () => {
    const message = await outboundMessage('wamid.R1')
    await deliver(
      envelope([
        { changes: [statusesChange(phoneNumberId, [{ wamid: 'wamid.R1', status: 'sent', timestamp: 100 }])] },
      ]),
    )
    await deliver(
      envelope([
        { changes: [statusesChange(phoneNumberId, [{ wamid: 'wamid.R1', status: 'read', timestamp: 300 }])] },
      ]),
    )
    await deliver(
      envelope([
        {
          changes: [
            statusesChange(phoneNumberId, [{ wamid: 'wamid.R1', status: 'delivered', timestamp: 200 }]),
          ],
        },
      ]),
    )
    await deliver(
      envelope([
        {
          changes: [
            statusesChange(phoneNumberId, [
              { wamid: 'wamid.R1', status: 'read', timestamp: 300 },
              { wamid: 'wamid.R1', status: 'failed', timestamp: 400, errorCode: 131026 },
            ]),
          ],
        },
      ]),
    )
    const stored = await t.prisma.message.findUniqueOrThrow({ where: { id: message.id } })
    expect(stored.status).toBe('READ')
    expect(stored.readAt?.getTime()).toBe(300_000)
    expect(stored.deliveredAt?.getTime()).toBe(300_000)
    expect(stored.sentAt?.getTime()).toBe(100_000)
    const events = await statusEvents(message.id)
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(['sent', 'read'])
    expect(await t.prisma.messageStatusEvent.count({ where: { wamid: 'wamid.R1' } })).toBe(4)
  })

  it('keeps a status that arrives before the message and applies it once the wamid is stored', async () => {
    await deliver(
      envelope([
        {
          changes: [
            statusesChange(phoneNumberId, [
              { wamid: 'wamid.P1', status: 'delivered', timestamp: 200 },
              { wamid: 'wamid.P1', status: 'sent', timestamp: 100 },
            ]),
          ],
        },
      ]),
    )
    const pending = await t.prisma.messageStatusEvent.findMany({
      where: { wamid: 'wamid.P1', appliedAt: null },
    })
    expect(pending).toHaveLength(2)
    const message = await outboundMessage(null)
    await t.prisma.message.update({ where: { id: message.id }, data: { wamid: 'wamid.P1', status: 'SENT' } })
    expect(await applyPendingStatuses(t.prisma, 'wamid.P1')).toBe(1)
    const stored = await t.prisma.message.findUniqueOrThrow({ where: { id: message.id } })
    expect(stored.status).toBe('DELIVERED')
    expect(stored.deliveredAt?.getTime()).toBe(200_000)
    expect(await t.prisma.messageStatusEvent.count({ where: { wamid: 'wamid.P1', appliedAt: null } })).toBe(0)
    expect(await applyPendingStatuses(t.prisma, 'wamid.P1')).toBe(0)
  })

  it('records failed with the Meta error and opts the contact out on 131050', async () => {
    const message = await outboundMessage('wamid.F1')
    await deliver(
      envelope([
        {
          changes: [
            statusesChange(phoneNumberId, [
              { wamid: 'wamid.F1', status: 'failed', timestamp: 100, errorCode: 131050 },
            ]),
          ],
        },
      ]),
    )
    const stored = await t.prisma.message.findUniqueOrThrow({
      where: { id: message.id },
      include: { conversation: { include: { contact: true } } },
    })
    expect(stored).toMatchObject({ status: 'FAILED', errorCode: 131050, errorTitle: 'error title' })
    expect(stored.conversation.contact.optOutSource).toBe('meta_131050')
  })
})
