import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { request as httpRequest } from 'undici'
import { messagesPayload, templateStatusPayload } from './payloads.js'
import type { FakeGraphState } from './state.js'

const InboundBody = Type.Object({
  phoneNumberId: Type.String({ minLength: 1 }),
  /** The user's phone number (wa_id); may be omitted when a bsuid is given. */
  from: Type.Optional(Type.String()),
  bsuid: Type.Optional(Type.String()),
  /** Leave wa_id/from out of the webhook (a user who hides their number behind a username). */
  omitWaId: Type.Optional(Type.Boolean()),
  type: Type.Optional(Type.String()),
  text: Type.Optional(Type.String()),
  profileName: Type.Optional(Type.String()),
  /** Meta's timestamp of the message (epoch ms); the fake clock's now when absent. */
  timestamp: Type.Optional(Type.Number()),
})

const FaultBody = Type.Object({
  match: Type.Optional(
    Type.Object({
      path: Type.Optional(Type.String()),
      method: Type.Optional(Type.String()),
      phoneNumberId: Type.Optional(Type.String()),
      to: Type.Optional(Type.String()),
    }),
  ),
  times: Type.Optional(Type.Integer({ minimum: 0 })),
  response: Type.Optional(
    Type.Object({
      httpStatus: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
      code: Type.Optional(Type.Integer()),
      subcode: Type.Optional(Type.Integer()),
      details: Type.Optional(Type.String()),
    }),
  ),
  asyncFailure: Type.Optional(Type.Object({ code: Type.Integer(), details: Type.Optional(Type.String()) })),
  latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 120_000 })),
  dropConnectionAfterRequest: Type.Optional(Type.Boolean()),
  accepted: Type.Optional(Type.Boolean()),
})

const ClockBody = Type.Object({
  now: Type.Optional(Type.Union([Type.String(), Type.Number()])),
  advanceMs: Type.Optional(Type.Number()),
})

const RequestsQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0 })),
  path: Type.Optional(Type.String()),
  phoneNumberId: Type.Optional(Type.String()),
})

const TemplateBody = Type.Object({
  wabaId: Type.Optional(Type.String()),
  name: Type.String({ minLength: 1 }),
  language: Type.String({ minLength: 1 }),
  category: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  components: Type.Optional(Type.Array(Type.Unknown())),
})

const TemplateStatusBody = Type.Object({
  wabaId: Type.Optional(Type.String()),
  name: Type.String(),
  language: Type.String(),
  status: Type.String({ minLength: 1 }),
  reason: Type.Optional(Type.String()),
})

const PhoneBody = Type.Object({
  phoneNumberId: Type.String({ minLength: 1 }),
  wabaId: Type.Optional(Type.String()),
  displayPhoneNumber: Type.Optional(Type.String()),
  verifiedName: Type.Optional(Type.String()),
  qualityRating: Type.Optional(Type.String()),
  throughputLevel: Type.Optional(Type.String()),
})

const WebhookConfigBody = Type.Object({
  url: Type.Optional(Type.String()),
  enabled: Type.Optional(Type.Boolean()),
  delaysMs: Type.Optional(
    Type.Object({
      sent: Type.Optional(Type.Integer({ minimum: 0 })),
      delivered: Type.Optional(Type.Integer({ minimum: 0 })),
      read: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  statuses: Type.Optional(
    Type.Array(Type.Union([Type.Literal('sent'), Type.Literal('delivered'), Type.Literal('read')])),
  ),
  reorder: Type.Optional(Type.Boolean()),
  duplicates: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  skipDelivered: Type.Optional(Type.Boolean()),
  batch: Type.Optional(Type.Boolean()),
})

const LimitsBody = Type.Object({
  throughputMps: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  pairIntervalMs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  pairBurst: Type.Optional(Type.Integer({ minimum: 1 })),
})

const VerifyBody = Type.Object({ verifyToken: Type.String(), url: Type.Optional(Type.String()) })
const IdParams = Type.Object({ id: Type.Integer() })

/** Test and operator controls under /__fake (never part of Meta's API). */
export const controlRoutes: FastifyPluginAsyncTypebox<{ state: FakeGraphState }> = async (app, options) => {
  const { state } = options
  const emitter = state.emitter

  app.post('/inbound', { schema: { body: InboundBody } }, async (request, reply) => {
    const body = request.body
    const user = body.from ?? body.bsuid
    if (!user) return reply.code(400).send({ error: 'from or bsuid is required' })
    const at = body.timestamp ?? state.clock.now()
    const wamid = state.ids.next('wamid.')
    const type = body.type ?? 'text'
    state.recordInbound(body.phoneNumberId, user, at)
    const payload = messagesPayload(
      state.phone(body.phoneNumberId),
      {
        ...(body.omitWaId || !body.from ? {} : { waId: body.from }),
        ...(body.bsuid ? { bsuid: body.bsuid } : {}),
        profileName: body.profileName ?? 'Fake User',
      },
      [
        {
          ...(body.omitWaId || !body.from ? {} : { from: body.from }),
          ...(body.bsuid ? { user_id: body.bsuid } : {}),
          id: wamid,
          timestamp: String(Math.floor(at / 1000)),
          type,
          ...(type === 'text' ? { text: { body: body.text ?? 'Hello' } } : {}),
        },
      ],
    )
    const webhook = await emitter.deliver(payload)
    return { wamid, webhook }
  })

  app.post('/faults', { schema: { body: FaultBody } }, async (request) => {
    return state.faults.add(request.body)
  })
  app.get('/faults', async () => ({ faults: state.faults.list() }))
  app.delete('/faults', async () => {
    state.faults.clear()
    return { ok: true }
  })
  app.delete('/faults/:id', { schema: { params: IdParams } }, async (request, reply) => {
    const removed = state.faults.remove(request.params.id)
    return removed ? { ok: true } : reply.code(404).send({ error: 'no such fault' })
  })

  app.get('/clock', async () => ({ now: new Date(state.clock.now()).toISOString() }))
  app.post('/clock', { schema: { body: ClockBody } }, async (request, reply) => {
    const body = request.body
    if (body.now !== undefined) {
      // Validation may have coerced an epoch number to a string of digits.
      const now =
        typeof body.now === 'number' || /^\d+$/.test(body.now) ? Number(body.now) : Date.parse(body.now)
      if (Number.isNaN(now)) return reply.code(400).send({ error: 'now must be an ISO date or epoch ms' })
      state.clock.set(now)
    }
    if (body.advanceMs !== undefined) state.clock.advance(body.advanceMs)
    return { now: new Date(state.clock.now()).toISOString() }
  })

  app.get('/requests', { schema: { querystring: RequestsQuery } }, async (request) => {
    const query = request.query
    return {
      requests: state.requests.list({
        ...(query.since === undefined ? {} : { sinceSeq: query.since }),
        ...(query.path === undefined ? {} : { path: query.path }),
        ...(query.phoneNumberId === undefined ? {} : { phoneNumberId: query.phoneNumberId }),
      }),
    }
  })
  app.delete('/requests', async () => {
    state.requests.clear()
    return { ok: true }
  })

  app.post('/templates', { schema: { body: TemplateBody } }, async (request) => {
    const { wabaId, ...template } = request.body
    return state.upsertTemplate(wabaId ?? state.options.defaultWabaId, template)
  })
  app.get('/templates', async () => ({ templates: state.listTemplates(state.options.defaultWabaId) }))
  /** Approve, reject, pause, disable…: changes the status and emits message_template_status_update. */
  app.post('/templates/status', { schema: { body: TemplateStatusBody } }, async (request, reply) => {
    const body = request.body
    const wabaId = body.wabaId ?? state.options.defaultWabaId
    const template = state.findTemplate(wabaId, body.name, body.language)
    if (!template) return reply.code(404).send({ error: 'no such template' })
    template.status = body.status.toUpperCase()
    if (body.reason) template.rejectedReason = body.reason
    const webhook = await emitter.deliver(
      templateStatusPayload(wabaId, template, template.status, body.reason ?? 'NONE'),
    )
    return { template, webhook }
  })

  app.post('/phone-numbers', { schema: { body: PhoneBody } }, async (request) =>
    state.registerPhone(request.body),
  )

  app.get('/webhooks', async () => ({
    url: emitter.url ?? null,
    ...state.statusWebhooks,
    delivered: emitter.delivered,
    failed: emitter.failed,
    dropped: emitter.dropped,
    pending: emitter.pending,
  }))
  app.put('/webhooks', { schema: { body: WebhookConfigBody } }, async (request) => {
    const { url, delaysMs, ...rest } = request.body
    if (url !== undefined) emitter.setUrl(url || undefined)
    state.statusWebhooks = {
      ...state.statusWebhooks,
      ...rest,
      delaysMs: { ...state.statusWebhooks.delaysMs, ...delaysMs },
    }
    return { url: emitter.url ?? null, ...state.statusWebhooks }
  })

  app.put('/limits', { schema: { body: LimitsBody } }, async (request) => {
    state.limits.configure(request.body)
    return { ok: true }
  })

  /** Performs Meta's GET verification handshake against the app and reports whether it echoed. */
  app.post('/verify-webhook', { schema: { body: VerifyBody } }, async (request, reply) => {
    const body = request.body
    const target = body.url ?? emitter.url
    if (!target) return reply.code(400).send({ error: 'no webhook url configured' })
    const challenge = randomBytes(8).toString('hex')
    const url = new URL(target)
    url.searchParams.set('hub.mode', 'subscribe')
    url.searchParams.set('hub.verify_token', body.verifyToken)
    url.searchParams.set('hub.challenge', challenge)
    const response = await httpRequest(url, { method: 'GET' })
    const text = await response.body.text()
    return { ok: response.statusCode === 200 && text === challenge, status: response.statusCode, challenge }
  })

  const reset = async () => {
    state.reset()
    return { ok: true }
  }
  app.delete('/state', reset)
  app.post('/reset', reset)
}
